import { closeSync, openSync, writeSync } from 'node:fs';
import { decodeFields } from '../log/payload-codec.js';
import { schemaFromJson, type EventDescriptor } from '../log/event-schema.js';
import { MAX_CPUS } from '../ring/layout.js';
import type { CorruptionReport, EventView, LostEvents } from '../ring/reader.js';
import { TraceFileReader, type TraceSegment, type TraceVisitor } from '../trace/trace-reader.js';
import { checkNumberOption, checkOptionNames } from '../option-check.js';

/**
 * A trace file as Perfetto's native protobuf trace (`.pftrace`), written as it is read.
 *
 * Field numbers and meanings are Perfetto's, from google/perfetto:
 *   protos/perfetto/trace/trace.proto               Trace.packet = 1
 *   protos/perfetto/trace/trace_packet.proto        TracePacket, SequenceFlags, TracePacketDefaults
 *   protos/perfetto/trace/clock_snapshot.proto      ClockSnapshot.Clock (is_incremental, unit_multiplier_ns)
 *   protos/perfetto/trace/track_event/track_event.proto       TrackEvent, TrackEventDefaults
 *   protos/perfetto/trace/track_event/track_descriptor.proto  TrackDescriptor, CounterDescriptor
 *   protos/perfetto/trace/track_event/thread_descriptor.proto, process_descriptor.proto
 *   protos/perfetto/trace/track_event/debug_annotation.proto  DebugAnnotation, DebugAnnotationName
 *   protos/perfetto/trace/interned_data/interned_data.proto   InternedData, EventName
 *
 * Mapping:
 * - One packet sequence per CPU of each segment (trusted_packet_sequence_id =
 *   1 + segment * (MAX_CPUS + 1) + cpu; the slot after the last CPU carries damage tied to no
 *   CPU). Its first packet has SEQ_INCREMENTAL_STATE_CLEARED and sets the sequence's state:
 *   a ClockSnapshot declaring clock 64 incremental (each packet's timestamp is the delta
 *   from the previous one on the sequence; the snapshot's timestamps are in the clock's
 *   units) next to BOOTTIME, and TracePacketDefaults (timestamp_clock_id 64, the CPU's track
 *   as default track). Every later packet has SEQ_NEEDS_INCREMENTAL_STATE. A sequence per
 *   CPU rather than one for the file is what keeps an event with no fields at 15 bytes: the
 *   default track saves the track_uuid, and one CPU's timestamps are non-decreasing, so the
 *   delta is never negative.
 * - Time: ns since the segment's clock origin (`hrtime`, `coarse`, unit 1 ns); for the
 *   `counter` clock one ticket is one µs (unit_multiplier_ns 1000), as in the JSON export.
 * - Tracks: a process "ringtrace"; per CPU a thread track "cpu N" (uuid 2 + N), and, from its
 *   first loss, a counter track "cpu N lost" (uuid 0x1000 + N) whose value is the running
 *   count of events lost on that CPU. Each descriptor is written before its first event.
 * - Events: TYPE_INSTANT named by the schema, except `X_enter`/`X_begin`, which open a slice
 *   named X (TYPE_SLICE_BEGIN), and `X_exit`/`X_end`, which close the innermost open X
 *   (TYPE_SLICE_END; slices opened inside it whose ends were lost close with it). An exit
 *   with no open X is an instant. A string field `function` (else `name`) names the
 *   event or slice instead of the schema (function entry reads `vfs_read_1042`); the other
 *   fields are debug annotations. Event and annotation names are interned (InternedData
 *   event_names, debug_annotation_names) once per sequence.
 * - A loss is an instant "lost (cause) N" on its CPU's track at the time of the last event
 *   read before it (the merge is by timestamp), plus a sample of the lost counter. Damage is
 *   an instant "corrupt" with the reason. Slices still open at the end of a segment are
 *   closed at their CPU's last timestamp, so every begin has its end.
 *
 * The encoder is written by hand: one reused buffer, varints written in place, a nested
 * message's length given one byte and the body moved only when it is 128 bytes or more.
 * A protobuf library would build an object per packet for an output of one packet per
 * event. Memory is bounded: the intern tables stop growing at INTERN_LIMIT strings (names
 * after that are written inline), the output buffer is flushed every `bufferBytes`.
 * (The input is `TraceFileReader`, which holds the file in memory; that bound is its own.)
 */

export interface PerfettoOptions {
  /** Bytes gathered before each write to the output file. Defaults to 1 MiB. */
  readonly bufferBytes?: number;
}

export interface PerfettoStats {
  readonly packets: number;
  readonly bytes: number;
  /** Events exported (instants, slice begins and ends). */
  readonly events: number;
  readonly instants: number;
  readonly slices: number;
  /** Events lost, by count. */
  readonly lost: number;
  /** `corrupt` instants: the reader's damage reports and events that do not decode with their schema. */
  readonly corrupt: number;
}

const OPTION_NAMES = ['bufferBytes'];
const DEFAULT_BUFFER_BYTES = 1 << 20;

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;

// Trace / TracePacket.
const TRACE_PACKET = 1;
const P_TIMESTAMP = 8;
const P_SEQUENCE_ID = 10;
const P_TRACK_EVENT = 11;
const P_INTERNED_DATA = 12;
const P_SEQUENCE_FLAGS = 13;
const P_CLOCK_SNAPSHOT = 6;
const P_DEFAULTS = 59;
const P_TRACK_DESCRIPTOR = 60;
const SEQ_INCREMENTAL_STATE_CLEARED = 1;
const SEQ_NEEDS_INCREMENTAL_STATE = 2;
// TracePacketDefaults / TrackEventDefaults.
const D_TIMESTAMP_CLOCK_ID = 58;
const D_TRACK_EVENT_DEFAULTS = 11;
const TED_TRACK_UUID = 11;
// ClockSnapshot.
const CS_CLOCKS = 1;
const C_ID = 1;
const C_TIMESTAMP = 2;
const C_INCREMENTAL = 3;
const C_UNIT_NS = 4;
const BOOTTIME = 6;
const INCREMENTAL_CLOCK = 64;
// TrackEvent.
const E_DEBUG_ANNOTATIONS = 4;
const E_TYPE = 9;
const E_NAME_IID = 10;
const E_TRACK_UUID = 11;
const E_NAME = 23;
const E_COUNTER_VALUE = 30;
const TYPE_SLICE_BEGIN = 1;
const TYPE_SLICE_END = 2;
const TYPE_INSTANT = 3;
const TYPE_COUNTER = 4;
// DebugAnnotation.
const A_NAME_IID = 1;
const A_BOOL = 2;
const A_UINT = 3;
const A_INT = 4;
const A_DOUBLE = 5;
const A_STRING = 6;
const A_NAME = 10;
// InternedData, EventName / DebugAnnotationName (iid = 1, name = 2).
const I_EVENT_NAMES = 2;
const I_ANNOTATION_NAMES = 3;
// TrackDescriptor, ProcessDescriptor, ThreadDescriptor.
const T_UUID = 1;
const T_NAME = 2;
const T_PROCESS = 3;
const T_THREAD = 4;
const T_PARENT_UUID = 5;
const T_COUNTER = 8;
const PD_PID = 1;
const PD_NAME = 6;
const TD_PID = 1;
const TD_TID = 2;
const TD_NAME = 5;

const PID = 1;
const PROCESS_UUID = 1;
const CPU_TRACK_BASE = 2;
const LOST_TRACK_BASE = 0x1000;
/** Slices open at once per CPU beyond which an `_enter` is exported as an instant. */
const MAX_DEPTH = 256;
/** Distinct strings per intern table; later ones are written inline. */
const INTERN_LIMIT = 1 << 16;
/** Nesting of messages inside a packet (packet > track_event > debug annotation). */
const MAX_NESTING = 8;

/** Protobuf into one growing buffer; nested lengths get one byte, moved up when larger. */
class ProtoBuffer {
  buf: Buffer;
  pos = 0;
  private readonly starts = new Int32Array(MAX_NESTING);
  private depth = 0;
  private readonly f64 = new Float64Array(1);
  private readonly f64u8 = new Uint8Array(this.f64.buffer);

  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafe(bytes);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A non-negative integer below 2^53. */
  varint(v: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      // `& 0x7f` wraps at 2^32, which keeps the low 7 bits of any integer.
      b[p++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    b[p++] = v;
    this.pos = p;
  }

  /** A 64-bit value as two 32-bit halves (unsigned), for u64 and negative int64. */
  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    lo >>>= 0;
    hi >>>= 0;
    while (hi !== 0 || lo > 0x7f) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  uint(field: number, v: number): void {
    this.tag(field, VARINT);
    this.varint(v);
  }

  double(field: number, v: number): void {
    this.tag(field, I64);
    this.ensure(8);
    this.f64[0] = v;
    this.buf.set(this.f64u8, this.pos);
    this.pos += 8;
  }

  string(field: number, s: string): void {
    const n = Buffer.byteLength(s);
    this.tag(field, LEN);
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos);
  }

  begin(field: number): void {
    this.tag(field, LEN);
    this.ensure(1);
    this.starts[this.depth++] = this.pos++;
  }

  end(): void {
    const at = this.starts[--this.depth]!;
    const n = this.pos - at - 1;
    if (n < 0x80) {
      this.buf[at] = n;
      return;
    }
    let width = 1;
    for (let v = n; v > 0x7f; v = Math.floor(v / 128)) width++;
    this.ensure(width - 1);
    this.buf.copy(this.buf, at + width, at + 1, this.pos);
    this.pos += width - 1;
    const keep = this.pos;
    this.pos = at;
    this.varint(n);
    this.pos = keep;
  }
}

/** Strings to iids, capped; iids start at 1. */
class InternTable {
  private readonly ids = new Map<string, number>();
  readonly names: string[] = [''];

  /** The string's iid, or 0 once the table is full. */
  iid(s: string): number {
    const id = this.ids.get(s);
    if (id !== undefined) return id;
    if (this.names.length > INTERN_LIMIT) return 0;
    this.ids.set(s, this.names.length);
    this.names.push(s);
    return this.names.length - 1;
  }
}

/** Which iids a sequence has been given, one bit each. */
class SentSet {
  private bits = new Uint8Array(64);
  has(iid: number): boolean {
    return iid >> 3 < this.bits.length && (this.bits[iid >> 3]! & (1 << (iid & 7))) !== 0;
  }
  add(iid: number): void {
    if (iid >> 3 >= this.bits.length) {
      const next = new Uint8Array(Math.max(this.bits.length * 2, (iid >> 3) + 1));
      next.set(this.bits);
      this.bits = next;
    }
    this.bits[iid >> 3]! |= 1 << (iid & 7);
  }
}

const Kind = { instant: 0, begin: 1, end: 2 } as const;
type Kind = (typeof Kind)[keyof typeof Kind];

/** What an event type becomes, worked out once per segment. */
interface TypeInfo {
  readonly descriptor: EventDescriptor | null;
  readonly kind: Kind;
  /** Event-name iid of the schema's display name (the slice's base name for begin / end); 0 if not interned. */
  readonly nameIid: number;
  readonly name: string;
  /** A number per base name, which an end matches against its begin. */
  readonly baseIid: number;
  /** The string field naming the event (`function`, else `name`), or null. */
  readonly nameField: string | null;
  /** Annotated fields, declaration order, with their annotation-name iids (0: inline). */
  readonly fields: readonly string[];
  readonly fieldIids: readonly number[];
}

/** One CPU's sequence in one segment. */
class Sequence {
  readonly id: number;
  readonly cpu: number;
  started = false;
  /** Last timestamp written, in the clock's units. */
  last = 0;
  readonly names = new SentSet();
  readonly annotationNames = new SentSet();
  readonly open = new Int32Array(MAX_DEPTH);
  depth = 0;

  constructor(id: number, cpu: number) {
    this.id = id;
    this.cpu = cpu;
  }
}

/**
 * Receives a trace file's read (a `TraceVisitor`) and writes the Perfetto trace to `fd`
 * as it goes. `finish()` closes open slices and flushes; the caller owns the fd.
 */
export class PerfettoExport implements TraceVisitor {
  private readonly fd: number;
  private readonly out: ProtoBuffer;
  private readonly flushAt: number;
  private readonly eventNames = new InternTable();
  private readonly annotationNames = new InternTable();
  private readonly described = new Set<number>();
  /** Slice base names to numbers (one per schema at most). */
  private readonly bases = new Map<string, number>();
  private readonly lostTotals = new Float64Array(MAX_CPUS + 1);
  private readonly flags = { truncated: false };
  private segmentIndex = -1;
  private cpus = 0;
  private unit = 1;
  private sequences: Sequence[] = [];
  private types = new Map<number, TypeInfo>();
  private schemas: ReadonlyMap<number, string> = new Map();
  /** Highest timestamp read in the segment (clock units): where a loss is placed. */
  private lastRead = 0;
  private corruptIid = 0;
  private reasonIid = 0;
  private packets = 0;
  private written = 0;
  private events = 0;
  private instants = 0;
  private slices = 0;
  private lostCount = 0;
  private corruptCount = 0;

  constructor(fd: number, bufferBytes = DEFAULT_BUFFER_BYTES) {
    this.fd = fd;
    this.flushAt = bufferBytes;
    this.out = new ProtoBuffer(bufferBytes + (bufferBytes >> 1));
  }

  stats(): PerfettoStats {
    return { packets: this.packets, bytes: this.written + this.out.pos, events: this.events, instants: this.instants, slices: this.slices, lost: this.lostCount, corrupt: this.corruptCount };
  }

  segment(segment: TraceSegment, index: number): void {
    this.closeSegment();
    this.segmentIndex = index;
    this.cpus = segment.info.cpus;
    this.unit = segment.info.clock === 'counter' ? 1000 : 1;
    this.sequences = [];
    for (let cpu = 0; cpu <= this.cpus; cpu++) this.sequences.push(new Sequence(1 + index * (MAX_CPUS + 1) + cpu, cpu));
    this.types = new Map();
    this.schemas = segment.schemas;
    this.lastRead = 0;
  }

  event(v: EventView): void {
    if (this.segmentIndex < 0) return;
    const seq = this.sequences[v.cpu];
    if (seq === undefined) return;
    const info = this.typeInfo(v.type);
    const ts = this.ticks(v.timestamp);
    if (ts > this.lastRead) this.lastRead = ts;
    let values: Record<string, unknown> | null = null;
    if (info.descriptor !== null && info.descriptor.layout.length > 0) {
      values = decodeFields(info.descriptor, v.u8, v.offset, v.length, this.flags);
      if (values === null) {
        this.damage(seq, ts, `event ${v.index} (${info.name}) does not decode with its schema`);
        return;
      }
    }
    let nameIid = info.nameIid;
    let name = info.name;
    if (info.nameField !== null && values !== null && typeof values[info.nameField] === 'string') {
      name = values[info.nameField] as string;
      nameIid = this.eventNames.iid(name);
    }
    let kind: Kind = info.kind;
    let closeTo = -1;
    if (kind === Kind.begin && seq.depth === MAX_DEPTH) kind = Kind.instant;
    else if (kind === Kind.end) {
      for (let d = seq.depth - 1; d >= 0; d--) {
        if (seq.open[d] === info.baseIid) {
          closeTo = d;
          break;
        }
      }
      if (closeTo < 0) kind = Kind.instant;
    }
    if (kind === Kind.end) {
      // Slices opened inside this one whose ends were lost end here first.
      while (seq.depth > closeTo + 1) this.sliceEnd(seq, ts, null, null);
      this.sliceEnd(seq, ts, info, values);
      return;
    }
    if (kind === Kind.instant && info.kind !== Kind.instant) {
      // An unmatched end or a begin too deep: an instant named by the schema itself.
      name = info.descriptor?.name ?? name;
      nameIid = this.eventNames.iid(name);
    }
    this.startPacket(seq, ts);
    const o = this.out;
    this.internNames(seq, nameIid, info);
    o.begin(P_TRACK_EVENT);
    o.uint(E_TYPE, kind === Kind.begin ? TYPE_SLICE_BEGIN : TYPE_INSTANT);
    if (nameIid !== 0) o.uint(E_NAME_IID, nameIid);
    else o.string(E_NAME, name);
    if (values !== null) this.annotations(info, values);
    o.end();
    this.endPacket();
    this.events++;
    if (kind === Kind.begin) {
      seq.open[seq.depth++] = info.baseIid;
      this.slices++;
    } else this.instants++;
  }

  lost(l: LostEvents): void {
    this.lostCount += l.count;
    const seq = this.sequences[l.cpu];
    if (seq === undefined) return;
    const ts = Math.max(this.lastRead, seq.last);
    this.startPacket(seq, ts);
    const o = this.out;
    o.begin(P_TRACK_EVENT);
    o.uint(E_TYPE, TYPE_INSTANT);
    o.string(E_NAME, `lost (${l.cause}) ${l.count}`);
    o.end();
    this.endPacket();
    this.events++;
    this.instants++;
    const counter = LOST_TRACK_BASE + l.cpu;
    if (!this.described.has(counter)) this.describeTrack(seq, counter, `cpu ${l.cpu} lost`, true);
    this.lostTotals[l.cpu]! += l.count;
    this.startPacket(seq, ts);
    o.begin(P_TRACK_EVENT);
    o.uint(E_TYPE, TYPE_COUNTER);
    o.uint(E_TRACK_UUID, counter);
    o.uint(E_COUNTER_VALUE, this.lostTotals[l.cpu]!);
    o.end();
    this.endPacket();
  }

  corrupt(r: CorruptionReport): void {
    const seq = this.sequences[r.cpu >= 0 && r.cpu < this.cpus ? r.cpu : this.cpus];
    if (seq === undefined) return;
    this.damage(seq, Math.max(this.lastRead, seq.last), r.reason);
  }

  /** Closes the open slices and writes what is buffered. */
  finish(): void {
    this.closeSegment();
    this.flush();
  }

  private damage(seq: Sequence, ts: number, reason: string): void {
    this.corruptCount++;
    if (this.corruptIid === 0) {
      this.corruptIid = this.eventNames.iid('corrupt');
      this.reasonIid = this.annotationNames.iid('reason');
    }
    this.startPacket(seq, ts);
    const o = this.out;
    const newName = this.corruptIid !== 0 && !seq.names.has(this.corruptIid);
    const newReason = this.reasonIid !== 0 && !seq.annotationNames.has(this.reasonIid);
    if (newName || newReason) {
      o.begin(P_INTERNED_DATA);
      if (newName) this.internEntry(I_EVENT_NAMES, this.corruptIid, 'corrupt', seq.names);
      if (newReason) this.internEntry(I_ANNOTATION_NAMES, this.reasonIid, 'reason', seq.annotationNames);
      o.end();
    }
    o.begin(P_TRACK_EVENT);
    o.uint(E_TYPE, TYPE_INSTANT);
    if (this.corruptIid !== 0) o.uint(E_NAME_IID, this.corruptIid);
    else o.string(E_NAME, 'corrupt');
    o.begin(E_DEBUG_ANNOTATIONS);
    if (this.reasonIid !== 0) o.uint(A_NAME_IID, this.reasonIid);
    else o.string(A_NAME, 'reason');
    o.string(A_STRING, reason);
    o.end();
    o.end();
    this.endPacket();
    this.events++;
    this.instants++;
  }

  private sliceEnd(seq: Sequence, ts: number, info: TypeInfo | null, values: Record<string, unknown> | null): void {
    this.startPacket(seq, ts);
    const o = this.out;
    if (info !== null && values !== null) this.internNames(seq, 0, info);
    o.begin(P_TRACK_EVENT);
    o.uint(E_TYPE, TYPE_SLICE_END);
    if (info !== null && values !== null) this.annotations(info, values);
    o.end();
    this.endPacket();
    seq.depth--;
    this.events++;
  }

  private closeSegment(): void {
    for (const seq of this.sequences) while (seq.depth > 0) this.sliceEnd(seq, seq.last, null, null);
  }

  private ticks(timestamp: number): number {
    return Math.max(0, Math.round(timestamp));
  }

  /** Opens a packet on `seq` at `ts`, writing the sequence's first packets if it has none yet. */
  private startPacket(seq: Sequence, ts: number): void {
    const o = this.out;
    if (!seq.started) this.startSequence(seq);
    if (ts < seq.last) {
      // Damage broke this CPU's order; the clock cannot step back by a delta: restate it.
      this.clockPacket(seq, ts, SEQ_NEEDS_INCREMENTAL_STATE);
    }
    if (o.pos >= this.flushAt) this.flush();
    o.begin(TRACE_PACKET);
    o.uint(P_TIMESTAMP, ts - seq.last);
    seq.last = ts;
    o.uint(P_SEQUENCE_ID, seq.id);
    o.uint(P_SEQUENCE_FLAGS, SEQ_NEEDS_INCREMENTAL_STATE);
  }

  private endPacket(): void {
    this.out.end();
    this.packets++;
  }

  private startSequence(seq: Sequence): void {
    seq.started = true;
    // Both clocks at 0: the first delta is the absolute time, and no reader's choice of
    // whether a snapshot's reading is scaled by unit_multiplier_ns can shift the axis.
    this.clockPacket(seq, 0, SEQ_INCREMENTAL_STATE_CLEARED);
    const track = seq.cpu < this.cpus ? CPU_TRACK_BASE + seq.cpu : CPU_TRACK_BASE + MAX_CPUS;
    if (!this.described.has(track)) this.describeTrack(seq, track, seq.cpu < this.cpus ? `cpu ${seq.cpu}` : 'damaged file records', false);
  }

  /** A packet holding the clock snapshot (and, first on a sequence, its defaults). */
  private clockPacket(seq: Sequence, ts: number, flags: number): void {
    const o = this.out;
    if (o.pos >= this.flushAt) this.flush();
    o.begin(TRACE_PACKET);
    o.uint(P_SEQUENCE_ID, seq.id);
    o.uint(P_SEQUENCE_FLAGS, flags);
    o.begin(P_CLOCK_SNAPSHOT);
    o.begin(CS_CLOCKS);
    o.uint(C_ID, BOOTTIME);
    o.uint(C_TIMESTAMP, ts * this.unit);
    o.end();
    o.begin(CS_CLOCKS);
    o.uint(C_ID, INCREMENTAL_CLOCK);
    o.uint(C_TIMESTAMP, ts);
    o.uint(C_INCREMENTAL, 1);
    o.uint(C_UNIT_NS, this.unit);
    o.end();
    o.end();
    if (flags === SEQ_INCREMENTAL_STATE_CLEARED) {
      o.begin(P_DEFAULTS);
      o.uint(D_TIMESTAMP_CLOCK_ID, INCREMENTAL_CLOCK);
      o.begin(D_TRACK_EVENT_DEFAULTS);
      o.uint(TED_TRACK_UUID, seq.cpu < this.cpus ? CPU_TRACK_BASE + seq.cpu : CPU_TRACK_BASE + MAX_CPUS);
      o.end();
      o.end();
    }
    this.endPacket();
    seq.last = ts;
  }

  private describeTrack(seq: Sequence, uuid: number, name: string, counter: boolean): void {
    const o = this.out;
    if (!this.described.has(PROCESS_UUID)) {
      this.described.add(PROCESS_UUID);
      o.begin(TRACE_PACKET);
      o.uint(P_SEQUENCE_ID, seq.id);
      o.uint(P_SEQUENCE_FLAGS, SEQ_NEEDS_INCREMENTAL_STATE);
      o.begin(P_TRACK_DESCRIPTOR);
      o.uint(T_UUID, PROCESS_UUID);
      o.begin(T_PROCESS);
      o.uint(PD_PID, PID);
      o.string(PD_NAME, 'ringtrace');
      o.end();
      o.end();
      this.endPacket();
    }
    this.described.add(uuid);
    o.begin(TRACE_PACKET);
    o.uint(P_SEQUENCE_ID, seq.id);
    o.uint(P_SEQUENCE_FLAGS, SEQ_NEEDS_INCREMENTAL_STATE);
    o.begin(P_TRACK_DESCRIPTOR);
    o.uint(T_UUID, uuid);
    o.string(T_NAME, name);
    if (counter) {
      o.uint(T_PARENT_UUID, CPU_TRACK_BASE + seq.cpu);
      o.begin(T_COUNTER);
      o.end();
    } else {
      o.begin(T_THREAD);
      o.uint(TD_PID, PID);
      o.uint(TD_TID, seq.cpu + 1);
      o.string(TD_NAME, name);
      o.end();
    }
    o.end();
    this.endPacket();
  }

  /** InternedData for the names this event uses that its sequence has not been given. */
  private internNames(seq: Sequence, nameIid: number, info: TypeInfo): void {
    const newName = nameIid !== 0 && !seq.names.has(nameIid);
    let newFields = false;
    for (const iid of info.fieldIids) if (iid !== 0 && !seq.annotationNames.has(iid)) newFields = true;
    if (!newName && !newFields) return;
    const o = this.out;
    o.begin(P_INTERNED_DATA);
    if (newName) this.internEntry(I_EVENT_NAMES, nameIid, this.eventNames.names[nameIid]!, seq.names);
    for (const iid of info.fieldIids) {
      if (iid !== 0 && !seq.annotationNames.has(iid)) this.internEntry(I_ANNOTATION_NAMES, iid, this.annotationNames.names[iid]!, seq.annotationNames);
    }
    o.end();
  }

  private internEntry(field: number, iid: number, name: string, sent: SentSet): void {
    const o = this.out;
    o.begin(field);
    o.uint(1, iid);
    o.string(2, name);
    o.end();
    sent.add(iid);
  }

  private annotations(info: TypeInfo, values: Record<string, unknown>): void {
    const o = this.out;
    for (let i = 0; i < info.fields.length; i++) {
      const key = info.fields[i]!;
      const v = values[key];
      o.begin(E_DEBUG_ANNOTATIONS);
      const iid = info.fieldIids[i]!;
      if (iid !== 0) o.uint(A_NAME_IID, iid);
      else o.string(A_NAME, key);
      const type = info.descriptor!.fields[key];
      if (typeof v === 'bigint') {
        o.tag(A_UINT, VARINT);
        o.varint64(Number(v & 0xffffffffn), Number(v >> 32n));
      } else if (typeof v === 'boolean') o.uint(A_BOOL, v ? 1 : 0);
      else if (typeof v === 'string') o.string(A_STRING, v);
      else if (typeof v === 'number' && type === 'f64') o.double(A_DOUBLE, v);
      else if (typeof v === 'number' && v < 0) {
        // int64 two's complement: ten bytes.
        o.tag(A_INT, VARINT);
        o.varint64(v | 0, -1);
      } else if (typeof v === 'number') o.uint(type === 'i32' ? A_INT : A_UINT, v);
      o.end();
    }
  }

  private typeInfo(type: number): TypeInfo {
    const known = this.types.get(type);
    if (known !== undefined) return known;
    let descriptor: EventDescriptor | null = null;
    let name = `type 0x${type.toString(16)}`;
    const json = this.schemas.get(type);
    if (json !== undefined) {
      try {
        descriptor = schemaFromJson(JSON.parse(json));
        name = descriptor.name;
      } catch {
        name += ' (damaged schema)';
      }
    }
    let kind: Kind = Kind.instant;
    let base = name;
    const m = descriptor === null ? null : /^(.+)_(enter|begin|exit|end)$/.exec(name);
    if (m !== null) {
      base = m[1]!;
      kind = m[2] === 'enter' || m[2] === 'begin' ? Kind.begin : Kind.end;
    }
    const fieldNames = descriptor === null ? [] : Object.keys(descriptor.fields);
    const nameField = descriptor === null ? null : (['function', 'name'].find((f) => descriptor.fields[f] === 'string') ?? null);
    const fields = fieldNames.filter((f) => f !== nameField);
    const display = kind === Kind.instant ? name : base;
    const info: TypeInfo = {
      descriptor,
      kind,
      name: display,
      nameIid: this.eventNames.iid(display),
      baseIid: this.baseId(base),
      nameField,
      fields,
      fieldIids: fields.map((f) => this.annotationNames.iid(f)),
    };
    this.types.set(type, info);
    return info;
  }

  private baseId(base: string): number {
    let id = this.bases.get(base);
    if (id === undefined) this.bases.set(base, (id = this.bases.size + 1));
    return id;
  }

  private flush(): void {
    const o = this.out;
    let at = 0;
    while (at < o.pos) at += writeSync(this.fd, o.buf, at, o.pos - at);
    this.written += o.pos;
    o.pos = 0;
  }
}

/**
 * Exports the trace file at `tracePath` to a Perfetto trace at `outPath` (overwritten).
 * Damage in the input is exported as `corrupt` instants, never thrown; a file that is not a
 * trace file throws TypeError before anything is written.
 */
export function writePerfetto(tracePath: string, outPath: string, options: PerfettoOptions = {}): PerfettoStats {
  checkOptionNames(options, OPTION_NAMES, 'writePerfetto: options');
  const bufferBytes = options.bufferBytes === undefined ? DEFAULT_BUFFER_BYTES : checkNumberOption('bufferBytes', options.bufferBytes, 4096, 1 << 28, true);
  if (typeof tracePath !== 'string') throw new TypeError(`writePerfetto: tracePath must be a string (got ${typeof tracePath})`);
  if (typeof outPath !== 'string') throw new TypeError(`writePerfetto: outPath must be a string (got ${typeof outPath})`);
  const reader = TraceFileReader.open(tracePath);
  const fd = openSync(outPath, 'w');
  try {
    const exporter = new PerfettoExport(fd, bufferBytes);
    reader.read(exporter);
    exporter.finish();
    return exporter.stats();
  } finally {
    closeSync(fd);
  }
}
