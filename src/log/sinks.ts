import { createWriteStream, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { EventLog, type LogEntry } from './event-log.js';
import { decode, encode, encodedLength } from './event-codec.js';
import { schemaFromJson, schemaToJson, type EventDescriptor } from './event-schema.js';
import { TraceFileReader } from '../trace/trace-reader.js';
import { readTraceLog } from './trace-log.js';
import { onProcessEnd } from './exit-hooks.js';

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

/** JSON lines: `{ "kind": "event", "name": ..., "slot": ..., "timestamp": ..., "values": {...} }` per line. */
export class JsonLinesSink implements LogSink {
  private readonly stream: WriteStream;
  private failed: Error | null = null;

  private constructor(stream: WriteStream) {
    this.stream = stream;
    stream.on('error', (err) => (this.failed = err));
  }

  static async open(path: string): Promise<JsonLinesSink> {
    const stream = createWriteStream(path, { flags: 'w' });
    await once(stream, 'open');
    return new JsonLinesSink(stream);
  }

  async write(entry: LogEntry): Promise<void> {
    if (this.failed !== null) throw this.failed;
    const line = `${JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`;
    if (!this.stream.write(line)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
    if (this.failed !== null) throw this.failed;
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
  if (TraceFileReader.is(file)) return readTraceLog(path);
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
