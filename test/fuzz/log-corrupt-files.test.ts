import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog, type LogEntry } from '../../src/log/event-log.js';
import { defineEvent } from '../../src/log/event-schema.js';
import { BinaryLogSink, loadDump, readBinaryLog, writeDump } from '../../src/log/sinks.js';
import { RingLayoutError } from '../../src/ring/errors.js';
import { prng, testSeed } from '../seed.js';

const Tick = defineEvent('tick', { n: 'u32', big: 'u64', label: 'string' });
const Req = defineEvent('req', { status: 'u16', micros: 'f64', ok: 'bool', path: 'string' });
const EVENTS = 400;

/**
 * Dump layout: 8-byte magic, the 256-byte log header, one 64-byte line of counters per slot
 * (2 slots here), the registry's 16-byte header, its entries.
 */
const DUMP_MAGIC_BYTES = 8;
const REGISTRY_AT = DUMP_MAGIC_BYTES + 256 + 2 * 64;
const FIRST_ENTRY_AT = REGISTRY_AT + 16;

const dir = mkdtempSync(join(tmpdir(), 'ringtrace-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every value is derived from k, so an event read back can be checked on its own. */
function emitAll(log: EventLog): void {
  const w = log.writer();
  for (let k = 0; k < EVENTS; k++) {
    if (k % 2 === 0) w.emit(Tick, { n: k, big: BigInt(k) * 3n, label: `t${k}` });
    else w.emit(Req, { status: 100 + (k % 400), micros: k / 4, ok: k % 3 === 0, path: `/p${k}` });
  }
}

/** Whether an event is exactly what emitAll wrote. */
function exact(e: LogEntry): boolean {
  if (e.kind !== 'event') return false;
  const v = e.values;
  if (e.name === 'tick') {
    const k = v['n'] as number;
    return v['big'] === BigInt(k) * 3n && v['label'] === `t${k}`;
  }
  if (e.name === 'req') {
    const k = (v['micros'] as number) * 4;
    return Number.isInteger(k) && v['status'] === 100 + (k % 400) && v['ok'] === (k % 3 === 0) && v['path'] === `/p${k}`;
  }
  return false;
}

async function goodDump(): Promise<Buffer> {
  const log = EventLog.create({ slots: 2, pagesPerSlot: 16, pageBytes: 4096, mode: 'overwrite', clock: 'counter' });
  try {
    emitAll(log);
    const file = join(dir, 'good.dump');
    writeDump(log, file);
    return readFileSync(file);
  } finally {
    await log.close();
  }
}

function drainDump(image: Buffer): LogEntry[] {
  const file = join(dir, 'damaged.dump');
  writeFileSync(file, image);
  const entries: LogEntry[] = [];
  loadDump(file).drain((e) => entries.push(e));
  return entries;
}

describe('a damaged dump', () => {
  it('a damaged schema registry entry costs only the events of its type', async () => {
    const good = await goodDump();
    const whole = drainDump(good);
    expect(whole).toHaveLength(EVENTS);
    expect(whole.every(exact)).toBe(true);
    const entryLength = (at: number): number => good[at]! | (good[at + 1]! << 8);
    const second = FIRST_ENTRY_AT + 2 + entryLength(FIRST_ENTRY_AT);
    const cases: { name: string; damage: (b: Buffer) => void; readable: readonly string[]; reason: RegExp }[] = [
      { name: 'entry 0 does not parse', damage: (b) => void (b[FIRST_ENTRY_AT + 2] = 0x23), readable: ['req'], reason: /schema registry entry 0 is damaged: schema JSON does not parse/ },
      { name: 'entry 1 does not parse', damage: (b) => void (b[second + 2] = 0x23), readable: ['tick'], reason: /schema registry entry 1 is damaged/ },
      { name: 'entry 0 runs past the registry', damage: (b) => b.writeUInt16LE(0xffff, FIRST_ENTRY_AT), readable: [], reason: /entry [01] is damaged: (it runs past the registry|an earlier entry runs past)/ },
      { name: 'the count says one entry', damage: (b) => b.writeInt32LE(1, REGISTRY_AT + 4), readable: ['tick'], reason: /no schema is registered for it/ },
      { name: 'the count is absurd', damage: (b) => b.writeInt32LE(0x7fffffff, REGISTRY_AT + 4), readable: ['tick', 'req'], reason: /never/ },
    ];
    for (const c of cases) {
      const image = Buffer.from(good);
      c.damage(image);
      const entries = drainDump(image);
      expect(entries, c.name).toHaveLength(EVENTS); // one entry per event either way
      for (const e of entries) {
        if (e.kind === 'event') {
          expect(c.readable, c.name).toContain(e.name);
          expect(exact(e), c.name).toBe(true);
        } else {
          expect(e.kind, c.name).toBe('corrupt');
          if (e.kind === 'corrupt') expect(e.reason, c.name).toMatch(c.reason);
        }
      }
      const events = entries.filter((e) => e.kind === 'event').length;
      expect(events, c.name).toBe((EVENTS / 2) * c.readable.length);
    }
  });

  it('random damage anywhere: the reader reports and goes on, never throws past a named layout error', async () => {
    const seed = testSeed('log-corrupt-files dump');
    const random = prng(seed);
    const good = await goodDump();
    const outcomes = { attachRefused: 0, read: 0, corrupt: 0, lost: 0, exactEvents: 0, otherEvents: 0 };
    for (let trial = 0; trial < 200; trial++) {
      const image = Buffer.from(good);
      // Half the trials hit the headers and the registry, where damage is most structural.
      const span = trial % 2 === 0 ? Math.min(image.length, 70_000) : image.length;
      const flips = 1 + Math.floor(random() * 8);
      for (let i = 0; i < flips; i++) image[DUMP_MAGIC_BYTES + Math.floor(random() * (span - DUMP_MAGIC_BYTES))] = Math.floor(random() * 256);
      let entries: LogEntry[];
      try {
        entries = drainDump(image);
      } catch (err) {
        // The only acceptable refusal: the log or ring header does not check out.
        expect(err, `trial ${trial}`).toBeInstanceOf(RingLayoutError);
        outcomes.attachRefused++;
        continue;
      }
      outcomes.read++;
      for (const e of entries) {
        if (e.kind === 'corrupt') outcomes.corrupt++;
        else if (e.kind === 'lost') outcomes.lost++;
        else if (exact(e)) outcomes.exactEvents++;
        else outcomes.otherEvents++; // a flipped payload byte: no checksum can tell (DESIGN L6)
      }
    }
    console.log(`[fuzz] dump outcomes (SEED=${seed}): ${JSON.stringify(outcomes)}`);
    expect(outcomes.read).toBeGreaterThan(100);
    expect(outcomes.corrupt).toBeGreaterThan(0); // the damage paths ran
    expect(outcomes.exactEvents).toBeGreaterThan(outcomes.read * EVENTS * 0.5);
  });
});

describe('a damaged binary log', () => {
  async function goodLog(): Promise<{ bytes: Buffer; entries: LogEntry[]; boundaries: number[]; producing: boolean[] }> {
    const log = EventLog.create({ slots: 2, pagesPerSlot: 16, pageBytes: 4096, mode: 'overwrite', clock: 'counter' });
    const file = join(dir, 'good.rtlog');
    try {
      emitAll(log);
      const sink = await BinaryLogSink.open(file, log);
      const entries: LogEntry[] = [];
      log.drain((e) => entries.push(e));
      entries.push({ kind: 'lost', slot: 1, count: 3, cause: 'overrun', beforeIndex: 9 });
      entries.push({ kind: 'corrupt', slot: 0, reason: 'a reason' });
      for (const e of entries) await sink.write(e);
      await sink.close();
      const bytes = readFileSync(file);
      expect(readBinaryLog(file)).toEqual(entries);
      // Record boundaries, and whether each record yields an entry (schema records do not).
      const boundaries = [8];
      const producing: boolean[] = [];
      for (let at = 8; at < bytes.length; ) {
        producing.push(bytes[at] !== 1);
        at += 5 + bytes.readUInt32LE(at + 1);
        boundaries.push(at);
      }
      return { bytes, entries, boundaries, producing };
    } finally {
      await log.close();
    }
  }

  it('cut anywhere, it reads back as the exact entries before the cut plus one corrupt entry for a partial record', async () => {
    const { bytes, entries, boundaries, producing } = await goodLog();
    const file = join(dir, 'cut.rtlog');
    // Every cut through the first records; at, just before and just after every boundary; a stride through the rest.
    const cuts = new Set<number>();
    for (let cut = 8; cut < 600; cut++) cuts.add(cut);
    for (const b of boundaries) for (const cut of [b - 1, b, b + 1]) if (cut >= 8 && cut <= bytes.length) cuts.add(cut);
    for (let cut = 600; cut <= bytes.length; cut += 13) cuts.add(cut);
    for (const cut of cuts) {
      writeFileSync(file, bytes.subarray(0, cut));
      const read = readBinaryLog(file);
      const complete = boundaries.filter((b) => b <= cut).length - 1;
      const expected = producing.slice(0, complete).filter(Boolean).length;
      const partial = !boundaries.includes(cut);
      expect(read.slice(0, expected), `cut at ${cut}`).toEqual(entries.slice(0, expected));
      expect(read.length, `cut at ${cut}`).toBe(expected + (partial ? 1 : 0));
      if (partial) expect(read.at(-1)).toMatchObject({ kind: 'corrupt', slot: -1, reason: expect.stringMatching(/the file ends inside/) });
    }
  });

  it('random damage: every record before the first damaged byte reads back exact, and the read never throws', async () => {
    const seed = testSeed('log-corrupt-files binary');
    const random = prng(seed);
    const { bytes, entries, boundaries, producing } = await goodLog();
    const file = join(dir, 'flipped.rtlog');
    let corrupt = 0;
    for (let trial = 0; trial < 300; trial++) {
      const damaged = Buffer.from(bytes);
      let first = damaged.length;
      for (let i = 1 + Math.floor(random() * 3); i > 0; i--) {
        const at = 8 + Math.floor(random() * (damaged.length - 8));
        damaged[at] = damaged[at]! ^ (1 + Math.floor(random() * 255)); // a real change
        first = Math.min(first, at);
      }
      writeFileSync(file, damaged);
      const read = readBinaryLog(file);
      const intact = boundaries.filter((b) => b <= first).length - 1;
      const expected = producing.slice(0, intact).filter(Boolean).length;
      expect(read.slice(0, expected), `trial ${trial}, first damaged byte ${first}`).toEqual(entries.slice(0, expected));
      corrupt += read.filter((e) => e.kind === 'corrupt' && e.slot === -1).length;
    }
    expect(corrupt).toBeGreaterThan(0); // the damage paths ran
  });
});
