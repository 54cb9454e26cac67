import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogEntry } from '../log/event-log.js';
import { schemaToJson, type EventDescriptor, type FieldType } from '../log/event-schema.js';
import { entryTimestamps } from './entry-time.js';

/**
 * A CTF 1.8 trace (Common Trace Format: what babeltrace2 and Trace Compass read) of log
 * entries: a directory holding the TSDL `metadata` text and one binary stream file per
 * slot (`stream_<slot>`; `stream_damage` for damage not tied to a slot).
 *
 * Every type is byte-aligned and little-endian, so the binary layout is the declaration
 * order with no padding:
 *
 * ```
 * packet header   u32 magic 0xC1FC1FC1, u8[16] trace uuid, u32 stream id (0)
 * packet context  u64 timestamp_begin, u64 timestamp_end, u64 content_size (bits),
 *                 u64 packet_size (bits, = content_size), u64 events_discarded
 *                 (losses so far in this stream), u32 cpu_id (the slot)
 * event header    u32 id, u64 timestamp
 * event payload   the schema's fields in declaration order: u8 u16 u32 i32 u64 as
 *                 integers, f64 as a double, bool as u8 0/1, string as UTF-8 + NUL
 * ```
 *
 * Event ids: the schemas in the order given, then `ringtrace_lost` (count, cause,
 * before_index) and `ringtrace_corrupt` (reason), so losses and damage show where they
 * happened (stamped by `entryTimestamps`). Field names are written with a leading `_` (CTF
 * readers strip one; it keeps a field named like a TSDL keyword legal) and `$` as `_`; a
 * name that would then clash with another field's gets a suffix (`ctfFieldNames`). A NUL
 * inside a string, which CTF strings cannot hold, is written as U+FFFD. Timestamps are the
 * log's (ns with the hrtime and coarse clocks, tickets with the counter clock), declared
 * at 1 GHz.
 *
 * Packets and losses: a reader such as babeltrace2 counts the losses between two packets
 * as the difference of their events_discarded, and can count none before a stream's
 * first packet. So each stream opens with an empty packet (events_discarded 0), and each
 * loss is a packet of its own holding its `ringtrace_lost` event: the reader's
 * discarded-events notice then spans exactly from the event before the loss to the one
 * after it. Other packets hold up to 4,096 events.
 */

const CTF_MAGIC = 0xc1fc1fc1;
/** Events per packet, at most. */
const PACKET_EVENTS = 4096;
// A packet's header and context, by byte offset from the packet's start (the metadata's
// packet.header and packet.context, in order; everything is byte-aligned).
const K_MAGIC = 0; // u32
const K_UUID = 4; // u8[16]
const K_STREAM_ID = 20; // u32
const K_TIMESTAMP_BEGIN = 24; // u64
const K_TIMESTAMP_END = 32; // u64
const K_CONTENT_SIZE = 40; // u64, bits
const K_PACKET_SIZE = 48; // u64, bits
const K_EVENTS_DISCARDED = 56; // u64
const K_CPU_ID = 64; // u32
/** Where the packet's first event starts. */
const K_EVENTS = 68;
/** The export's own event classes, after the schemas': where losses and damage happened. */
const LOST_EVENT = 'ringtrace_lost';
const CORRUPT_EVENT = 'ringtrace_corrupt';
/** The cpu_id of the stream of damage not tied to a slot. */
const NO_SLOT_CPU_ID = 0xffffffff;

/** Bytes of each fixed-size field type in the stream. */
const FIELD_BYTES: Readonly<Record<Exclude<FieldType, 'string'>, number>> = { u8: 1, u16: 2, u32: 4, i32: 4, f64: 8, u64: 8, bool: 1 };

const CTF_TYPES: Readonly<Record<FieldType, string>> = {
  u8: 'uint8_t',
  u16: 'uint16_t',
  u32: 'uint32_t',
  i32: 'int32_t',
  f64: 'double',
  u64: 'uint64_t',
  bool: 'uint8_t',
  string: 'string',
};

export interface CtfTrace {
  /** The files written, metadata first. */
  readonly files: readonly string[];
  readonly events: number;
  readonly packets: number;
}

interface CtfEventClass {
  readonly id: number;
  readonly name: string;
  /** `name` is the schema's; `ctfName` the one in the metadata, without its leading `_`. */
  readonly fields: ReadonlyArray<{ readonly name: string; readonly ctfName: string; readonly type: FieldType }>;
}

/**
 * The CTF names of one event's fields, in order: each is a TSDL identifier once `_` is put
 * in front, and no two are equal. A JS name is kept; `$` (legal in JS, not in TSDL)
 * becomes `_`, and such a name never takes one another field has (`a$` beside `a_`).
 * babeltrace2 (2.0.4) also refuses a field whose name before it strips the `_` equals an
 * earlier field's after (`_x` declared before `x`: `__x` is stored as `_x`, then `_x`
 * clashes). A name that would clash either way takes the first free suffix `_2`, `_3`...
 */
export function ctfFieldNames(names: readonly string[]): string[] {
  const plain = new Set(names.filter((n) => !n.includes('$')));
  const taken = new Set<string>();
  return names.map((n) => {
    const base = n.replaceAll('$', '_');
    const clashes = (c: string): boolean => taken.has(c) || taken.has(`_${c}`) || (n !== base && plain.has(c));
    let name = base;
    for (let k = 2; clashes(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  });
}

function eventClass(id: number, name: string, fields: ReadonlyArray<{ readonly name: string; readonly type: FieldType }>): CtfEventClass {
  const ctfNames = ctfFieldNames(fields.map((f) => f.name));
  return { id, name, fields: fields.map((f, i) => ({ name: f.name, ctfName: ctfNames[i]!, type: f.type })) };
}

/** Writes `entries` (as `drain`, `snapshot` or `readBinaryLog` give them) as a CTF trace in `dir`. */
export function writeCtf(dir: string, entries: readonly LogEntry[], schemas: readonly EventDescriptor[]): CtfTrace {
  const classes = new Map<string, CtfEventClass>();
  for (const d of schemas) {
    if (d.name === LOST_EVENT || d.name === CORRUPT_EVENT) throw new TypeError(`writeCtf: the event name ${JSON.stringify(d.name)} is taken by the export's own losses and damage events; rename the event`);
    if (!classes.has(d.name)) classes.set(d.name, eventClass(classes.size, d.name, schemaToJson(d).fields));
  }
  const lost = eventClass(classes.size, LOST_EVENT, [
    { name: 'count', type: 'u64' },
    { name: 'cause', type: 'string' },
    { name: 'before_index', type: 'u64' },
  ]);
  const corrupt = eventClass(classes.size + 1, CORRUPT_EVENT, [{ name: 'reason', type: 'string' }]);
  for (const e of entries) {
    if (e.kind === 'event' && !classes.has(e.name)) throw new TypeError(`writeCtf: event ${JSON.stringify(e.name)} has no schema among the ${schemas.length} given`);
  }

  // A CTF reader takes every file of the directory as part of the trace: never mix two.
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new TypeError(`writeCtf: ${dir} is not empty (a CTF trace is a directory of its own)`);
  const uuid = randomUUID();
  const uuidBytes = Buffer.from(uuid.replaceAll('-', ''), 'hex');
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, 'metadata')];
  writeFileSync(files[0]!, metadataText(uuid, [...classes.values(), lost, corrupt]));

  const timestamps = entryTimestamps(entries);
  const bySlot = new Map<number, number[]>();
  entries.forEach((e, i) => {
    const list = bySlot.get(e.slot) ?? [];
    if (list.length === 0) bySlot.set(e.slot, list);
    list.push(i);
  });
  let events = 0;
  let packets = 0;
  for (const [slot, list] of [...bySlot].sort((a, b) => a[0] - b[0])) {
    const stream = new StreamWriter(uuidBytes, slot < 0 ? NO_SLOT_CPU_ID : slot, timestamps[list[0]!]!);
    for (const i of list) {
      const e = entries[i]!;
      const ts = timestamps[i]!;
      if (e.kind === 'event') {
        const c = classes.get(e.name)!;
        stream.event(c.id, ts, (out) => {
          for (const f of c.fields) out.field(f.type, e.values[f.name]);
        });
      } else if (e.kind === 'lost') {
        stream.loss(e.count, lost.id, ts, (out) => {
          out.field('u64', BigInt(e.count));
          out.field('string', e.cause);
          out.field('u64', BigInt(e.beforeIndex));
        });
      } else {
        stream.event(corrupt.id, ts, (out) => out.field('string', e.reason));
      }
      events++;
    }
    const file = join(dir, slot < 0 ? 'stream_damage' : `stream_${slot}`);
    const bytes = stream.finish();
    writeFileSync(file, bytes);
    files.push(file);
    packets += stream.packets;
  }
  return { files, events, packets };
}

/** A TSDL string literal: C escapes; other control characters as octal escapes; the rest as UTF-8. */
function tsdlString(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function metadataText(uuid: string, classes: readonly CtfEventClass[]): string {
  const lines = [
    '/* CTF 1.8 */',
    '',
    'typealias integer { size = 8; align = 8; signed = false; } := uint8_t;',
    'typealias integer { size = 16; align = 8; signed = false; } := uint16_t;',
    'typealias integer { size = 32; align = 8; signed = false; } := uint32_t;',
    'typealias integer { size = 64; align = 8; signed = false; } := uint64_t;',
    'typealias integer { size = 32; align = 8; signed = true; } := int32_t;',
    'typealias floating_point { exp_dig = 11; mant_dig = 53; align = 8; } := double;',
    '',
    'trace {',
    '\tmajor = 1;',
    '\tminor = 8;',
    `\tuuid = "${uuid}";`,
    '\tbyte_order = le;',
    '\tpacket.header := struct {',
    '\t\tuint32_t magic;',
    '\t\tuint8_t uuid[16];',
    '\t\tuint32_t stream_id;',
    '\t};',
    '};',
    '',
    'env {',
    '\tdomain = "ringtrace";',
    '\ttracer_name = "ringtrace";',
    '};',
    '',
    'clock {',
    '\tname = ringtrace;',
    `\tuuid = "${uuid}";`,
    '\tdescription = "ringtrace event timestamps: ns with the hrtime and coarse clocks, tickets with the counter clock";',
    '\tfreq = 1000000000;',
    '\toffset = 0;',
    '};',
    '',
    'typealias integer { size = 64; align = 8; signed = false; map = clock.ringtrace.value; } := uint64_clock_t;',
    '',
    'stream {',
    '\tid = 0;',
    '\tpacket.context := struct {',
    '\t\tuint64_clock_t timestamp_begin;',
    '\t\tuint64_clock_t timestamp_end;',
    '\t\tuint64_t content_size;',
    '\t\tuint64_t packet_size;',
    '\t\tuint64_t events_discarded;',
    '\t\tuint32_t cpu_id;',
    '\t};',
    '\tevent.header := struct {',
    '\t\tuint32_t id;',
    '\t\tuint64_clock_t timestamp;',
    '\t};',
    '};',
  ];
  for (const c of classes) {
    lines.push('', 'event {', `\tname = ${tsdlString(c.name)};`, `\tid = ${c.id};`, '\tstream_id = 0;', '\tfields := struct {');
    // `_` first: readers strip it, and it keeps a field named like a TSDL keyword legal.
    for (const f of c.fields) lines.push(`\t\t${CTF_TYPES[f.type]} _${f.ctfName};`);
    lines.push('\t};', '};');
  }
  return `${lines.join('\n')}\n`;
}

/** Appends little-endian values to a growing buffer. */
class ByteSink {
  bytes = Buffer.alloc(64 * 1024);
  length = 0;

  /** Reserves n bytes and returns where; it may replace `bytes`, so read `bytes` after calling it. */
  private room(n: number): number {
    if (this.length + n > this.bytes.length) {
      const bigger = Buffer.alloc(Math.max(this.bytes.length * 2, this.length + n));
      this.bytes.copy(bigger, 0, 0, this.length);
      this.bytes = bigger;
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  /** Reserves n zeroed bytes (filled in later through `bytes`). */
  skip(n: number): void {
    const at = this.room(n);
    this.bytes.fill(0, at, at + n);
  }

  u32(v: number): void {
    const at = this.room(4);
    this.bytes.writeUInt32LE(v, at);
  }

  u64(v: bigint): void {
    const at = this.room(8);
    this.bytes.writeBigUInt64LE(v, at);
  }

  field(type: FieldType, value: unknown): void {
    if (type === 'string') {
      const utf8 = Buffer.from((value as string).replaceAll('\0', '\ufffd'), 'utf8');
      const at = this.room(utf8.length + 1);
      utf8.copy(this.bytes, at);
      this.bytes[at + utf8.length] = 0;
      return;
    }
    const at = this.room(FIELD_BYTES[type]);
    const b = this.bytes;
    switch (type) {
      case 'u8':
        b.writeUInt8(value as number, at);
        return;
      case 'u16':
        b.writeUInt16LE(value as number, at);
        return;
      case 'u32':
        b.writeUInt32LE(value as number, at);
        return;
      case 'i32':
        b.writeInt32LE(value as number, at);
        return;
      case 'f64':
        b.writeDoubleLE(value as number, at);
        return;
      case 'u64':
        b.writeBigUInt64LE(value as bigint, at);
        return;
      case 'bool':
        b.writeUInt8(value === true ? 1 : 0, at);
        return;
    }
  }
}

/**
 * One stream file: an empty first packet (so a reader has a count to subtract the first
 * losses from), then packets of at most PACKET_EVENTS events, each loss in a packet of its
 * own; each packet with its header and context.
 */
class StreamWriter {
  readonly out = new ByteSink();
  /** Losses so far in this stream: each packet's events_discarded. */
  private discarded = 0;
  private lastTimestamp = 0;
  packets = 0;
  private packetStart = -1;
  private packetEvents = 0;
  private firstTimestamp = 0;

  constructor(
    private readonly uuid: Buffer,
    private readonly cpuId: number,
    firstTimestamp: number,
  ) {
    this.lastTimestamp = this.clamp(firstTimestamp);
    this.openPacket(this.lastTimestamp);
    this.closePacket();
  }

  /** One event; its timestamp is held to the stream's order (never before the last one). */
  event(id: number, timestamp: number, payload: (out: ByteSink) => void): void {
    const ts = this.clamp(timestamp);
    if (this.packetStart < 0 || this.packetEvents === PACKET_EVENTS) this.openPacket(ts);
    this.out.u32(id);
    this.out.u64(BigInt(ts));
    payload(this.out);
    this.lastTimestamp = ts;
    this.packetEvents++;
  }

  /** `count` events lost here: a packet of its own, holding the event that says so, with the count in its events_discarded. */
  loss(count: number, id: number, timestamp: number, payload: (out: ByteSink) => void): void {
    this.closePacket();
    this.discarded += count;
    this.event(id, timestamp, payload);
    this.closePacket();
  }

  finish(): Buffer {
    this.closePacket();
    return this.out.bytes.subarray(0, this.out.length);
  }

  private clamp(timestamp: number): number {
    return Math.max(this.lastTimestamp, Math.round(Number.isFinite(timestamp) && timestamp > 0 ? timestamp : 0));
  }

  private openPacket(ts: number): void {
    this.closePacket();
    const out = this.out;
    this.packetStart = out.length;
    this.packetEvents = 0;
    this.firstTimestamp = ts;
    out.skip(K_EVENTS);
    const b = out.bytes;
    const at = this.packetStart;
    b.writeUInt32LE(CTF_MAGIC, at + K_MAGIC);
    this.uuid.copy(b, at + K_UUID);
    b.writeUInt32LE(0, at + K_STREAM_ID);
    b.writeUInt32LE(this.cpuId, at + K_CPU_ID);
    // The rest of the context is filled in when the packet closes (its sizes and end are known then).
    this.packets++;
  }

  private closePacket(): void {
    if (this.packetStart < 0) return;
    const at = this.packetStart;
    const bits = BigInt((this.out.length - at) * 8);
    const b = this.out.bytes;
    b.writeBigUInt64LE(BigInt(this.firstTimestamp), at + K_TIMESTAMP_BEGIN);
    b.writeBigUInt64LE(BigInt(this.lastTimestamp), at + K_TIMESTAMP_END);
    b.writeBigUInt64LE(bits, at + K_CONTENT_SIZE);
    b.writeBigUInt64LE(bits, at + K_PACKET_SIZE); // no padding after the content
    b.writeBigUInt64LE(BigInt(this.discarded), at + K_EVENTS_DISCARDED);
    this.packetStart = -1;
  }
}
