import { createWriteStream, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { EventLog, type LogEntry } from './event-log.js';

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
 * when the process dies of an uncaught exception or receives one of `signals`. Returns a
 * function that uninstalls the handlers.
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
  for (const s of options.signals ?? []) process.on(s, dump);
  return () => {
    process.off('uncaughtExceptionMonitor', dump);
    for (const s of options.signals ?? []) process.off(s, dump);
  };
}
