import { createWriteStream, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { EventLog, type LogEntry } from './event-log.js';
import { decode, encode, encodedLength } from './payload-codec.js';
import { schemaFromJson, schemaToJson, type EventDescriptor } from './event-schema.js';
import { TraceFileReader } from '../trace/trace-reader.js';
import { readTraceLog } from './trace-log.js';
import { onProcessEnd } from './exit-hooks.js';
import { open as fsOpen, type FileHandle } from 'node:fs/promises';
import { checkNumberOption } from '../option-check.js';
import { JsonLineFormat } from './json-lines.js';

/**
 * Where a log's events go: JSON lines (one entry per line, written with back-pressure),
 * and the dump — an image of the log's memory, schemas included, that any process can
 * attach to and read with the same reader (`loadDump`; `ringtrace report` later).
 */
export interface LogSink {
  /** Resolves when the sink can take more (back-pressure). */
  write(entry: LogEntry): Promise<void>;
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

export interface JsonLinesSinkOptions {
  /**
   * Bytes of formatted lines gathered before one `write(2)`, 4096 to 268435456. Two such
   * buffers: one fills while the other is written. Defaults to 1048576 (1 MiB), which
   * keeps the writes few enough that formatting, not the file, sets the pace.
   */
  readonly bufferBytes?: number;
  /** `'a'`: append to the file (a restarted process keeps its earlier lines, as pino does); `'w'`: truncate it. Defaults to `'a'`. */
  readonly flags?: 'a' | 'w';
  /** Whether `close()` calls `fsync(2)` before closing, so the lines survive a power cut. Defaults to false. */
  readonly fsync?: boolean;
  /**
   * The log whose entries the sink writes: with it, each event line carries `time` (epoch
   * ms, `log.epochMs`) when the log's clock is `hrtime` or `coarse`. Without it, or with a
   * `counter` clock, lines carry the log's timestamp `t` alone.
   */
  readonly log?: EventLog;
}

const JSON_LINES_OPTIONS: readonly string[] = ['bufferBytes', 'flags', 'fsync', 'log'];
const DEFAULT_JSON_LINES_BUFFER_BYTES = 1 << 20;
const MIN_BUFFER_BYTES = 4096;
const MAX_BUFFER_BYTES = 1 << 28;

/** JsonLinesSink's options, checked: TypeError for a wrong type or an unknown name, RangeError for a bad value. */
function resolveJsonLinesOptions(options: unknown): { bufferBytes: number; flags: 'a' | 'w'; fsync: boolean; log: EventLog | null } {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError('JsonLinesSink options must be an object');
  for (const key of Object.keys(options)) {
    if (!JSON_LINES_OPTIONS.includes(key)) throw new TypeError(`unknown JsonLinesSink option ${JSON.stringify(key)} (options are ${JSON_LINES_OPTIONS.join(', ')})`);
  }
  const o = options as JsonLinesSinkOptions;
  const bufferBytes = checkNumberOption('bufferBytes', o.bufferBytes ?? DEFAULT_JSON_LINES_BUFFER_BYTES, MIN_BUFFER_BYTES, MAX_BUFFER_BYTES, true);
  const flags = o.flags ?? 'a';
  if (flags !== 'a' && flags !== 'w') throw new RangeError(`options.flags must be 'a' (append) or 'w' (truncate) (got ${JSON.stringify(flags)})`);
  const fsync = o.fsync ?? false;
  if (typeof fsync !== 'boolean') throw new TypeError(`options.fsync must be a boolean (got ${typeof fsync})`);
  const log = o.log ?? null;
  if (log !== null && !(log instanceof EventLog)) throw new TypeError('options.log must be an EventLog');
  return { bufferBytes, flags, fsync, log };
}

/**
 * JSON lines (the line shape is `JsonLineFormat`'s, json-lines.ts). Lines are formatted
 * straight into a Buffer of `bufferBytes` and written with one `write(2)` when it is full;
 * a write is awaited only when the previous one has not finished (back-pressure), so the
 * consumer formats while the file is written.
 */
export class JsonLinesSink implements LogSink {
  private readonly file: FileHandle;
  private readonly format: JsonLineFormat;
  private readonly fsync: boolean;
  private buffer: Buffer;
  private spare: Buffer;
  private at = 0;
  /** The write in flight (of `spare`), if any. */
  private pending: Promise<void> | null = null;
  private closed = false;
  /** The first failed write: every later write, flush and close rethrows it (lines after it would leave a hole). */
  private failed: Error | null = null;

  private constructor(file: FileHandle, format: JsonLineFormat, bufferBytes: number, fsync: boolean) {
    this.file = file;
    this.format = format;
    this.fsync = fsync;
    this.buffer = Buffer.allocUnsafe(bufferBytes);
    this.spare = Buffer.allocUnsafe(bufferBytes);
  }

  /** Opens (creates) the file: appends by default (`flags: 'w'` truncates). Rejects bad options with a TypeError / RangeError. */
  static async open(path: string, options: JsonLinesSinkOptions = {}): Promise<JsonLinesSink> {
    const o = resolveJsonLinesOptions(options);
    const clock = o.log?.ring.config.clock;
    const format = new JsonLineFormat(o.log === null || clock === 'counter' ? {} : { epochMsAtZero: o.log.epochMs(0) });
    const file = await fsOpen(path, o.flags);
    return new JsonLinesSink(file, format, o.bufferBytes, o.fsync);
  }

  async write(entry: LogEntry): Promise<void> {
    if (this.closed) throw new Error('write() on a closed JsonLinesSink');
    if (this.failed !== null) throw this.failed;
    let end = this.format.write(entry, this.buffer, this.at);
    if (end < 0) {
      await this.flush();
      end = this.format.write(entry, this.buffer, 0);
      if (end < 0) {
        // A line longer than the whole buffer: written on its own.
        try {
          await writeAll(this.file, Buffer.from(this.format.line(entry), 'utf8'));
        } catch (err) {
          this.failed = err instanceof Error ? err : new Error(String(err));
          throw this.failed;
        }
        return;
      }
    }
    this.at = end;
  }

  /** Writes every line formatted so far and waits until the file has them. */
  async flush(): Promise<void> {
    if (this.failed !== null) throw this.failed;
    if (this.pending !== null) {
      const pending = this.pending;
      this.pending = null;
      try {
        await pending;
      } catch (err) {
        this.failed = err instanceof Error ? err : new Error(String(err));
        throw this.failed;
      }
    }
    if (this.at === 0) return;
    const full = this.buffer;
    const n = this.at;
    this.buffer = this.spare;
    this.spare = full;
    this.at = 0;
    // Awaited by the next flush, before `full` is filled again.
    this.pending = writeAll(this.file, full.subarray(0, n));
    this.pending.catch(() => {}); // the error is rethrown where the write is awaited
  }

  /** Flushes, waits for the file, fsyncs if asked, and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
      await this.flush(); // waits for the write the first one started
      if (this.fsync) await this.file.sync();
    } finally {
      await this.file.close();
    }
  }
}

/** Writes all of `bytes` (a file write may write fewer than asked). */
async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done);
    if (bytesWritten <= 0) throw new Error(`write(2) wrote ${bytesWritten} bytes`);
    done += bytesWritten;
  }
}

/** Streams a log's events into a sink until `signal` aborts; then drains what is left and closes the sink. */
export async function pipeLog(log: EventLog, sink: LogSink, options: { readonly signal?: AbortSignal; readonly pollMs?: number } = {}): Promise<number> {
  let n = 0;
  try {
    for await (const entry of log.events(options)) {
      await sink.write(entry);
      n++;
    }
  } finally {
    await sink.close();
  }
  return n;
}

/**
 * The binary log: the same entries as JSON lines, compactly, with the schemas inside so
 * the file decodes on its own (`readBinaryLog`). Little-endian:
 *
 * ```
 * "RTLOG01\n"                                   magic
 * then records, each: u8 kind, u32 body length, body
 *   kind 1 schema:  u16 schema id, UTF-8 JSON of the schema (schemaToJson)
 *   kind 2 event:   u16 schema id, u16 slot, f64 index, f64 timestamp, payload (the event codec's bytes)
 *   kind 3 lost:    u16 slot, u8 cause (0 overrun, 1 dropped, 2 corrupt), f64 count, f64 before index
 *   kind 4 corrupt: i16 slot (-1: none), UTF-8 reason (what the log reported as damaged)
 * ```
 */
const BINARY_MAGIC = 'RTLOG01\n';
const causes = ['overrun', 'dropped', 'corrupt'] as const;

export class BinaryLogSink implements LogSink {
  private readonly stream: WriteStream;
  private readonly log: EventLog;
  private readonly ids = new Map<string, number>();
  private failed: Error | null = null;

  private constructor(stream: WriteStream, log: EventLog) {
    this.stream = stream;
    this.log = log;
    stream.on('error', (err) => (this.failed = err));
  }

  /** A binary log file for `log`'s entries (the schemas come from it). */
  static async open(path: string, log: EventLog): Promise<BinaryLogSink> {
    const stream = createWriteStream(path, { flags: 'w' });
    await once(stream, 'open');
    stream.write(Buffer.from(BINARY_MAGIC, 'latin1'));
    return new BinaryLogSink(stream, log);
  }

  async write(entry: LogEntry): Promise<void> {
    if (this.failed !== null) throw this.failed;
    let ok = true;
    if (entry.kind === 'event') {
      const descriptor = this.log.registry.all().find((d) => d.name === entry.name);
      if (descriptor === undefined) throw new Error(`event ${entry.name} has no schema in the log`);
      let id = this.ids.get(entry.name);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(entry.name, id);
        const json = Buffer.from(JSON.stringify(schemaToJson(descriptor)), 'utf8');
        ok = this.record(1, Buffer.concat([u16(id), json]));
      }
      const values = entry.values as never;
      const payload = Buffer.alloc(encodedLength(descriptor, values));
      encode(descriptor, values, payload, 0);
      const head = Buffer.alloc(2 + 2 + 8 + 8);
      head.writeUInt16LE(id, 0);
      head.writeUInt16LE(entry.slot, 2);
      head.writeDoubleLE(entry.index, 4);
      head.writeDoubleLE(entry.timestamp, 12);
      ok = this.record(2, Buffer.concat([head, payload])) && ok;
    } else if (entry.kind === 'lost') {
      const body = Buffer.alloc(2 + 1 + 8 + 8);
      body.writeUInt16LE(entry.slot, 0);
      body.writeUInt8(causes.indexOf(entry.cause), 2);
      body.writeDoubleLE(entry.count, 3);
      body.writeDoubleLE(entry.beforeIndex, 11);
      ok = this.record(3, body);
    } else {
      const reason = Buffer.from(entry.reason, 'utf8');
      const body = Buffer.alloc(2 + reason.length);
      body.writeInt16LE(entry.slot, 0);
      reason.copy(body, 2);
      ok = this.record(4, body);
    }
    if (!ok) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
    if (this.failed !== null) throw this.failed;
  }

  private record(kind: number, body: Buffer): boolean {
    const head = Buffer.alloc(5);
    head.writeUInt8(kind, 0);
    head.writeUInt32LE(body.length, 1);
    return this.stream.write(Buffer.concat([head, body]));
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n, 0);
  return b;
}

/** Bytes of an event record's head: schema id u16, slot u16, index f64, timestamp f64. */
const EVENT_HEAD_BYTES = 20;
/** Bytes of a lost record: slot u16, cause u8, count f64, before-index f64. */
const LOST_BYTES = 19;

/**
 * Reads a binary log file back into entries. Damage never throws (only a file that is not
 * a binary log at all does): a record that does not parse becomes a `corrupt` entry (slot
 * -1, the byte offset in its reason) and the read goes on with the next record, since each
 * record carries its length; a file cut off mid-record (a process killed while writing)
 * ends with one `corrupt` entry for the tail.
 */
export function readBinaryLog(path: string): LogEntry[] {
  return parseBinaryLog(path).entries;
}

/** readBinaryLog, and the readable schemas the file carries (for exporters that need the field types). */
export function parseBinaryLog(path: string): { entries: LogEntry[]; schemas: EventDescriptor[] } {
  const file = readFileSync(path);
  // A drain thread's binary log is a trace file of pages.
  if (TraceFileReader.is(file)) return readTraceLog(path, file);
  if (file.subarray(0, BINARY_MAGIC.length).toString('latin1') !== BINARY_MAGIC) throw new TypeError(`${path} is not a ringtrace binary log (bad magic)`);
  const schemas = new Map<number, EventDescriptor>();
  const damaged = new Map<number, string>();
  const out: LogEntry[] = [];
  const corrupt = (at: number, why: string): void => void out.push({ kind: 'corrupt', slot: -1, reason: `record at byte ${at}: ${why}` });
  for (let at = BINARY_MAGIC.length; at < file.length; ) {
    if (at + 5 > file.length) {
      corrupt(at, `the file ends inside a record header (${file.length - at} of 5 bytes)`);
      break;
    }
    const kind = file.readUInt8(at);
    const length = file.readUInt32LE(at + 1);
    const body = file.subarray(at + 5, at + 5 + length);
    if (body.length !== length) {
      corrupt(at, `the file ends inside the record (${body.length} of ${length} bytes)`);
      break;
    }
    if (kind === 1 && length >= 2) {
      const id = body.readUInt16LE(0);
      try {
        schemas.set(id, schemaFromJson(body.subarray(2).toString('utf8')));
        damaged.delete(id);
      } catch (err) {
        schemas.delete(id);
        damaged.set(id, `schema ${id} at byte ${at} is damaged: ${(err as Error).message}`);
        corrupt(at, `schema ${id} does not parse: ${(err as Error).message}`);
      }
    } else if (kind === 2 && length >= EVENT_HEAD_BYTES) {
      const id = body.readUInt16LE(0);
      const descriptor = schemas.get(id);
      const payload = new Uint8Array(body.subarray(EVENT_HEAD_BYTES));
      const values = descriptor === undefined ? null : decode(descriptor, payload, 0, payload.length);
      if (descriptor === undefined) corrupt(at, `event of schema ${id}, ${damaged.get(id) ?? 'which no earlier record defines'}`);
      else if (values === null) corrupt(at, `event (${descriptor.name}) does not decode with its schema`);
      else {
        const { truncated, ...fields } = values;
        out.push({ kind: 'event', name: descriptor.name, slot: body.readUInt16LE(2), index: body.readDoubleLE(4), timestamp: body.readDoubleLE(12), values: fields, truncated });
      }
    } else if (kind === 3 && length === LOST_BYTES) {
      const cause = causes[body.readUInt8(2)];
      if (cause === undefined) corrupt(at, `lost record with unknown cause ${body.readUInt8(2)}`);
      else out.push({ kind: 'lost', slot: body.readUInt16LE(0), cause, count: body.readDoubleLE(3), beforeIndex: body.readDoubleLE(11) });
    } else if (kind === 4 && length >= 2) {
      out.push({ kind: 'corrupt', slot: body.readInt16LE(0), reason: body.subarray(2).toString('utf8') });
    } else {
      corrupt(at, kind >= 1 && kind <= 4 ? `record of kind ${kind} is too short (${length} bytes)` : `unknown record kind ${kind} (${length} bytes skipped)`);
    }
    at += 5 + length;
  }
  return { entries: out, schemas: [...schemas.values()] };
}

const DUMP_MAGIC = 'RTDUMP01';

/**
 * Writes the log's memory to a file, synchronously (safe from an uncaught-exception or a
 * signal handler). The file is the magic, then the memory image; `loadDump` attaches to it.
 */
export function writeDump(log: EventLog, path: string): void {
  const image = new Uint8Array(log.handle.buffer);
  const out = new Uint8Array(DUMP_MAGIC.length + image.length);
  out.set(new TextEncoder().encode(DUMP_MAGIC), 0);
  out.set(image, DUMP_MAGIC.length);
  writeFileSync(path, out);
}

/** Reads a dump back as an EventLog (its own copy of the memory). */
export function loadDump(path: string): EventLog {
  const file = readFileSync(path);
  if (file.subarray(0, DUMP_MAGIC.length).toString('latin1') !== DUMP_MAGIC) {
    throw new TypeError(`${path} is not a ringtrace dump (bad magic)`);
  }
  const sab = new SharedArrayBuffer(file.length - DUMP_MAGIC.length);
  new Uint8Array(sab).set(file.subarray(DUMP_MAGIC.length));
  // The image may hold the claims of threads that no longer exist; the copy is ours alone.
  return EventLog.attach({ kind: 'ringtrace-event-log', buffer: sab }).forgetOwners();
}

/**
 * The flight-recorder recipe: keep the last events in an overwrite-mode log, and dump it
 * when the process dies of an uncaught exception or receives one of `signals`. After the
 * dump a signal ends the process as it would have (unless another listener handles it).
 * Returns a function that uninstalls the handlers.
 */
export function installFlightRecorder(log: EventLog, path: string, options: { readonly signals?: readonly NodeJS.Signals[] } = {}): () => void {
  const dump = (): void => {
    try {
      writeDump(log, path);
    } catch {
      // The process may be going down; the original error is what matters.
    }
  };
  // Runs before the process dies of an uncaught exception, without changing that outcome.
  process.on('uncaughtExceptionMonitor', dump);
  const signals = options.signals ?? [];
  const removeSignals = signals.length > 0 ? onProcessEnd(dump, { exit: false, signals }) : () => undefined;
  return () => {
    process.off('uncaughtExceptionMonitor', dump);
    removeSignals();
  };
}
