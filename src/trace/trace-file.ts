import { closeSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { checkOptionNames } from '../option-check.js';
import { align8 } from '../ring/record.js';
import { ClockKind, Mode, PAGE_HEADER_BYTES, type ClockName, type ModeName } from '../ring/layout.js';
import type { LossCause } from '../ring/reader.js';

/**
 * The trace file: what the drain copies out of a ring, page by page, and every reader of
 * a finished trace (`TraceFileReader`, `ringtrace report`, the exporters) reads. Committed
 * page bytes go in as the ring holds them (no event is decoded on the way out), with the
 * losses and damage the drain's reader found, where it found them.
 *
 * A file is the magic, then records; a file appended to by a later run holds one segment
 * per run, each opened by a segment record. Little-endian; every record is 8-byte aligned:
 *
 * ```
 * 0     "RTTRACE\n"                          magic (once per file)
 * then records:  u32 kind | u32 body bytes | body | zeros to the next multiple of 8
 *
 * kind 1 segment   u32 version | u32 cpus | u32 page bytes | u32 max payload | u32 mode
 *                  | u32 clock | f64 clock origin (ns, the process's monotonic clock)
 *                  | f64 epoch ms at the clock origin (NaN: unknown) | UTF-8 JSON of
 *                  the producer's description (may be empty)
 * kind 2 schema    u32 event type | UTF-8 JSON of its schema (the producer's format)
 * kind 3 chunk     u16 cpu | u16 0 | u32 from | u32 to | u32 events | u32 records
 *                  | u32 check | f64 page seq | f64 first index | the page header (64
 *                  bytes, as in the ring) | page bytes from..to (whole records)
 * kind 4 lost      u16 cpu | u8 cause (0 overrun, 1 dropped, 2 corrupt) | u8 0
 *                  | u32 check | f64 count | f64 before index
 * kind 5 corrupt   u16 cpu (0xffff: none) | u16 0 | i32 offset in page | f64 page seq
 *                  | UTF-8 reason
 * kind 6 end       u32 cpus | per CPU, six f64: written, entries, overrun, dropped, read,
 *                  lost to corruption (the ring's counters when the drain stopped)
 * kind 7 resume    u16 cpu | u16 0 | u32 check | f64 next index | f64 page seq | i32 offset
 *                  | u32 0 (where the drain took the CPU's stream up: a drain that goes on
 *                  from another, its first chunk may continue a page the other began)
 * ```
 *
 * The check words cover the record's other fixed fields (`fieldsCheck`), so damage to a
 * CPU number, a count or an index is found, not believed; the page header inside a chunk
 * carries the ring's own check word.
 *
 * A chunk is a byte range of one page: a page's first chunk starts at the page header's
 * end; a page the drain copied while it was still being written continues in a later
 * chunk. The header rides along in every chunk so each one decodes on its own.
 */
export const TRACE_MAGIC = 'RTTRACE\n';
export const TRACE_VERSION = 1;

export const RecordType = { segment: 1, schema: 2, chunk: 3, lost: 4, corrupt: 5, end: 6, resume: 7 } as const;

export const RECORD_HEAD_BYTES = 8;
/** Segment body: fixed part before the description. */
export const SEGMENT_FIXED_BYTES = 40;
export const S_VERSION = 0;
export const S_CPUS = 4;
export const S_PAGE_BYTES = 8;
export const S_MAX_PAYLOAD = 12;
export const S_MODE = 16;
export const S_CLOCK = 20;
export const S_ORIGIN_NS = 24;
export const S_EPOCH_MS = 32;
/** Chunk body: fixed part, then the page header, then the bytes. */
export const CHUNK_FIXED_BYTES = 40;
export const K_CPU = 0;
export const K_FROM = 4;
export const K_TO = 8;
export const K_EVENTS = 12;
export const K_RECORDS = 16;
export const K_CHECK = 20;
export const K_PAGE_SEQ = 24;
export const K_FIRST_INDEX = 32;
export const K_HEADER = CHUNK_FIXED_BYTES;
export const LOST_BYTES = 24;
export const L_CHECK = 4;
export const CORRUPT_FIXED_BYTES = 16;
export const RESUME_BYTES = 32;
export const R_CHECK = 4;
export const R_NEXT_INDEX = 8;
export const R_PAGE_SEQ = 16;
export const R_OFFSET = 24;
/** Counters per CPU in an end record. */
export const END_COUNTERS = ['written', 'entries', 'overrun', 'dropped', 'read', 'lostToCorruption'] as const;
export const NO_CPU = 0xffff;

export const lossCauses: readonly LossCause[] = ['overrun', 'dropped', 'corrupt'];

/** What a segment says of the ring it was drained from. */
export interface SegmentInfo {
  readonly cpus: number;
  readonly pageBytes: number;
  readonly maxPayloadBytes: number;
  readonly mode: ModeName;
  readonly clock: ClockName;
  readonly originNs: number;
  /** Wall-clock ms at the clock origin: `epochMs + timestamp / 1e6` is an event's wall time (hrtime clock). NaN if unknown. */
  readonly epochMs: number;
  /** The producer's own description (JSON), e.g. which program wrote the trace. */
  readonly description: unknown;
}

export interface TraceFileWriterOptions {
  /** `'a'`: append (what the file holds stays; a new segment follows it); `'w'`: truncate. Defaults to `'a'`, as for JSON lines. */
  readonly flags?: 'a' | 'w';
  /** Bytes gathered before a write to the file. Defaults to 1 MiB. */
  readonly bufferBytes?: number;
  /** fsync the file when it is closed. Defaults to false. */
  readonly fsync?: boolean;
}

const writerOptionNames = ['flags', 'bufferBytes', 'fsync'];

/**
 * Writes a trace file synchronously (so it works from an exit handler too), through one
 * buffer: a chunk is one copy from the ring into the buffer, and the buffer is written
 * whole. Not thread-safe: one writer per file.
 */
export class TraceFileWriter {
  readonly path: string;
  private fd: number;
  private readonly buf: Buffer;
  private at = 0;
  private readonly fsync: boolean;
  /** Bytes handed to the file so far (this writer's, not counting what was in it before). */
  written = 0;

  private constructor(path: string, fd: number, bufferBytes: number, fsync: boolean) {
    this.path = path;
    this.fd = fd;
    this.buf = Buffer.alloc(bufferBytes);
    this.fsync = fsync;
  }

  /** Opens `path` for a new segment. Validates the options (TypeError / RangeError naming the option). */
  static open(path: string, options: TraceFileWriterOptions = {}): TraceFileWriter {
    if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
    checkOptionNames(options, writerOptionNames, 'TraceFileWriter options');
    const flags = options.flags ?? 'a';
    if (flags !== 'a' && flags !== 'w') throw new RangeError(`options.flags must be 'a' (append) or 'w' (truncate) (got ${JSON.stringify(flags)})`);
    const bufferBytes = options.bufferBytes ?? 1 << 20;
    if (!Number.isInteger(bufferBytes) || bufferBytes < 1 << 16 || bufferBytes > 1 << 28) {
      throw new RangeError(`options.bufferBytes must be an integer between 65536 and 268435456 (got ${bufferBytes})`);
    }
    const fd = openSync(path, flags === 'a' ? 'a+' : 'w+');
    const writer = new TraceFileWriter(path, fd, bufferBytes, options.fsync === true);
    // A new or emptied file gets the magic; an appended one has it already (or is not a
    // trace file, which its reader reports).
    if (fstatSync(fd).size === 0) writer.raw(Buffer.from(TRACE_MAGIC, 'latin1'));
    return writer;
  }

  segment(info: Omit<SegmentInfo, 'description'> & { readonly description?: unknown }): void {
    const description = Buffer.from(info.description === undefined ? '' : JSON.stringify(info.description), 'utf8');
    const body = this.begin(RecordType.segment, SEGMENT_FIXED_BYTES + description.length);
    const b = this.buf;
    b.writeUInt32LE(TRACE_VERSION, body + S_VERSION);
    b.writeUInt32LE(info.cpus, body + S_CPUS);
    b.writeUInt32LE(info.pageBytes, body + S_PAGE_BYTES);
    b.writeUInt32LE(info.maxPayloadBytes, body + S_MAX_PAYLOAD);
    b.writeUInt32LE(Mode[info.mode], body + S_MODE);
    b.writeUInt32LE(ClockKind[info.clock], body + S_CLOCK);
    b.writeDoubleLE(info.originNs, body + S_ORIGIN_NS);
    b.writeDoubleLE(info.epochMs, body + S_EPOCH_MS);
    description.copy(b, body + SEGMENT_FIXED_BYTES);
    this.end(SEGMENT_FIXED_BYTES + description.length);
  }

  schema(type: number, json: string): void {
    const text = Buffer.from(json, 'utf8');
    const body = this.begin(RecordType.schema, 4 + text.length);
    this.buf.writeUInt32LE(type, body);
    text.copy(this.buf, body + 4);
    this.end(4 + text.length);
  }

  /** One chunk of a page, copied from `u8` (the ring's bytes; the page starts at `page`). */
  chunk(cpu: number, pageSeq: number, u8: Uint8Array, page: number, from: number, to: number, firstIndex: number, events: number, records: number): void {
    const bytes = CHUNK_FIXED_BYTES + PAGE_HEADER_BYTES + (to - from);
    const body = this.begin(RecordType.chunk, bytes);
    const b = this.buf;
    b.writeUInt16LE(cpu, body + K_CPU);
    b.writeUInt16LE(0, body + K_CPU + 2);
    b.writeUInt32LE(from, body + K_FROM);
    b.writeUInt32LE(to, body + K_TO);
    b.writeUInt32LE(events, body + K_EVENTS);
    b.writeUInt32LE(records, body + K_RECORDS);
    b.writeDoubleLE(pageSeq, body + K_PAGE_SEQ);
    b.writeDoubleLE(firstIndex, body + K_FIRST_INDEX);
    b.writeInt32LE(fieldsCheck(b, body, CHUNK_FIXED_BYTES, K_CHECK), body + K_CHECK);
    b.set(u8.subarray(page, page + PAGE_HEADER_BYTES), body + K_HEADER);
    b.set(u8.subarray(page + from, page + to), body + K_HEADER + PAGE_HEADER_BYTES);
    this.end(bytes);
  }

  lost(cpu: number, cause: LossCause, count: number, beforeIndex: number): void {
    const body = this.begin(RecordType.lost, LOST_BYTES);
    const b = this.buf;
    b.writeUInt16LE(cpu, body);
    b.writeUInt8(lossCauses.indexOf(cause), body + 2);
    b.writeUInt8(0, body + 3);
    b.writeDoubleLE(count, body + 8);
    b.writeDoubleLE(beforeIndex, body + 16);
    b.writeInt32LE(fieldsCheck(b, body, LOST_BYTES, L_CHECK), body + L_CHECK);
    this.end(LOST_BYTES);
  }

  corrupt(cpu: number, pageSeq: number, offset: number, reason: string): void {
    const text = Buffer.from(reason, 'utf8');
    const body = this.begin(RecordType.corrupt, CORRUPT_FIXED_BYTES + text.length);
    const b = this.buf;
    b.writeUInt16LE(cpu < 0 || cpu >= NO_CPU ? NO_CPU : cpu, body);
    b.writeUInt16LE(0, body + 2);
    b.writeInt32LE(offset, body + 4);
    b.writeDoubleLE(pageSeq, body + 8);
    text.copy(b, body + CORRUPT_FIXED_BYTES);
    this.end(CORRUPT_FIXED_BYTES + text.length);
  }

  /** Where the drain takes a CPU's stream up (see the byte map). */
  resume(cpu: number, nextIndex: number, pageSeq: number, offset: number): void {
    const body = this.begin(RecordType.resume, RESUME_BYTES);
    const b = this.buf;
    b.writeUInt16LE(cpu, body);
    b.writeUInt16LE(0, body + 2);
    b.writeDoubleLE(nextIndex, body + R_NEXT_INDEX);
    b.writeDoubleLE(pageSeq, body + R_PAGE_SEQ);
    b.writeInt32LE(offset, body + R_OFFSET);
    b.writeUInt32LE(0, body + R_OFFSET + 4);
    b.writeInt32LE(fieldsCheck(b, body, RESUME_BYTES, R_CHECK), body + R_CHECK);
    this.end(RESUME_BYTES);
  }

  /** The closing record of a segment: the ring's counters per CPU when the drain stopped. */
  endSegment(counters: readonly (readonly number[])[]): void {
    const bytes = 4 + counters.length * END_COUNTERS.length * 8;
    const body = this.begin(RecordType.end, bytes);
    this.buf.writeUInt32LE(counters.length, body);
    let at = body + 4;
    for (const cpu of counters) {
      for (let i = 0; i < END_COUNTERS.length; i++, at += 8) this.buf.writeDoubleLE(cpu[i] ?? NaN, at);
    }
    this.end(bytes);
  }

  /** Writes what the buffer holds to the file. */
  flush(): void {
    let done = 0;
    while (done < this.at) done += writeSync(this.fd, this.buf, done, this.at - done);
    this.written += this.at;
    this.at = 0;
  }

  /** Flushes, fsyncs if asked, closes. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    if (this.fsync) fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }

  /** Room for a record of `bytes` body bytes; returns where its body starts in the buffer. */
  private begin(kind: number, bytes: number): number {
    if (this.fd < 0) throw new Error(`the trace file ${this.path} is closed`);
    const total = RECORD_HEAD_BYTES + align8(bytes);
    if (this.at + total > this.buf.length) this.flush();
    if (total > this.buf.length) throw new RangeError(`a record of ${bytes} bytes does not fit the trace file's buffer of ${this.buf.length} bytes`);
    this.buf.writeUInt32LE(kind, this.at);
    this.buf.writeUInt32LE(bytes, this.at + 4);
    return this.at + RECORD_HEAD_BYTES;
  }

  private end(bytes: number): void {
    const start = this.at + RECORD_HEAD_BYTES;
    this.buf.fill(0, start + bytes, start + align8(bytes));
    this.at = start + align8(bytes);
  }

  private raw(bytes: Uint8Array): void {
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }
}


/**
 * Check word over the `bytes` fixed bytes of a record body at `body`, skipping the check
 * word itself at `skip` (both multiples of 4). Computed once per record.
 */
export function fieldsCheck(b: Buffer, body: number, bytes: number, skip: number): number {
  let h = 0x2f6b1e3d;
  for (let at = 0; at < bytes; at += 4) {
    if (at === skip) continue;
    h = Math.imul(h ^ b.readInt32LE(body + at), 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h | 0;
}
