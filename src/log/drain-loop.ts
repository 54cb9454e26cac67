import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PageDrain } from '../trace/page-drain.js';
import { TraceFileWriter } from '../trace/trace-file.js';
import { D_BYTES, D_COMMAND, D_CORRUPT, D_EVENTS, D_FLUSHES_DONE, D_FLUSH_REQUESTS, D_LOST, D_PASSES, D_STATE, DrainCommand, DrainState } from './drain-control.js';
import { EventLog, logEntryOf, type EventLogHandle, type LogEntry } from './event-log.js';
import { schemaToJson } from './event-schema.js';
import type { LogSink } from './sinks.js';
import { JsonLineFormat } from './json-lines.js';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { checkNumberOption } from '../option-check.js';
import type { ReadVisitor, RingReader } from '../ring/reader.js';
import { RingBuffer } from '../ring/ring-buffer.js';

/** Where a drain thread writes. */
export type DrainSink =
  /** The binary log: a trace file of the ring's pages, copied as they are (`readBinaryLog`, `ringtrace report`). */
  | { readonly kind: 'binary'; readonly path: string; readonly flags?: 'a' | 'w'; readonly fsync?: boolean }
  /** JSON lines (`JsonLinesSink`), decoded and formatted in the drain thread; each line carries the epoch time. */
  | { readonly kind: 'jsonl'; readonly path: string; readonly flags?: 'a' | 'w'; readonly fsync?: boolean; readonly bufferBytes?: number }
  /** A module of yours whose default export makes a `LogSink`: `export default (options) => sink`. */
  | { readonly kind: 'module'; readonly module: string; readonly options?: unknown };

/**
 * A ring that is not an EventLog's (the machine's): where it lives, the schemas of the event
 * types its writers use (type -> schema JSON) and the segment's description. Binary sink only.
 */
export interface RingSource {
  readonly kind: 'ring';
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly schemas: ReadonlyArray<readonly [number, string]>;
  readonly description: unknown;
}

/** The drain thread's start message: an EventLog's handle, or a ring with its schemas. */
export interface DrainStart {
  readonly kind: 'log-drain';
  readonly log: EventLogHandle | RingSource;
  readonly control: SharedArrayBuffer;
  readonly sink: DrainSink;
  readonly flushMs: number;
  readonly pollMs: number;
}

/** What a drain writes to: one pass of the log at a time, then a last drain. */
interface DrainOutput {
  /** Takes what is committed (with `tail`, also the writers' unfilled pages) to the sink. Returns events taken. */
  pass(tail: boolean): Promise<number> | number;
  /** Everything committed, the last drops, then closes the sink. */
  finish(): Promise<void> | void;
  readonly events: number;
  readonly lost: number;
  readonly corrupt: number;
  readonly bytes: number;
}

/**
 * The binary log: pages copied out as they are; the schemas go into the file as they appear
 * (an EventLog's registry grows while it runs; a ring source gives them all at the start).
 */
class PageOutput implements DrainOutput {
  private readonly log: EventLog | null;
  private readonly drain: PageDrain;
  private schemas = 0;

  constructor(source: EventLog | RingSource, sink: Extract<DrainSink, { kind: 'binary' }>) {
    const file = TraceFileWriter.open(sink.path, { flags: sink.flags ?? 'a', fsync: sink.fsync ?? false });
    if (source instanceof EventLog) {
      this.log = source;
      this.drain = new PageDrain(source.ring, source.ring.reader(), file, { producer: 'ringtrace event log' });
    } else {
      this.log = null;
      const ring = RingBuffer.attach(source.buffer, source.byteOffset);
      this.drain = new PageDrain(ring, ring.reader(), file, source.description);
      for (const [type, json] of source.schemas) file.schema(type, json);
    }
  }

  pass(tail: boolean): number {
    const n = this.drain.pass(tail);
    this.writeSchemas();
    // Written at once: what left the ring is on its way to the file, whatever happens to this thread.
    if (n > 0 || tail) this.drain.file.flush();
    return n;
  }

  finish(): void {
    while (this.drain.pass(true) > 0);
    this.writeSchemas();
    this.drain.finish();
    this.drain.file.close();
  }

  private writeSchemas(): void {
    if (this.log === null) return;
    const all = this.log.registry.all();
    for (; this.schemas < all.length; this.schemas++) {
      const d = all[this.schemas]!;
      this.drain.file.schema(this.log.registry.typeOf(d), JSON.stringify(schemaToJson(d)));
    }
  }

  get events(): number {
    return this.drain.events;
  }
  get lost(): number {
    return this.drain.lostEvents;
  }
  get corrupt(): number {
    return this.drain.corruptReports;
  }
  get bytes(): number {
    return this.drain.file.written;
  }
}

/**
 * JSON lines formatted straight from the ring's bytes (`JsonLineFormat.writePayload`) into
 * one buffer, written with one synchronous `write(2)` when full or at the end of a pass:
 * no entry object, no promise per event. The lines are JsonLinesSink's.
 */
class JsonLineOutput implements DrainOutput {
  private readonly log: EventLog;
  private readonly reader: RingReader;
  private readonly format: JsonLineFormat;
  private readonly out: Buffer;
  private readonly fd: number;
  private readonly fsync: boolean;
  private at = 0;
  events = 0;
  lost = 0;
  corrupt = 0;
  bytes = 0;
  private readonly visitor: ReadVisitor;

  constructor(log: EventLog, sink: Extract<DrainSink, { kind: 'jsonl' }>) {
    this.log = log;
    const bufferBytes = checkNumberOption('sink.bufferBytes', sink.bufferBytes ?? 1 << 20, 4096, 1 << 28, true);
    if (sink.flags !== undefined && sink.flags !== 'a' && sink.flags !== 'w') throw new RangeError(`options.sink.flags must be 'a' (append) or 'w' (truncate) (got ${JSON.stringify(sink.flags)})`);
    this.fd = openSync(sink.path, sink.flags ?? 'a');
    this.fsync = sink.fsync === true;
    this.out = Buffer.allocUnsafe(bufferBytes);
    this.format = new JsonLineFormat(log.ring.config.clock === 'counter' ? {} : { epochMsAtZero: log.epochMs(0) });
    this.reader = log.ring.reader();
    const registry = log.registry;
    this.visitor = {
      event: (v) => {
        const d = registry.descriptorOf(v.type);
        let end = d === undefined ? -2 : this.format.writePayload(d, v.u8, v.offset, v.length, v.cpu, v.index, v.timestamp, this.out, this.at);
        if (end === -1) {
          this.flush();
          end = this.format.writePayload(d!, v.u8, v.offset, v.length, v.cpu, v.index, v.timestamp, this.out, 0);
        }
        if (end >= 0) {
          this.at = end;
          this.events++;
        } else {
          const entry = logEntryOf(d, registry.damageOf(v.type), v.type, v.cpu, v.index, v.timestamp, v.u8, v.offset, v.length, { truncated: false });
          this.entry(entry.kind === 'event' ? { kind: 'corrupt', slot: v.cpu, reason: `event ${v.index} (${entry.name}) is longer than the sink's buffer` } : entry);
        }
      },
      lost: (l) => this.entry({ kind: 'lost', slot: l.cpu, count: l.count, cause: l.cause, beforeIndex: l.beforeIndex }),
      corrupt: (r) => this.entry({ kind: 'corrupt', slot: r.cpu, reason: r.reason }),
    };
  }

  pass(): number {
    let n = 0;
    // Bounded per pass so commands and flush requests are seen between batches.
    for (let got = -1, rounds = 0; got !== 0 && rounds < 16; rounds++) n += got = this.reader.read(this.visitor, { maxEvents: 4096 });
    this.flush();
    return n;
  }

  finish(): void {
    this.reader.drain(this.visitor);
    this.flush();
    if (this.fsync) fsyncSync(this.fd);
    closeSync(this.fd);
  }

  private entry(entry: LogEntry): void {
    if (entry.kind === 'lost') this.lost += entry.count;
    else if (entry.kind === 'corrupt') this.corrupt++;
    let end = this.format.write(entry, this.out, this.at);
    if (end < 0) {
      this.flush();
      end = this.format.write(entry, this.out, 0);
    }
    if (end >= 0) this.at = end;
  }

  private flush(): void {
    for (let done = 0; done < this.at; ) done += writeSync(this.fd, this.out, done, this.at - done);
    this.bytes += this.at;
    this.at = 0;
  }
}

/** Entries decoded in this thread and handed to a LogSink (the user's). */
class EntryOutput implements DrainOutput {
  private readonly log: EventLog;
  private readonly sink: LogSink;
  private readonly batch: LogEntry[] = [];
  events = 0;
  lost = 0;
  corrupt = 0;
  readonly bytes = 0;

  constructor(log: EventLog, sink: LogSink) {
    this.log = log;
    this.sink = sink;
  }

  async pass(): Promise<number> {
    const batch = this.batch;
    const n = this.log.read((e) => batch.push(e), { maxEvents: 4096 });
    await this.write();
    return n;
  }

  async finish(): Promise<void> {
    this.log.drain((e) => this.batch.push(e));
    await this.write();
    await this.sink.close();
  }

  private async write(): Promise<void> {
    for (const e of this.batch) {
      if (e.kind === 'event') this.events++;
      else if (e.kind === 'lost') this.lost += e.count;
      else this.corrupt++;
      await this.sink.write(e);
    }
    this.batch.length = 0;
  }
}

/**
 * The output of a sink that can be drained synchronously (binary, JSON lines), for the
 * owner's exit path when the drain thread died: it goes on where the thread stopped (the
 * reader's state is in the shared memory), appending to the same file. Null for a user's
 * sink module, whose writes are asynchronous.
 */
export function openSyncOutput(source: DrainStart['log'], sink: DrainSink, deadThreadId: number): { finish(): void; readonly events: number } | null {
  if (sink.kind === 'module') return null;
  const log = source.kind === 'ringtrace-event-log' ? EventLog.attach(source) : null;
  const ring = log?.ring ?? RingBuffer.attach((source as RingSource).buffer, (source as RingSource).byteOffset);
  // The dead thread's claim on the reader role is the only thing in the way.
  ring.reclaimReader(deadThreadId);
  if (sink.kind === 'binary') return new PageOutput(log ?? (source as RingSource), { ...sink, flags: 'a' });
  return log === null ? null : new JsonLineOutput(log, { ...sink, flags: 'a' });
}

async function openOutput(log: EventLog, sink: DrainSink): Promise<DrainOutput> {
  if (sink.kind === 'binary') return new PageOutput(log, sink);
  if (sink.kind === 'jsonl') return new JsonLineOutput(log, sink);
  const mod = (await import(pathToFileURL(resolve(sink.module)).href)) as { default?: unknown };
  if (typeof mod.default !== 'function') throw new TypeError(`sink module ${sink.module} must export a default function that makes a LogSink`);
  const made = (await (mod.default as (options: unknown) => unknown)(sink.options)) as Partial<LogSink> | null;
  if (typeof made !== 'object' || made === null || typeof made.write !== 'function' || typeof made.close !== 'function') {
    throw new TypeError(`sink module ${sink.module}: its default export must return a LogSink ({ write(entry), close() })`);
  }
  return new EntryOutput(log, made as LogSink);
}

/**
 * The drain thread's loop: passes over the log while there is something to take, a pass
 * with the writers' unfilled pages every `flushMs` and on a flush request, sleeps on the
 * command word when idle, and on `finish` drains everything committed and closes the sink.
 */
export async function runDrainLoop(start: DrainStart): Promise<void> {
  const ctl = new Int32Array(start.control);
  const f64 = new Float64Array(start.control);
  let output: DrainOutput | null = null;
  const publish = (): void => {
    if (output === null) return;
    f64[D_EVENTS >> 3] = output.events;
    f64[D_LOST >> 3] = output.lost;
    f64[D_CORRUPT >> 3] = output.corrupt;
    f64[D_BYTES >> 3] = output.bytes;
  };
  const setState = (state: number): void => {
    // Publishes the stats above; pairs with the owner's Atomics.wait / load of the state.
    Atomics.store(ctl, D_STATE >> 2, state);
    Atomics.notify(ctl, D_STATE >> 2);
  };
  // A pending Atomics.waitAsync does not keep a thread's event loop alive: this does, until the loop returns.
  const alive = setInterval(() => undefined, 1 << 30);
  try {
    if (start.log.kind === 'ringtrace-event-log') {
      output = await openOutput(EventLog.attach(start.log), start.sink);
    } else {
      if (start.sink.kind !== 'binary') throw new TypeError('a ring that is not an EventLog drains to a binary sink only');
      output = new PageOutput(start.log, start.sink);
    }
    setState(DrainState.running);
    let lastTail = performance.now();
    let flushesSeen = 0;
    for (let passes = 1; ; passes++) {
      const finishing = Atomics.load(ctl, D_COMMAND >> 2) === DrainCommand.finish;
      if (finishing) {
        await output.finish();
        publish();
        setState(DrainState.finished);
        return;
      }
      const flushes = Atomics.load(ctl, D_FLUSH_REQUESTS >> 2);
      const now = performance.now();
      const tail = flushes !== flushesSeen || now - lastTail >= start.flushMs;
      if (tail) lastTail = now;
      const n = await output.pass(tail);
      f64[D_PASSES >> 3] = passes;
      publish();
      if (flushes !== flushesSeen) {
        flushesSeen = flushes;
        // Everything committed before the request is in the sink; pairs with the owner's wait.
        Atomics.store(ctl, D_FLUSHES_DONE >> 2, flushes);
        Atomics.notify(ctl, D_FLUSHES_DONE >> 2);
      }
      if (n === 0) {
        // Sleeps until the next pass is due, or a command or flush request arrives.
        const wait = Atomics.waitAsync(ctl, D_COMMAND >> 2, DrainCommand.run, start.pollMs);
        if (wait.async) await wait.value;
      }
    }
  } catch (err) {
    publish();
    setState(DrainState.failed);
    throw err;
  } finally {
    clearInterval(alive);
  }
}
