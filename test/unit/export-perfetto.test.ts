import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/index.js';
import { writePerfetto } from '../../src/export/perfetto.js';
import { encode } from '../../src/log/payload-codec.js';
import { defineEvent, schemaToJson, type EventDescriptor } from '../../src/log/event-schema.js';
import { readTraceLog } from '../../src/log/trace-log.js';
import { PageDrain } from '../../src/trace/page-drain.js';
import { TraceFileWriter } from '../../src/trace/trace-file.js';
import { prng, testSeed } from '../seed.js';

/**
 * The Perfetto export decoded by protobufjs, a protobuf implementation we did not write,
 * with Perfetto's message definitions (field numbers from google/perfetto's protos) written
 * out below; then every packet checked against the trace file's events as our reader
 * delivers them.
 */

const PROTO = `
syntax = "proto2";
package perfetto.protos;
message Trace { repeated TracePacket packet = 1; }
message TracePacket {
  optional uint64 timestamp = 8;
  optional uint32 timestamp_clock_id = 58;
  optional uint32 trusted_packet_sequence_id = 10;
  optional uint32 sequence_flags = 13;
  optional ClockSnapshot clock_snapshot = 6;
  optional TrackEvent track_event = 11;
  optional InternedData interned_data = 12;
  optional TracePacketDefaults trace_packet_defaults = 59;
  optional TrackDescriptor track_descriptor = 60;
}
message ClockSnapshot {
  message Clock {
    optional uint32 clock_id = 1;
    optional uint64 timestamp = 2;
    optional bool is_incremental = 3;
    optional uint64 unit_multiplier_ns = 4;
  }
  repeated Clock clocks = 1;
}
message TracePacketDefaults {
  optional uint32 timestamp_clock_id = 58;
  optional TrackEventDefaults track_event_defaults = 11;
}
message TrackEventDefaults { optional uint64 track_uuid = 11; }
message TrackEvent {
  optional uint64 name_iid = 10;
  optional string name = 23;
  optional int32 type = 9;
  optional uint64 track_uuid = 11;
  optional int64 counter_value = 30;
  repeated DebugAnnotation debug_annotations = 4;
}
message DebugAnnotation {
  optional uint64 name_iid = 1;
  optional string name = 10;
  optional bool bool_value = 2;
  optional uint64 uint_value = 3;
  optional int64 int_value = 4;
  optional double double_value = 5;
  optional string string_value = 6;
}
message EventName { optional uint64 iid = 1; optional string name = 2; }
message DebugAnnotationName { optional uint64 iid = 1; optional string name = 2; }
message InternedData {
  repeated EventName event_names = 2;
  repeated DebugAnnotationName debug_annotation_names = 3;
}
message TrackDescriptor {
  optional uint64 uuid = 1;
  optional string name = 2;
  optional ProcessDescriptor process = 3;
  optional ThreadDescriptor thread = 4;
  optional uint64 parent_uuid = 5;
  optional CounterDescriptor counter = 8;
}
message ProcessDescriptor { optional int32 pid = 1; optional string process_name = 6; }
message ThreadDescriptor { optional int32 pid = 1; optional int32 tid = 2; optional string thread_name = 5; }
message CounterDescriptor {}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const TracePacket = root.lookupType('perfetto.protos.TracePacket');
const SEQ_CLEARED = 1;
const SEQ_NEEDS = 2;
const TYPE = { begin: 1, end: 2, instant: 3, counter: 4 } as const;

const dir = mkdtempSync(join(tmpdir(), 'ringtrace-perfetto-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A decoded packet, longs as numbers, with its size in the file. */
interface Packet {
  bytes: number;
  timestamp?: number;
  timestamp_clock_id?: number;
  trusted_packet_sequence_id?: number;
  sequence_flags?: number;
  clock_snapshot?: { clocks: { clock_id: number; timestamp: number; is_incremental?: boolean; unit_multiplier_ns?: number }[] };
  track_event?: {
    name_iid?: number;
    name?: string;
    type?: number;
    track_uuid?: number;
    counter_value?: number;
    debug_annotations?: { name_iid?: number; name?: string; string_value?: string; uint_value?: number; int_value?: number; double_value?: number; bool_value?: boolean }[];
  };
  interned_data?: { event_names?: { iid: number; name: string }[]; debug_annotation_names?: { iid: number; name: string }[] };
  trace_packet_defaults?: { timestamp_clock_id?: number; track_event_defaults?: { track_uuid?: number } };
  track_descriptor?: { uuid: number; name?: string; parent_uuid?: number; counter?: object; thread?: { tid: number }; process?: object };
}

/** Splits the Trace into packets with protobufjs' reader and decodes each. */
function decodeTrace(bytes: Uint8Array): Packet[] {
  const r = protobuf.Reader.create(bytes);
  const out: Packet[] = [];
  while (r.pos < r.len) {
    const start = r.pos;
    expect(r.uint32()).toBe((1 << 3) | 2); // Trace.packet, length-delimited
    const len = r.uint32();
    const body = bytes.subarray(r.pos, r.pos + len);
    r.skip(len);
    const msg = TracePacket.decode(body);
    const obj = TracePacket.toObject(msg, { longs: Number, defaults: false, arrays: false }) as Packet;
    obj.bytes = r.pos - start;
    out.push(obj);
  }
  return out;
}

/** What one track shows, rebuilt from the packets by the rules Perfetto documents. */
interface Shown {
  ns: number;
  type: number;
  name: string | undefined;
  annotations: Record<string, unknown>;
  bytes: number;
  interned: boolean;
}

interface Decoded {
  packets: Packet[];
  /** Per track uuid, its events in file order. */
  tracks: Map<number, Shown[]>;
  names: Map<number, string>;
}

/**
 * Checks every packet's sequence framing and resolves every reference: the first packet of
 * a sequence clears its incremental state, every later one needs it; each iid is defined
 * on its sequence before or in the packet using it; each track is described before use;
 * timestamps follow the incremental clock from the sequence's clock snapshot.
 */
function interpret(packets: Packet[]): Decoded {
  interface SeqState {
    eventNames: Map<number, string>;
    annotationNames: Map<number, string>;
    defaultClock?: number | undefined;
    defaultTrack?: number | undefined;
    clock: { cur: number; at: number; boot: number; unit: number } | null;
  }
  const seqs = new Map<number, SeqState>();
  const described = new Map<number, string>();
  const tracks = new Map<number, Shown[]>();
  for (const p of packets) {
    const id = p.trusted_packet_sequence_id;
    expect(id, 'every packet has a sequence id').toBeGreaterThan(0);
    let s = seqs.get(id!);
    if (s === undefined) {
      expect(p.sequence_flags, `sequence ${id}: the first packet clears the incremental state`).toBe(SEQ_CLEARED);
      s = { eventNames: new Map(), annotationNames: new Map(), clock: null };
      seqs.set(id!, s);
    } else {
      expect(p.sequence_flags, `sequence ${id}: later packets need the incremental state`).toBe(SEQ_NEEDS);
    }
    if (p.trace_packet_defaults !== undefined) {
      s.defaultClock = p.trace_packet_defaults.timestamp_clock_id;
      s.defaultTrack = p.trace_packet_defaults.track_event_defaults?.track_uuid;
    }
    if (p.clock_snapshot !== undefined) {
      const boot = p.clock_snapshot.clocks.find((c) => c.clock_id === 6);
      const inc = p.clock_snapshot.clocks.find((c) => c.clock_id === 64);
      expect(boot).toBeDefined();
      expect(inc?.is_incremental).toBe(true);
      s.clock = { cur: inc!.timestamp ?? 0, at: inc!.timestamp ?? 0, boot: boot!.timestamp ?? 0, unit: inc!.unit_multiplier_ns ?? 1 };
    }
    for (const n of p.interned_data?.event_names ?? []) s.eventNames.set(n.iid, n.name);
    for (const n of p.interned_data?.debug_annotation_names ?? []) s.annotationNames.set(n.iid, n.name);
    if (p.track_descriptor !== undefined) described.set(p.track_descriptor.uuid, p.track_descriptor.name ?? '');
    const e = p.track_event;
    if (e === undefined) continue;
    expect(p.timestamp, 'a track event has a timestamp').toBeDefined();
    const clockId = p.timestamp_clock_id ?? s.defaultClock;
    expect(clockId).toBe(64);
    expect(s.clock, 'the incremental clock is declared before use').not.toBeNull();
    s.clock!.cur += p.timestamp!;
    const ns = s.clock!.boot + (s.clock!.cur - s.clock!.at) * s.clock!.unit;
    const track = e.track_uuid ?? s.defaultTrack;
    expect(track, 'an event has a track').toBeDefined();
    expect(described.has(track!), `track ${track} is described before its first event`).toBe(true);
    let name = e.name;
    if (e.name_iid !== undefined) {
      name = s.eventNames.get(e.name_iid);
      expect(name, `event name iid ${e.name_iid} is interned on sequence ${id}`).toBeDefined();
    }
    const annotations: Record<string, unknown> = {};
    for (const a of e.debug_annotations ?? []) {
      let key = a.name;
      if (a.name_iid !== undefined) {
        key = s.annotationNames.get(a.name_iid);
        expect(key, `annotation name iid ${a.name_iid} is interned on sequence ${id}`).toBeDefined();
      }
      annotations[key!] = a.string_value ?? a.uint_value ?? a.int_value ?? a.double_value ?? a.bool_value;
    }
    if (e.type === TYPE.counter) annotations['value'] = e.counter_value;
    const list = tracks.get(track!) ?? [];
    list.push({ ns, type: e.type!, name, annotations, bytes: p.bytes, interned: p.interned_data !== undefined });
    tracks.set(track!, list);
  }
  return { packets, tracks, names: described };
}

/** Slices balanced on every track: never an end without a begin, none left open. */
function checkBalanced(d: Decoded): void {
  for (const [uuid, events] of d.tracks) {
    let depth = 0;
    for (const e of events) {
      if (e.type === TYPE.begin) depth++;
      if (e.type === TYPE.end) depth--;
      expect(depth, `track ${uuid}: an end without a begin`).toBeGreaterThanOrEqual(0);
    }
    expect(depth, `track ${uuid}: slices left open`).toBe(0);
  }
}

const tick = defineEvent('tick', { n: 'u16' });
const nmiEnter = defineEvent('nmi_enter', { depth: 'u8' });
const nmiExit = defineEvent('nmi_exit', { depth: 'u8' });
const irqEnter = defineEvent('irq_enter', { vector: 'u8' });
const irqExit = defineEvent('irq_exit', { vector: 'u8' });
/** Function entry as the machine records it at its smallest: the name alone. */
const entry = defineEvent('function_entry', { function: 'string' });
const fn = defineEvent('function_entry', { function: 'string', parent: 'u32' });
const sample = defineEvent('sample', { a: 'i32', b: 'f64', c: 'u64', ok: 'bool', note: 'string' });
const SCHEMAS: [number, EventDescriptor][] = [
  [0x100, tick],
  [0x101, nmiEnter],
  [0x102, nmiExit],
  [0x103, irqEnter],
  [0x104, irqExit],
  [0x105, fn],
  [0x106, sample],
];
const typeOf = new Map(SCHEMAS.map(([t, d]) => [d, t]));

/**
 * Writers on 3 CPUs of a small ring emit instants, function entries and properly nested
 * NMI / IRQ enter-exit pairs, with drain passes in between (too few to keep up in
 * overwrite mode, so losses happen).
 */
function record(path: string, seed: number, mode: 'overwrite' | 'discard', ops: number, clock: 'counter' | 'hrtime' = 'counter', flags: 'w' | 'a' = 'w'): void {
  const random = prng(seed);
  const cpus = 3;
  const ring = RingBuffer.create({ cpus, pagesPerCpu: 4, pageBytes: 1024, mode, clock, maxPayloadBytes: 128 });
  const writers = Array.from({ length: cpus }, (_, c) => ring.writer(c));
  const drain = new PageDrain(ring, ring.reader(), TraceFileWriter.open(path, { flags }), { test: 'perfetto' });
  for (const [type, d] of SCHEMAS) drain.file.schema(type, JSON.stringify(schemaToJson(d)));
  const open: string[][] = Array.from({ length: cpus }, () => []);
  const emit = (cpu: number, d: EventDescriptor, values: Record<string, unknown>): void => {
    const w = writers[cpu]!;
    const probe = new Uint8Array(512);
    const n = encode(d, values as never, probe, 0);
    const at = w.reserve(typeOf.get(d)!, n);
    if (at < 0) return;
    w.u8.set(probe.subarray(0, n), at);
    w.commit();
  };
  for (let i = 0; i < ops; i++) {
    const r = random();
    const cpu = Math.floor(random() * cpus);
    const stack = open[cpu]!;
    // A burst larger than a CPU's buffer, with no pass: losses in either mode, whatever the seed.
    if (i === ops >> 1) for (let k = 0; k < 400; k++) emit(1, tick, { n: k });
    if (r < 0.01) drain.pass(r < 0.003);
    else if (r < 0.1 && stack.length < 3) {
      const which = random() < 0.5 ? 'nmi' : 'irq';
      stack.push(which);
      if (which === 'nmi') emit(cpu, nmiEnter, { depth: stack.length });
      else emit(cpu, irqEnter, { vector: i & 0xff });
    } else if (r < 0.2 && stack.length > 0) {
      const depth = stack.length;
      if (stack.pop() === 'nmi') emit(cpu, nmiExit, { depth });
      else emit(cpu, irqExit, { vector: i & 0xff });
    } else if (r < 0.6) emit(cpu, fn, { function: `vfs_read_${i % 17}`, parent: i % 5 });
    else if (r < 0.65) emit(cpu, sample, { a: 0 - (i % 1000), b: i / 3, c: 2n ** 40n + BigInt(i), ok: (i & 1) === 1, note: `n${i}` });
    else emit(cpu, tick, { n: i & 0xffff });
  }
  for (let cpu = 0; cpu < cpus; cpu++) for (const s of open[cpu]!.reverse()) emit(cpu, s === 'nmi' ? nmiExit : irqExit, s === 'nmi' ? { depth: 0 } : { vector: 0 });
  drain.finish();
  drain.file.close();
}

/**
 * What each CPU's track should show, from the log entries our reader delivers, by the
 * export's documented mapping (a model of it: slices by name matching, losses at the last
 * timestamp read, open slices closed at the CPU's last timestamp).
 */
function expected(path: string, unitNs: number): { perCpu: Map<number, { ns: number; type: number; name: string | undefined }[]>; lost: Map<number, number[]> } {
  const { entries } = readTraceLog(path);
  const perCpu = new Map<number, { ns: number; type: number; name: string | undefined }[]>();
  const lost = new Map<number, number[]>();
  const stacks = new Map<number, string[]>();
  const lastCpu = new Map<number, number>();
  let lastRead = 0;
  // Timestamps in the clock's units (integers): a counter ticket is 1000 ns on the export's axis.
  const push = (cpu: number, ticks: number, type: number, name: string | undefined): void => {
    const list = perCpu.get(cpu) ?? [];
    list.push({ ns: ticks * unitNs, type, name });
    perCpu.set(cpu, list);
    lastCpu.set(cpu, Math.max(lastCpu.get(cpu) ?? 0, ticks));
  };
  for (const e of entries) {
    if (e.kind === 'corrupt') continue;
    const stack = stacks.get(e.slot) ?? [];
    stacks.set(e.slot, stack);
    if (e.kind === 'lost') {
      push(e.slot, Math.max(lastRead, lastCpu.get(e.slot) ?? 0), TYPE.instant, `lost (${e.cause}) ${e.count}`);
      const totals = lost.get(e.slot) ?? [];
      totals.push((totals.at(-1) ?? 0) + e.count);
      lost.set(e.slot, totals);
      continue;
    }
    const ns = Math.round(e.timestamp);
    lastRead = Math.max(lastRead, ns);
    const m = /^(.+)_(enter|exit)$/.exec(e.name);
    const display = typeof e.values['function'] === 'string' ? (e.values['function'] as string) : e.name;
    if (m !== null && m[2] === 'enter') {
      stack.push(m[1]!);
      push(e.slot, ns, TYPE.begin, m[1]);
    } else if (m !== null && stack.includes(m[1]!)) {
      while (stack.at(-1) !== m[1]) {
        stack.pop();
        push(e.slot, ns, TYPE.end, undefined);
      }
      stack.pop();
      push(e.slot, ns, TYPE.end, undefined);
    } else push(e.slot, ns, TYPE.instant, display);
  }
  for (const [cpu, stack] of stacks) for (let i = 0; i < stack.length; i++) push(cpu, lastCpu.get(cpu) ?? 0, TYPE.end, undefined);
  return { perCpu, lost };
}

function checkAgainstTrace(tracePath: string, outPath: string, unitNs = 1000): Decoded {
  const d = interpret(decodeTrace(readFileSync(outPath)));
  checkBalanced(d);
  const want = expected(tracePath, unitNs);
  for (const [cpu, events] of want.perCpu) {
    const uuid = 2 + cpu;
    expect(d.names.get(uuid)).toBe(`cpu ${cpu}`);
    const got = (d.tracks.get(uuid) ?? []).map((e) => ({ ns: e.ns, type: e.type, name: e.type === TYPE.end ? undefined : e.name }));
    expect(got.length, `events on cpu ${cpu}'s track`).toBe(events.length);
    expect(got).toEqual(events);
  }
  for (const [cpu, totals] of want.lost) {
    const counter = d.tracks.get(0x1000 + cpu) ?? [];
    expect(d.names.get(0x1000 + cpu)).toBe(`cpu ${cpu} lost`);
    expect(counter.map((e) => e.annotations['value'])).toEqual(totals);
    expect(counter.every((e) => e.type === TYPE.counter)).toBe(true);
  }
  return d;
}

describe('Perfetto export, decoded by protobufjs', () => {
  for (const mode of ['overwrite', 'discard'] as const) {
    it(`every packet's sequence, flags, interned names, timestamps, tracks and slices (${mode})`, () => {
      const seed = testSeed(`perfetto ${mode}`);
      const path = join(dir, `${mode}.rtrace`);
      const out = join(dir, `${mode}.pftrace`);
      record(path, seed, mode, 6000);
      const stats = writePerfetto(path, out);
      expect(stats.bytes).toBe(statSync(out).size);
      const d = checkAgainstTrace(path, out);
      expect(stats.lost).toBeGreaterThan(0);
      expect(d.packets.length).toBe(stats.packets);
      // Fields as debug annotations, with interned names, values exact.
      const samples = [...d.tracks.values()].flat().filter((e) => e.name === 'sample');
      expect(samples.length).toBeGreaterThan(0);
      for (const s of samples) {
        const a = s.annotations;
        expect(typeof a['note']).toBe('string');
        const i = Number((a['note'] as string).slice(1));
        expect(a).toEqual({ a: 0 - (i % 1000), b: i / 3, c: 2 ** 40 + i, ok: (i & 1) === 1, note: `n${i}` });
      }
      const fns = [...d.tracks.values()].flat().filter((e) => e.name?.startsWith('vfs_read_'));
      expect(fns.length).toBeGreaterThan(0);
      for (const f of fns) expect(Object.keys(f.annotations)).toEqual(['parent']);
    });
  }

  it('hrtime timestamps come out as ns, exactly', () => {
    const path = join(dir, 'hrtime.rtrace');
    const out = join(dir, 'hrtime.pftrace');
    record(path, testSeed('perfetto hrtime'), 'discard', 3000, 'hrtime');
    writePerfetto(path, out);
    const d = checkAgainstTrace(path, out, 1);
    expect(d.tracks.get(2)!.length).toBeGreaterThan(100);
  });

  it('the output is the same whatever the write chunk; appended runs get sequences of their own', () => {
    const path = join(dir, 'two-runs.rtrace');
    record(path, 5, 'overwrite', 3000);
    record(path, 6, 'discard', 2000, 'counter', 'a');
    const big = join(dir, 'two-big.pftrace');
    const small = join(dir, 'two-small.pftrace');
    writePerfetto(path, big);
    const stats = writePerfetto(path, small, { bufferBytes: 4096 });
    expect(stats.bytes).toBeGreaterThan(3 * 4096);
    expect(readFileSync(small).equals(readFileSync(big))).toBe(true);
    const d = interpret(decodeTrace(readFileSync(small)));
    checkBalanced(d);
    const ids = new Set(d.packets.map((p) => p.trusted_packet_sequence_id));
    // Three CPUs per run, each its own sequence in each run.
    expect(ids.size).toBe(6);
  });

  it('a function-entry event (its name its only field) takes at most 16 bytes on average', () => {
    const path = join(dir, 'ticks.rtrace');
    const out = join(dir, 'ticks.pftrace');
    const ring = RingBuffer.create({ cpus: 2, pagesPerCpu: 64, pageBytes: 4096, mode: 'discard', clock: 'counter' });
    const drain = new PageDrain(ring, ring.reader(), TraceFileWriter.open(path, { flags: 'w' }));
    drain.file.schema(0x100, JSON.stringify(schemaToJson(entry)));
    const writers = [ring.writer(0), ring.writer(1)];
    const probe = new Uint8Array(256);
    for (let i = 0; i < 20_000; i++) {
      const w = writers[i % 3 === 0 ? 1 : 0]!;
      const n = encode(entry, { function: `sched_${(i * 7) % 50}` }, probe, 0);
      const at = w.reserve(0x100, n);
      w.u8.set(probe.subarray(0, n), at);
      w.commit();
      if (i % 1000 === 999) drain.pass(true);
    }
    drain.finish();
    drain.file.close();
    const stats = writePerfetto(path, out);
    const d = checkAgainstTrace(path, out);
    const ticks = [...d.tracks.values()].flat().filter((e) => e.name?.startsWith('sched_') === true && e.type === TYPE.instant);
    expect(ticks.length).toBe(20_000);
    const plain = ticks.filter((e) => !e.interned);
    const average = plain.reduce((n, e) => n + e.bytes, 0) / plain.length;
    const overall = stats.bytes / ticks.length;
    console.log(`[perfetto] bytes per instant event: ${average.toFixed(2)} (whole file / events: ${overall.toFixed(2)})`);
    expect(average).toBeLessThanOrEqual(16);
    expect(overall).toBeLessThanOrEqual(16.1);
  });

  it('packets of 128 bytes and more, and of 16 KiB and more, keep their lengths', () => {
    const fields: Record<string, 'string'> = {};
    for (let f = 0; f < 20; f++) fields[`s${f}`] = 'string';
    const wide = defineEvent('wide', fields);
    const path = join(dir, 'wide.rtrace');
    const out = join(dir, 'wide.pftrace');
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: 8, pageBytes: 65536, mode: 'discard', clock: 'counter', maxPayloadBytes: 16352 });
    const drain = new PageDrain(ring, ring.reader(), TraceFileWriter.open(path, { flags: 'w' }));
    drain.file.schema(0x100, JSON.stringify(schemaToJson(wide)));
    const w = ring.writer(0);
    const probe = new Uint8Array(32768);
    const sizes = [810, 1, 5, 60];
    for (const size of sizes) {
      const values: Record<string, string> = {};
      for (let f = 0; f < 20; f++) values[`s${f}`] = String.fromCharCode(97 + f).repeat(size);
      const n = encode(wide, values as never, probe, 0);
      const at = w.reserve(0x100, n);
      w.u8.set(probe.subarray(0, n), at);
      w.commit();
    }
    drain.finish();
    drain.file.close();
    writePerfetto(path, out);
    const d = interpret(decodeTrace(readFileSync(out)));
    const events = d.tracks.get(2)!;
    expect(events.map((e) => (e.annotations['s3'] as string).length)).toEqual(sizes);
    for (const e of events) for (let f = 0; f < 20; f++) expect(e.annotations[`s${f}`]).toBe(String.fromCharCode(97 + f).repeat((e.annotations['s0'] as string).length));
    expect(Math.max(...events.map((e) => e.bytes))).toBeGreaterThan(16384);
    expect(events.some((e) => e.bytes > 128 && e.bytes < 16384)).toBe(true);
  });

  it('a damaged or truncated trace file still exports what it can, never throws', () => {
    const path = join(dir, 'damaged.rtrace');
    record(path, testSeed('perfetto damaged'), 'discard', 4000);
    const whole = readFileSync(path);
    const random = prng(7);
    for (let round = 0; round < 12; round++) {
      const bytes = Buffer.from(whole.subarray(0, round < 6 ? Math.floor(whole.length * (0.2 + 0.13 * round)) : whole.length));
      if (round >= 3) for (let k = 0; k < 8; k++) {
          const at = 16 + Math.floor(random() * (bytes.length - 16));
          bytes[at] = bytes[at]! ^ 0xff;
        }
      const cut = join(dir, `damaged-${round}.rtrace`);
      writeFileSync(cut, bytes);
      const out = join(dir, `damaged-${round}.pftrace`);
      const stats = writePerfetto(cut, out);
      expect(stats.corrupt).toBeGreaterThan(0);
      const d = interpret(decodeTrace(readFileSync(out)));
      checkBalanced(d);
      const corrupt = [...d.tracks.values()].flat().filter((e) => e.name === 'corrupt');
      expect(corrupt.length).toBe(stats.corrupt);
      for (const c of corrupt) expect(typeof c.annotations['reason']).toBe('string');
      expect(stats.events).toBeGreaterThan(0);
    }
  });

  it('rejects bad options and a file that is not a trace file, one line each', () => {
    const path = join(dir, 'small.rtrace');
    record(path, 1, 'discard', 100);
    expect(() => writePerfetto(path, join(dir, 'x.pftrace'), { bogus: 1 } as never)).toThrow(/unknown option "bogus"/);
    expect(() => writePerfetto(path, join(dir, 'x.pftrace'), { bufferBytes: 1 })).toThrow(RangeError);
    const notTrace = join(dir, 'not-a-trace');
    writeFileSync(notTrace, 'hello');
    expect(() => writePerfetto(notTrace, join(dir, 'y.pftrace'))).toThrow(TypeError);
  });
});
