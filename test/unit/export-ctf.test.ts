import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctfFieldNames, writeCtf } from '../../src/export/ctf.js';
import type { LogEntry } from '../../src/log/event-log.js';
import { EventLog } from '../../src/log/event-log.js';
import { defineEvent, type EventDescriptor, type FieldType } from '../../src/log/event-schema.js';
import { writeDump } from '../../src/log/sinks.js';
import { testSeed } from '../seed.js';

const root = mkdtempSync(join(tmpdir(), 'ringtrace-ctf-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `trace-${dirs++}`);

interface CtfEvent {
  readonly stream: string;
  readonly cpuId: number;
  readonly name: string;
  readonly timestamp: bigint;
  readonly fields: Record<string, unknown>;
}

interface CtfPacket {
  readonly stream: string;
  readonly begin: bigint;
  readonly end: bigint;
  readonly discarded: bigint;
  readonly events: number;
}

/** A TSDL type as the metadata declares it: an integer, a floating point, or a string. */
type TsdlType =
  | { readonly kind: 'integer'; readonly bits: number; readonly alignBits: number; readonly signed: boolean }
  | { readonly kind: 'float'; readonly expDig: number; readonly mantDig: number; readonly alignBits: number }
  | { readonly kind: 'string' };

interface TsdlMember {
  readonly type: TsdlType;
  readonly name: string;
  /** Array length, or undefined for a scalar. */
  readonly length: number | undefined;
}

/** The `typealias ... := name;` declarations of the metadata, by name. */
function tsdlTypes(metadata: string): Map<string, TsdlType> {
  const types = new Map<string, TsdlType>([['string', { kind: 'string' }]]);
  const attr = (body: string, key: string): string | undefined => new RegExp(`\\b${key} = ([^;]+);`).exec(body)?.[1]?.trim();
  for (const m of metadata.matchAll(/typealias (integer|floating_point) \{([^}]*)\} := (\w+);/g)) {
    const body = m[2]!;
    const alignBits = Number(attr(body, 'align') ?? '1');
    if (m[1] === 'integer') {
      types.set(m[3]!, { kind: 'integer', bits: Number(attr(body, 'size')), alignBits, signed: attr(body, 'signed') === 'true' });
    } else {
      types.set(m[3]!, { kind: 'float', expDig: Number(attr(body, 'exp_dig')), mantDig: Number(attr(body, 'mant_dig')), alignBits });
    }
  }
  return types;
}

/** The members of a `struct { ... }` body, each resolved against the declared types. */
function tsdlStruct(body: string, types: ReadonlyMap<string, TsdlType>): TsdlMember[] {
  return [...body.matchAll(/^\s*(\w+) (\w+)(?:\[(\d+)\])?;$/gm)].map((f) => {
    const type = types.get(f[1]!);
    if (type === undefined) throw new Error(`metadata uses an undeclared type ${f[1]}`);
    return { type, name: f[2]!, length: f[3] === undefined ? undefined : Number(f[3]) };
  });
}

/** Reads one value of a declared type at `at` of a packet starting at `base`; returns it and where it ends. */
function readValue(b: Buffer, base: number, at: number, type: TsdlType): [unknown, number] {
  if (type.kind === 'string') {
    const nul = b.indexOf(0, at);
    return [b.subarray(at, nul).toString('utf8'), nul + 1];
  }
  // Every alignment here is whole bytes, counted from the packet's start.
  expect(type.alignBits % 8).toBe(0);
  const align = type.alignBits / 8;
  const p = base + Math.ceil((at - base) / align) * align;
  if (type.kind === 'float') {
    if (type.expDig === 11 && type.mantDig === 53) return [b.readDoubleLE(p), p + 8];
    if (type.expDig === 8 && type.mantDig === 24) return [b.readFloatLE(p), p + 4];
    throw new Error(`floating point ${type.expDig}/${type.mantDig} is not IEEE 754 binary32/64`);
  }
  switch (type.bits) {
    case 8: return [type.signed ? b.readInt8(p) : b.readUInt8(p), p + 1];
    case 16: return [type.signed ? b.readInt16LE(p) : b.readUInt16LE(p), p + 2];
    case 32: return [type.signed ? b.readInt32LE(p) : b.readUInt32LE(p), p + 4];
    case 64: return [type.signed ? b.readBigInt64LE(p) : b.readBigUInt64LE(p), p + 8];
    default: throw new Error(`integer of ${type.bits} bits`);
  }
}

/** Reads a struct's members in order; an array of bytes comes back as a Buffer. */
function readStruct(b: Buffer, base: number, at: number, members: readonly TsdlMember[]): [Record<string, unknown>, number] {
  const out: Record<string, unknown> = {};
  let p = at;
  for (const m of members) {
    if (m.length === undefined) {
      [out[m.name], p] = readValue(b, base, p, m.type);
      continue;
    }
    const items: unknown[] = [];
    for (let i = 0; i < m.length; i++) {
      let v: unknown;
      [v, p] = readValue(b, base, p, m.type);
      items.push(v);
    }
    out[m.name] = Buffer.from(items as number[]);
  }
  return [out, p];
}

/**
 * A reader of what this test needs of CTF 1.8, driven by the metadata text: the byte order,
 * the type aliases (widths, signedness, alignment), the packet header, packet context and
 * event header structs, and each event class's fields. It reads the stream files against
 * those declarations, not against the writer's code: a wrong declaration misreads them.
 */
function readCtf(dir: string): { events: CtfEvent[]; packets: CtfPacket[] } {
  const metadata = readFileSync(join(dir, 'metadata'), 'utf8');
  expect(metadata.startsWith('/* CTF 1.8 */')).toBe(true);
  expect(metadata).toMatch(/byte_order = le;/);
  const uuid = /trace \{[^]*?uuid = "([0-9a-f-]{36})";/.exec(metadata)![1]!.replaceAll('-', '');
  const types = tsdlTypes(metadata);
  const struct = (re: RegExp): TsdlMember[] => tsdlStruct(re.exec(metadata)![1]!, types);
  const packetHeader = struct(/trace \{[^]*?packet\.header := struct \{([^}]*)\};/);
  const packetContext = struct(/stream \{[^]*?packet\.context := struct \{([^}]*)\};/);
  const eventHeader = struct(/stream \{[^]*?event\.header := struct \{([^}]*)\};/);
  const classes = new Map<number, { name: string; fields: TsdlMember[] }>();
  for (const m of metadata.matchAll(/event \{\s*name = ("(?:[^"\\]|\\.)*");\s*id = (\d+);\s*stream_id = 0;\s*fields := struct \{([^}]*)\};\s*\};/g)) {
    classes.set(Number(m[2]), { name: unescapeTsdl(m[1]!), fields: tsdlStruct(m[3]!, types) });
  }
  const events: CtfEvent[] = [];
  const packets: CtfPacket[] = [];
  for (const stream of readdirSync(dir).filter((f) => f !== 'metadata').sort()) {
    const b = readFileSync(join(dir, stream));
    for (let at = 0; at < b.length; ) {
      const [header, afterHeader] = readStruct(b, at, at, packetHeader);
      expect(header['magic']).toBe(0xc1fc1fc1);
      expect((header['uuid'] as Buffer).toString('hex')).toBe(uuid);
      expect(header['stream_id']).toBe(0);
      const [context, afterContext] = readStruct(b, at, afterHeader, packetContext);
      const begin = context['timestamp_begin'] as bigint;
      const end = context['timestamp_end'] as bigint;
      const contentBits = Number(context['content_size']);
      const packetBits = Number(context['packet_size']);
      const discarded = context['events_discarded'] as bigint;
      const cpuId = context['cpu_id'] as number;
      expect(contentBits % 8).toBe(0);
      expect(packetBits).toBeGreaterThanOrEqual(contentBits);
      const stop = at + contentBits / 8;
      let p = afterContext;
      let count = 0;
      let last = begin;
      while (p < stop) {
        let eh: Record<string, unknown>;
        [eh, p] = readStruct(b, at, p, eventHeader);
        const c = classes.get(eh['id'] as number)!;
        expect(c).toBeDefined();
        const timestamp = eh['timestamp'] as bigint;
        expect(timestamp >= last && timestamp <= end).toBe(true);
        last = timestamp;
        let fields: Record<string, unknown>;
        [fields, p] = readStruct(b, at, p, c.fields);
        // Readers strip one leading `_` from a field name.
        const named: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(fields)) named[k.slice(1)] = v;
        events.push({ stream, cpuId, name: c.name, timestamp, fields: named });
        count++;
      }
      expect(p).toBe(stop); // the content size covers the events exactly
      packets.push({ stream, begin, end, discarded, events: count });
      at += packetBits / 8;
    }
  }
  return { events, packets };
}

/** A TSDL string literal's text: C escapes (\\" \\\\ \\n \\t and octal). */
function unescapeTsdl(literal: string): string {
  return literal.slice(1, -1).replace(/\\([0-7]{3}|.)/g, (_m, e: string) =>
    e.length === 3 ? String.fromCharCode(parseInt(e, 8)) : e === 'n' ? '\n' : e === 't' ? '\t' : e,
  );
}

/** What a CTF reader should show for an entry, by the module's documented mapping. */
function expected(e: LogEntry, schemas: ReadonlyMap<string, EventDescriptor>): { name: string; cpuId: number; fields: Record<string, unknown> } {
  const cpuId = e.slot < 0 ? 0xffffffff : e.slot;
  if (e.kind === 'lost') return { name: 'ringtrace_lost', cpuId, fields: { count: BigInt(e.count), cause: e.cause, before_index: BigInt(e.beforeIndex) } };
  if (e.kind === 'corrupt') return { name: 'ringtrace_corrupt', cpuId, fields: { reason: e.reason.replaceAll('\0', '\ufffd') } };
  const fields: Record<string, unknown> = {};
  const spec = Object.entries(schemas.get(e.name)!.fields as Record<string, FieldType>);
  const names = ctfFieldNames(spec.map(([name]) => name));
  spec.forEach(([name, type], i) => {
    const v = e.values[name];
    fields[names[i]!] = type === 'bool' ? (v === true ? 1 : 0) : type === 'string' ? (v as string).replaceAll('\0', '\ufffd') : v;
  });
  return { name: e.name, cpuId, fields };
}

const FIELD_NAMES = ['a', 'b', 'n', 'struct', 'event', 'string', '$x', '_x', 'x', 'a$', 'a_', 'a__2', 'value_2', 'id', 'timestamp'];
const valueOf: Record<FieldType, fc.Arbitrary<unknown>> = {
  u8: fc.integer({ min: 0, max: 255 }),
  u16: fc.integer({ min: 0, max: 0xffff }),
  u32: fc.integer({ min: 0, max: 0xffffffff }),
  i32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  f64: fc.double({ noNaN: true }),
  u64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  bool: fc.boolean(),
  string: fc.string({ unit: 'binary', maxLength: 20 }),
};
const TYPES = Object.keys(valueOf) as FieldType[];

describe('CTF export', () => {
  it('round-trips random schemas, names, values, slots, losses and damage through a reader driven by the metadata', () => {
    const seed = testSeed('export-ctf');
    const EVENT_NAMES = ['req', 'with "quote"', 'back\\slash', 'new\nline', 'é ✓', 'ctl\u0001x', 'tab\there'];
    const schemaArb = fc.tuple(
      fc.constantFrom(...EVENT_NAMES),
      fc.uniqueArray(fc.constantFrom(...FIELD_NAMES), { minLength: 1, maxLength: 8 }).chain((names) => fc.tuple(...names.map((name) => fc.constantFrom(...TYPES).map((type) => [name, type] as const)))),
    );
    const entryArb = fc.record({
      which: fc.nat(),
      slot: fc.integer({ min: -1, max: 3 }),
      kind: fc.nat({ max: 9 }), // 0: lost, 1: corrupt, else an event
      dt: fc.nat({ max: 1000 }),
      values: fc.tuple(...TYPES.map((t) => valueOf[t])),
    });
    fc.assert(
      fc.property(fc.uniqueArray(schemaArb, { minLength: 1, maxLength: 3, selector: (s) => s[0] }), fc.array(entryArb, { maxLength: 120 }), (specs, plans) => {
        const schemas = specs.map(([name, spec]) => defineEvent(name, Object.fromEntries(spec) as Record<string, FieldType>));
        const byName = new Map(schemas.map((d) => [d.name, d]));
        const entries: LogEntry[] = [];
        const clock = new Map<number, number>();
        plans.forEach(({ which, slot, kind, dt, values }, i) => {
          const ts = (clock.get(slot) ?? 1000) + dt;
          clock.set(slot, ts);
          if (kind === 0 && slot >= 0) entries.push({ kind: 'lost', slot, count: (which % 500) + 1, cause: (['overrun', 'dropped', 'corrupt'] as const)[which % 3]!, beforeIndex: which });
          else if (kind === 1 || slot < 0) entries.push({ kind: 'corrupt', slot, reason: `damage ${which} é\u0000x` });
          else {
            const d = schemas[which % schemas.length]!;
            const v: Record<string, unknown> = {};
            for (const [name, type] of Object.entries(d.fields as Record<string, FieldType>)) v[name] = values[TYPES.indexOf(type)];
            entries.push({ kind: 'event', name: d.name, slot, index: i, timestamp: ts, values: v, truncated: false });
          }
        });
        const dir = freshDir();
        const trace = writeCtf(dir, entries, schemas);
        const { events, packets } = readCtf(dir);
        expect(trace.events).toBe(entries.length);
        expect(trace.packets).toBe(packets.length);
        // Stream by stream, the entries in order, each as the mapping says.
        for (const slot of new Set(entries.map((e) => e.slot))) {
          const cpuId = slot < 0 ? 0xffffffff : slot;
          const want = entries.filter((e) => e.slot === slot).map((e) => expected(e, byName));
          const got = events.filter((e) => e.cpuId === cpuId);
          expect(got.map((e) => ({ name: e.name, cpuId: e.cpuId, fields: e.fields }))).toEqual(want);
          // Events carry their timestamps; lost and corrupt entries the next event's of their
          // slot, else the previous one's, else the whole list's previous, else its next; held
          // to the stream's order (the list itself need not be merged by time).
          const mine = entries.filter((e) => e.slot === slot);
          let floor = 0n;
          mine.forEach((e, k) => {
            const at = mine.slice(k).find((x) => x.kind === 'event') ?? mine.slice(0, k).findLast((x) => x.kind === 'event') ?? entries.slice(0, entries.indexOf(e)).findLast((x) => x.kind === 'event') ?? entries.find((x) => x.kind === 'event');
            const ts = BigInt(at?.kind === 'event' ? at.timestamp : 0);
            floor = ts > floor ? ts : floor;
            expect(got[k]!.timestamp).toBe(floor);
          });
          // CTF names are TSDL identifiers once `_` is put in front, unique within each event.
          for (const d of schemas) {
            const names = ctfFieldNames(Object.keys(d.fields));
            expect(new Set(names).size).toBe(names.length);
            for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_]+$/);
          }
          // The last packet's events_discarded is every loss of the stream.
          const lostTotal = entries.reduce((sum, e) => sum + (e.slot === slot && e.kind === 'lost' ? e.count : 0), 0);
          expect(packets.filter((p) => p.stream === (slot < 0 ? 'stream_damage' : `stream_${slot}`)).at(-1)!.discarded).toBe(BigInt(lostTotal));
        }
      }),
      { seed, numRuns: 60 },
    );
  });

  it('opens each stream with an empty packet, gives each loss a packet of its own, and cuts the rest into packets of 4,096 events', () => {
    const Tick = defineEvent('tick', { n: 'u32' });
    const entries: LogEntry[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i === 5_000) entries.push({ kind: 'lost', slot: 0, count: 77, cause: 'overrun', beforeIndex: 5_077 });
      entries.push({ kind: 'event', name: 'tick', slot: 0, index: i, timestamp: 10 * i, values: { n: i }, truncated: false });
    }
    const dir = freshDir();
    writeCtf(dir, entries, [Tick]);
    const { events, packets } = readCtf(dir);
    expect(packets.map((p) => p.events)).toEqual([0, 4096, 904, 1, 4096, 904]);
    expect(packets.map((p) => p.discarded)).toEqual([0n, 0n, 0n, 77n, 77n, 77n]);
    expect(packets.map((p) => [p.begin, p.end])).toEqual([
      [0n, 0n],
      [0n, 40_950n],
      [40_960n, 49_990n],
      [50_000n, 50_000n], // the loss, at the first event after it
      [50_000n, 90_950n],
      [90_960n, 99_990n],
    ]);
    expect(events.filter((e) => e.name === 'tick').map((e) => e.fields['n'])).toEqual([...Array(10_000).keys()]);
  });

  it('refuses a directory that is not empty, an event without a schema and a schema named like its own events, writing nothing', () => {
    const Tick = defineEvent('tick', { n: 'u32' });
    const dir = freshDir();
    writeCtf(dir, [], [Tick]);
    expect(() => writeCtf(dir, [], [Tick])).toThrow(/is not empty/);
    const other = freshDir();
    expect(() => writeCtf(other, [{ kind: 'event', name: 'nope', slot: 0, index: 0, timestamp: 0, values: {}, truncated: false }], [Tick])).toThrow(TypeError);
    expect(() => readdirSync(other)).toThrow(); // nothing was created
    expect(() => writeCtf(other, [], [defineEvent('ringtrace_lost', { n: 'u32' })])).toThrow(/is taken by the export's own/);
  });

  it('ringtrace report --ctf writes a flight-recorder dump as a trace', async () => {
    const { spawnSync } = await import('node:child_process');
    const bin = new URL('../../bin/ringtrace.js', import.meta.url).pathname;
    const Req = defineEvent('req', { status: 'u16', micros: 'f64', ok: 'bool', path: 'string' });
    const log = EventLog.create({ slots: 1, pagesPerSlot: 4, pageBytes: 4096, clock: 'counter' });
    try {
      const w = log.writer();
      for (let n = 0; n < 20; n++) w.emit(Req, { status: 200 + n, micros: n / 2, ok: n % 2 === 0, path: `/r/${n}` });
      const dump = join(root, 'report.dump');
      writeDump(log, dump);
      const dir = freshDir();
      const r = spawnSync(process.execPath, [bin, 'report', dump, '--ctf', dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/wrote a CTF trace of 20 entries in 2 packets and 1 stream/);
      const { events } = readCtf(dir);
      expect(events.map((e) => e.fields)).toEqual([...Array(20).keys()].map((n) => ({ status: 200 + n, micros: n / 2, ok: n % 2 === 0 ? 1 : 0, path: `/r/${n}` })));
      const again = spawnSync(process.execPath, [bin, 'report', dump, '--ctf', dir], { encoding: 'utf8' });
      expect(again.status).toBe(2);
      expect(again.stderr).toMatch(/is not empty/);
    } finally {
      await log.close();
    }
  });
});
