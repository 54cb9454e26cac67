import { availableParallelism } from 'node:os';
import { threadId, type Worker } from 'node:worker_threads';
import { RingClosedError, RingLayoutError, RingOwnershipError } from '../ring/errors.js';
import { G_HRTIME_ORIGIN, type ClockName, type ModeName } from '../ring/layout.js';
import { epochMsAt } from '../ring/clock.js';
import type { CorruptionReport, EventView, LossCause, RingReader } from '../ring/reader.js';
import { RingBuffer, type CpuStats } from '../ring/ring-buffer.js';
import { maxPayloadLimit } from '../ring/options.js';
import type { CpuWriter } from '../ring/writer.js';
import { checkedLength, compiledEncoder, createRecord, decodeFields, type EventRecord } from './payload-codec.js';
import { defineEvent, FLAG_TRUNCATED, type EventDescriptor, type EventValues, type FieldSpec } from './event-schema.js';
import { REGISTRY_HEADER_BYTES, SchemaRegistry, TYPE_BASE } from './schema-registry.js';
import { checkOptionNames } from '../option-check.js';

/**
 * ringtrace as an application's event log: typed events from any worker thread into
 * per-thread slots of a lock-free ring, consumed merged by timestamp, with explicit loss
 * records, a flight-recorder snapshot and stats.
 *
 * Memory (one SharedArrayBuffer; this module owns the log header):
 *
 * | off | width | word                 | written by        | read by        | how                          |
 * |-----|-------|----------------------|-------------------|----------------|------------------------------|
 * | 0   | u32   | magic "RTEL"         | create            | attach         | posting the handle           |
 * | 4   | u32   | layout version       | create            | attach         | posting the handle           |
 * | 8   | u32   | registry bytes       | create            | all            | posting the handle           |
 * | 12  | u32   | ring offset          | create            | all            | posting the handle           |
 * | 16  | u32   | on slots exhausted   | create            | all            | posting the handle           |
 * | 20  | u32   | slots                | create            | attach         | posting the handle           |
 * | 24  | u32   | on bad event         | create            | all            | posting the handle           |
 * | 64  | i32   | shared slot lock     | shared writers    | shared writers | compareExchange / store      |
 * | 128 | f64   | shared lock timeouts | shared writers    | stats          | plain, racy                  |
 * 256            slot counters: one cache line per slot (below)
 * 256 + 64 x slots   schema registry (schema-registry.ts), then the ring (its own byte map)
 *
 * Slot counters, from the slot's line; each written by the slot's writer alone (on the
 * shared slot, under its lock), so a thread's counting never bounces another's line:
 *
 * | off | width | word                           | written by   | read by | how         |
 * |-----|-------|--------------------------------|--------------|---------|-------------|
 * | 0   | f64   | events with a string cut       | slot writer  | stats   | plain, racy |
 * | 8   | f64   | bad events (onBadEvent record) | slot writer  | stats   | plain, racy |
 */
const MAGIC = 0x4c455452; // "RTEL"
const VERSION = 2;
const HEADER_BYTES = 256;
const L_MAGIC = 0;
const L_VERSION = 4;
const L_REGISTRY_BYTES = 8;
const L_RING_OFFSET = 12;
const L_EXHAUSTED = 16;
const L_SLOTS = 20;
const L_ON_BAD_EVENT = 24;
const L_SHARED_LOCK = 64;
const L_LOCK_TIMEOUTS = 128;
const SLOT_COUNTER_BYTES = 64;
const S_TRUNCATED = 0;
const S_BAD_EVENTS = 8;
const SHARED_LOCK_SPINS = 10_000;

export interface EventLogOptions {
  /** Writer slots: threads that can write at once, each with its own lock-free buffer. Defaults to `os.availableParallelism()`. */
  readonly slots?: number;
  /** Pages per slot. Defaults to 64. */
  readonly pagesPerSlot?: number;
  /** Bytes per page, a power of two. Defaults to 8192. */
  readonly pageBytes?: number;
  /**
   * Largest encoded event, bytes; at most a quarter of a page. An event's strings are cut
   * (flagged `truncated`, counted in `stats().truncatedEvents`) to keep it within this.
   * Defaults to 1024 (or the page's limit, if lower).
   */
  readonly maxEventBytes?: number;
  /**
   * When a slot's ring is full: `overwrite` (a flight recorder: keep the newest), `discard`
   * (keep the oldest: the new event is dropped and counted) or `block` (the writer waits up to
   * `blockTimeoutMs` for the consumer to free a page, then drops and counts as `discard`; the
   * consumer must run on another thread, such as a `DrainThread`). Defaults to `discard`.
   */
  readonly mode?: ModeName;
  /**
   * Mode `block` only: the most one emit waits for a free page, ms (an integer). A writer on
   * the main thread stalls its event loop for up to this long. Defaults to 5.
   */
  readonly blockTimeoutMs?: number;
  /**
   * Timestamps: `hrtime` (ns, precise; one short-lived 16-byte heap number per event, as
   * Node 20 has no precise clock that never allocates), `coarse` (µs from a ticker thread,
   * up to a tick period stale; allocates nothing) or `counter` (a global ticket, a total
   * order but no time; allocates nothing, one cache line all writers share). Defaults to `hrtime`.
   */
  readonly clock?: ClockName;
  /**
   * When every slot is taken: `error` (writer() throws) or `shared` (the last slot is kept
   * for such threads, which take turns on it under a lock). Defaults to `error`.
   */
  readonly onSlotsExhausted?: 'error' | 'shared';
  /** Bytes for event schemas. Defaults to 65536. */
  readonly registryBytes?: number;
  /**
   * What `emit` does with bad input (a value of the wrong type or out of range, a missing or
   * unknown field, something that is not a `defineEvent` descriptor, a schema the log cannot
   * take): `record` counts it (`stats().badEvents`), writes a `ringtrace_bad_event` (`BadEvent`:
   * the event's name and the reason) in its place and returns false, so a logging call never
   * takes its caller down; `throw` throws the TypeError / RangeError (for tests).
   * Defaults to `record`.
   */
  readonly onBadEvent?: 'record' | 'throw';
}

const LOG_OPTION_NAMES: readonly (keyof EventLogOptions)[] = [
  'slots',
  'pagesPerSlot',
  'pageBytes',
  'maxEventBytes',
  'mode',
  'blockTimeoutMs',
  'clock',
  'onSlotsExhausted',
  'registryBytes',
  'onBadEvent',
];
const EVENTS_OPTION_NAMES = ['signal', 'pollMs'] as const;

/**
 * The event a log writes in place of a bad one (`onBadEvent: 'record'`): the name of the
 * event that was refused (empty when there was no descriptor) and why, both cut to fit
 * the log's maxEventBytes.
 */
export const BadEvent = defineEvent('ringtrace_bad_event', { event: 'string', reason: 'string' });

/** What to pass to another thread (workerData, postMessage): structured-cloneable. */
export interface EventLogHandle {
  readonly kind: 'ringtrace-event-log';
  readonly buffer: SharedArrayBuffer;
}

export type LogEntry =
  | {
      readonly kind: 'event';
      readonly name: string;
      readonly slot: number;
      /** Per-slot index: events the slot reserved before this one. */
      readonly index: number;
      readonly timestamp: number;
      readonly values: Readonly<Record<string, unknown>>;
      readonly truncated: boolean;
    }
  | { readonly kind: 'lost'; readonly slot: number; readonly count: number; readonly cause: LossCause; readonly beforeIndex: number }
  | { readonly kind: 'corrupt'; readonly slot: number; readonly reason: string };

export interface LogStats {
  readonly slots: readonly CpuStats[];
  readonly events: readonly string[];
  readonly sharedLockTimeouts: number;
  /** Events written with a string cut to fit (`maxStringBytes` or the log's `maxEventBytes`), all slots. */
  readonly truncatedEvents: number;
  /** Bad `emit` calls counted and recorded as `ringtrace_bad_event` (`onBadEvent: 'record'`), all slots. */
  readonly badEvents: number;
}

const exhaustedCode = { error: 1, shared: 2 } as const;
/** A writer's "last schema" before the first and after close: equal to no argument, null included. */
const NO_DESCRIPTOR = Object.freeze({}) as EventDescriptor;
const badEventCode = { record: 1, throw: 2 } as const;
/** Events `events()` reads before it yields them. */
const EVENTS_BATCH = 1024;

/** This thread's writer of each log (keyed by its memory), however many times the log was attached here. */
const threadWriters = new WeakMap<SharedArrayBuffer, LogWriter>();

/**
 * One event record as a log entry: decoded with its schema `d`, or `corrupt` saying why
 * not (`damage`: why the schema cannot be read). Every reader of log events (the live
 * log, a dump, a trace file) decodes through it.
 */
export function logEntryOf(
  d: EventDescriptor | undefined,
  damage: string | undefined,
  type: number,
  slot: number,
  index: number,
  timestamp: number,
  u8: Uint8Array,
  offset: number,
  length: number,
  flags: { truncated: boolean },
): LogEntry {
  if (d === undefined) {
    const why = damage ?? (type >= TYPE_BASE ? 'no schema is registered for it' : 'it is not an EventLog event (a raw ring type)');
    return { kind: 'corrupt', slot, reason: `event ${index} of type 0x${type.toString(16)} has no readable schema: ${why}` };
  }
  const values = decodeFields(d, u8, offset, length, flags);
  if (values === null) return { kind: 'corrupt', slot, reason: `event ${index} (${d.name}) does not decode with its schema` };
  return { kind: 'event', name: d.name, slot, index, timestamp, values, truncated: flags.truncated };
}

/** One log, seen from one thread. */
export class EventLog {
  readonly ring: RingBuffer;
  readonly registry: SchemaRegistry;
  private readonly sab: SharedArrayBuffer;
  /** Scratch for decodeFields' truncated flag. */
  private readonly decodeFlags = { truncated: false };
  private readonly header: Int32Array;
  private readonly f64: Float64Array;
  private readonly shared: boolean;
  /** @internal The slot counters (byte map above), 8 words a slot. */
  readonly slotCounters: Float64Array;
  /** @internal Whether emit() throws bad input instead of recording it. */
  readonly throwBadEvents: boolean;
  private reader: RingReader | null = null;
  /** Epoch ms of timestamp 0, calibrated in this thread on the first `epochMs` call. */
  private epochMsAtZero: number | null = null;

  private constructor(sab: SharedArrayBuffer, ring: RingBuffer) {
    this.sab = sab;
    this.ring = ring;
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.f64 = new Float64Array(sab, 0, HEADER_BYTES / 8);
    const u32 = new Uint32Array(sab, 0, HEADER_BYTES / 4);
    const slots = u32[L_SLOTS >> 2]!;
    this.slotCounters = new Float64Array(sab, HEADER_BYTES, (slots * SLOT_COUNTER_BYTES) / 8);
    this.registry = new SchemaRegistry(sab, HEADER_BYTES + slots * SLOT_COUNTER_BYTES, u32[L_REGISTRY_BYTES >> 2]!, ring.config.maxPayloadBytes);
    this.shared = u32[L_EXHAUSTED >> 2] === exhaustedCode.shared;
    this.throwBadEvents = u32[L_ON_BAD_EVENT >> 2] === badEventCode.throw;
  }

  /** Creates a log. Options are validated (TypeError / RangeError naming the option). */
  static create(options: EventLogOptions = {}): EventLog {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    checkOptionNames(options, LOG_OPTION_NAMES);
    const slots = options.slots ?? availableParallelism();
    const onSlotsExhausted = options.onSlotsExhausted ?? 'error';
    if (onSlotsExhausted !== 'error' && onSlotsExhausted !== 'shared') {
      throw new RangeError(`options.onSlotsExhausted must be one of error, shared (got ${JSON.stringify(onSlotsExhausted)})`);
    }
    const onBadEvent = options.onBadEvent ?? 'record';
    if (onBadEvent !== 'record' && onBadEvent !== 'throw') {
      throw new RangeError(`options.onBadEvent must be one of record, throw (got ${JSON.stringify(onBadEvent)})`);
    }
    const registryBytes = options.registryBytes ?? 65_536;
    if (!Number.isInteger(registryBytes) || registryBytes < 1024 || registryBytes > 1 << 24 || registryBytes % 64 !== 0) {
      throw new RangeError(`options.registryBytes must be a multiple of 64 between 1024 and 16777216 (got ${registryBytes})`);
    }
    if (onSlotsExhausted === 'shared' && slots < 2) throw new RangeError(`options.slots must be at least 2 with onSlotsExhausted: 'shared' (got ${slots})`);
    const ringOptions = {
      cpus: slots,
      pagesPerCpu: options.pagesPerSlot ?? 64,
      pageBytes: options.pageBytes ?? 8192,
      maxPayloadBytes: options.maxEventBytes ?? Math.min(1024, maxPayloadLimit(options.pageBytes ?? 8192)),
      mode: options.mode ?? 'discard',
      ...(options.blockTimeoutMs !== undefined ? { blockTimeoutMs: options.blockTimeoutMs } : {}),
      clock: options.clock ?? 'hrtime',
    } as const;
    let ringBytes: number;
    try {
      ringBytes = RingBuffer.bytesFor(ringOptions);
    } catch (err) {
      // Name the log's options, not the ring's.
      const message = (err as Error).message
        .replace('options.cpus', 'options.slots')
        .replace('options.pagesPerCpu', 'options.pagesPerSlot')
        .replace('options.maxPayloadBytes', 'options.maxEventBytes');
      throw err instanceof TypeError ? new TypeError(message) : new RangeError(message);
    }
    const registryOffset = HEADER_BYTES + slots * SLOT_COUNTER_BYTES;
    const ringOffset = registryOffset + registryBytes;
    const sab = new SharedArrayBuffer(ringOffset + ringBytes);
    const u32 = new Uint32Array(sab, 0, HEADER_BYTES / 4);
    u32[L_MAGIC >> 2] = MAGIC;
    u32[L_VERSION >> 2] = VERSION;
    u32[L_REGISTRY_BYTES >> 2] = registryBytes;
    u32[L_RING_OFFSET >> 2] = ringOffset;
    u32[L_EXHAUSTED >> 2] = exhaustedCode[onSlotsExhausted];
    u32[L_SLOTS >> 2] = slots;
    u32[L_ON_BAD_EVENT >> 2] = badEventCode[onBadEvent];
    new Int32Array(sab, registryOffset, REGISTRY_HEADER_BYTES / 4).fill(0);
    const ring = RingBuffer.create(ringOptions, { buffer: sab, byteOffset: ringOffset });
    return new EventLog(sab, ring);
  }

  /** Attaches to a log from its handle, in any thread. Throws RingLayoutError for a foreign or damaged buffer. */
  static attach(handle: unknown): EventLog {
    const h = handle as Partial<EventLogHandle> | null;
    if (typeof h !== 'object' || h === null || h.kind !== 'ringtrace-event-log' || !(h.buffer instanceof SharedArrayBuffer)) {
      throw new TypeError('an EventLog handle is { kind: "ringtrace-event-log", buffer: SharedArrayBuffer } (log.handle)');
    }
    const sab = h.buffer;
    if (sab.byteLength < HEADER_BYTES) throw new RingLayoutError(`buffer of ${sab.byteLength} bytes is too small for an event log`);
    const u32 = new Uint32Array(sab, 0, HEADER_BYTES / 4);
    if (u32[L_MAGIC >> 2] !== MAGIC) throw new RingLayoutError(`not a ringtrace event log: magic 0x${u32[L_MAGIC >> 2]!.toString(16)}`);
    if (u32[L_VERSION >> 2] !== VERSION) throw new RingLayoutError(`event log layout version ${u32[L_VERSION >> 2]} is not supported (this build reads ${VERSION})`);
    const ringOffset = u32[L_RING_OFFSET >> 2]!;
    const slots = u32[L_SLOTS >> 2]!;
    if (ringOffset !== HEADER_BYTES + slots * SLOT_COUNTER_BYTES + u32[L_REGISTRY_BYTES >> 2]! || ringOffset >= sab.byteLength) {
      throw new RingLayoutError('event log header is damaged (ring offset)');
    }
    const ring = RingBuffer.attach(sab, ringOffset);
    if (ring.config.cpus !== slots) throw new RingLayoutError(`event log header is damaged (${slots} slots, its ring has ${ring.config.cpus})`);
    if (!(u32[L_ON_BAD_EVENT >> 2] === badEventCode.record || u32[L_ON_BAD_EVENT >> 2] === badEventCode.throw)) {
      throw new RingLayoutError(`event log header is damaged (onBadEvent code ${u32[L_ON_BAD_EVENT >> 2]})`);
    }
    return new EventLog(sab, ring);
  }

  get handle(): EventLogHandle {
    return { kind: 'ringtrace-event-log', buffer: this.sab };
  }

  get slots(): number {
    return this.ring.config.cpus;
  }

  /**
   * This thread's writer: a free slot claimed atomically on the first call, the same writer
   * on later calls. Released by `close()`, or when the thread exits (for a worker ended with
   * `terminate()`, call `watch(worker)` in the thread that made it).
   */
  writer(): LogWriter {
    const mine = threadWriters.get(this.sab);
    if (mine !== undefined && !mine.closed) return mine;
    const claimed = this.claim();
    threadWriters.set(this.sab, claimed);
    return claimed;
  }

  private claim(): LogWriter {
    const last = this.shared ? this.slots - 1 : this.slots;
    for (let slot = 0; slot < last; slot++) {
      let cpu: CpuWriter;
      try {
        cpu = this.ring.writer(slot);
      } catch (err) {
        if (err instanceof RingOwnershipError) continue;
        throw err;
      }
      return new LogWriter(this, cpu, slot, null);
    }
    if (!this.shared) {
      throw new RingOwnershipError(`every one of the log's ${this.slots} writer slots is taken (options.slots, or onSlotsExhausted: 'shared')`);
    }
    return new LogWriter(this, this.ring.sharedWriter(this.slots - 1), this.slots - 1, this.header);
  }

  /** For a private copy of a log's memory (a loaded dump): clears the claims of its old threads. */
  forgetOwners(): this {
    this.ring.forgetOwners();
    return this;
  }

  /** Frees the slots of a thread that died without closing its writer. Returns the slots freed. */
  reclaim(deadThreadId: number): number[] {
    return this.ring.reclaimWriters(deadThreadId);
  }

  /** Reclaims a worker's slot when it exits, however it exits. */
  watch(worker: Worker): void {
    const id = worker.threadId;
    worker.once('exit', () => this.reclaim(id));
  }

  /**
   * Consumes every committed event now, merged across slots by timestamp, in this thread
   * (the first call claims the log's consuming reader). Returns the events delivered.
   */
  drain(callback: (entry: LogEntry) => void): number {
    const reader = (this.reader ??= this.ring.reader());
    return reader.drain(this.visitor(callback));
  }

  /**
   * Consumes up to `maxEvents` committed events now (merged as `drain` merges them), in
   * this thread. Returns the events delivered; unlike `drain`, it does not announce the
   * drops after the last page (a live consumer's final `drain` does).
   */
  read(callback: (entry: LogEntry) => void, options: { readonly maxEvents?: number } = {}): number {
    const reader = (this.reader ??= this.ring.reader());
    return reader.read(this.visitor(callback), options);
  }

  /**
   * The events as they come, merged by timestamp, with `lost` entries where events were
   * lost. Ends when `signal` aborts (after a last drain).
   */
  async *events(options: { readonly signal?: AbortSignal; readonly pollMs?: number } = {}): AsyncGenerator<LogEntry, void, void> {
    checkOptionNames(options, EVENTS_OPTION_NAMES);
    const pollMs = options.pollMs ?? 5;
    const batch: LogEntry[] = [];
    const visitor = this.visitor((e) => batch.push(e));
    for (;;) {
      const aborted = options.signal?.aborted === true;
      const reader = (this.reader ??= this.ring.reader());
      // Bounded batches: a long backlog, or writers that outpace us, is yielded as it is
      // read, never gathered whole first (and never shifted off an array one by one,
      // which is quadratic once the array is large).
      for (let n = EVENTS_BATCH; n === EVENTS_BATCH; ) {
        n = reader.read(visitor, { maxEvents: EVENTS_BATCH });
        yield* batch;
        batch.length = 0;
        // Writers that keep the batches full must not starve this thread's event loop
        // (timers, I/O, the abort): let it turn once per full batch.
        if (n === EVENTS_BATCH) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (aborted) {
        // The last pass: the drops after the last page read, which no page will announce
        // now. (While writers run, the pages they open announce the drops before them, in
        // place.)
        reader.reportDrops(visitor);
        yield* batch;
        return;
      }
      await new Promise<void>((resolve) => {
        const signal = options.signal;
        // Wakes on the timer or on abort, and leaves no listener behind either way.
        const wake = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        const timer = setTimeout(wake, pollMs);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /**
   * The current contents, decoded, without consuming them (the flight-recorder dump): the
   * entries `drain()` would give now, in the same order, with `lost` and `corrupt` entries
   * where they happened.
   */
  snapshot(): LogEntry[] {
    const out: LogEntry[] = [];
    this.ring.readSnapshot(this.visitor((e) => out.push(e)));
    return out;
  }

  /**
   * The wall-clock time of one of this log's timestamps (an entry's `timestamp`), in epoch
   * milliseconds with a fraction (what `Date.now()` would have read then, as pino's `time`).
   * For the `hrtime` and `coarse` clocks, whose timestamps are ns since the log's origin on
   * the system's monotonic clock; a `counter` clock's are tickets: RangeError. The first
   * call calibrates the monotonic clock against the wall clock in this thread (`epochMsAt`:
   * up to 1 ms of spinning, an error of microseconds); a later step of the system's wall
   * clock is not followed. For a dump loaded after the machine rebooted, the monotonic
   * clock has restarted and the times are wrong.
   */
  epochMs(timestamp: number): number {
    if (typeof timestamp !== 'number') throw new TypeError(`timestamp must be a number (got ${typeof timestamp})`);
    const clock = this.ring.config.clock;
    if (clock === 'counter') throw new RangeError("epochMs: this log's clock is 'counter', whose timestamps are tickets, not times");
    this.epochMsAtZero ??= epochMsAt(this.ring.view.f64[G_HRTIME_ORIGIN >> 3]!).epochMs;
    return this.epochMsAtZero + timestamp / 1e6;
  }

  stats(): LogStats {
    let truncatedEvents = 0;
    let badEvents = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      truncatedEvents += this.slotCounters[(slot * SLOT_COUNTER_BYTES + S_TRUNCATED) >> 3]!;
      badEvents += this.slotCounters[(slot * SLOT_COUNTER_BYTES + S_BAD_EVENTS) >> 3]!;
    }
    return {
      slots: this.ring.stats(),
      events: this.registry.all().map((d) => d.name),
      sharedLockTimeouts: this.f64[L_LOCK_TIMEOUTS >> 3]!,
      truncatedEvents,
      badEvents,
    };
  }

  /** Gives back this thread's writer and reader, and stops the coarse clock if this thread made the log. */
  async close(): Promise<void> {
    threadWriters.get(this.sab)?.close();
    this.reader?.close();
    this.reader = null;
    await this.ring.close();
  }

  /** @internal counts a shared-slot write given up after the lock stayed busy. */
  countLockTimeout(): void {
    this.f64[L_LOCK_TIMEOUTS >> 3]! += 1;
  }

  /** One ring record as a log entry: decoded with its schema, or `corrupt` saying why not. */
  private entryOf(type: number, slot: number, index: number, timestamp: number, u8: Uint8Array, offset: number, length: number): LogEntry {
    const d = this.registry.descriptorOf(type);
    return logEntryOf(d, d === undefined ? this.registry.damageOf(type) : undefined, type, slot, index, timestamp, u8, offset, length, this.decodeFlags);
  }

  private visitor(callback: (entry: LogEntry) => void): { event(v: EventView): void; lost(l: { cpu: number; count: number; cause: LossCause; beforeIndex: number }): void; corrupt(r: CorruptionReport): void } {
    return {
      event: (v) => callback(this.entryOf(v.type, v.cpu, v.index, v.timestamp, v.u8, v.offset, v.length)),
      lost: (l) => callback({ kind: 'lost', slot: l.cpu, count: l.count, cause: l.cause, beforeIndex: l.beforeIndex }),
      corrupt: (r) => callback({ kind: 'corrupt', slot: r.cpu, reason: r.reason }),
    };
  }
}

/**
 * A thread's writer into its slot. `emit` checks every value and writes nothing of bad
 * input: it records a `ringtrace_bad_event` instead, or throws (TypeError / RangeError)
 * under `onBadEvent: 'throw'`. `emitRecord` is the allocation-free path for hot loops. Both
 * return whether the event was stored (false: dropped and counted, or refused).
 */
export class LogWriter {
  readonly slot: number;
  closed = false;
  private readonly log: EventLog;
  private readonly cpu: CpuWriter;
  /** The log header, when this writer shares its slot (then every write takes the lock). */
  private readonly lock: Int32Array | null;
  private readonly onExit: () => void;
  /** A DataView of the ring, for the encoders. */
  private readonly view: DataView;
  // The last schema written, its encoder and type: one pointer compare per event instead of lookups.
  private lastDescriptor: EventDescriptor = NO_DESCRIPTOR;
  private lastEncoder: ReturnType<typeof compiledEncoder> | null = null;
  private lastType = 0;
  /** Where the current schema's flags byte sits in a payload (its truncated bit). */
  private lastFlagsOffset = 0;
  /** The most payload bytes an event may take (the log's maxEventBytes): strings are cut to fit. */
  private readonly budget: number;
  private readonly counters: Float64Array;
  private readonly iTruncated: number;
  private readonly iBadEvents: number;

  constructor(log: EventLog, cpu: CpuWriter, slot: number, lock: Int32Array | null) {
    this.log = log;
    this.cpu = cpu;
    this.slot = slot;
    this.lock = lock;
    this.budget = log.ring.config.maxPayloadBytes;
    this.counters = log.slotCounters;
    this.iTruncated = (slot * SLOT_COUNTER_BYTES + S_TRUNCATED) >> 3;
    this.iBadEvents = (slot * SLOT_COUNTER_BYTES + S_BAD_EVENTS) >> 3;
    this.view = new DataView(cpu.u8.buffer, cpu.u8.byteOffset, cpu.u8.byteLength);
    // A thread that ends without closing still gives its slot back.
    this.onExit = () => this.close();
    process.once('exit', this.onExit);
  }

  /**
   * Writes one event; values are checked at run time too (exactly the schema's fields, each
   * of its type and range). Bad input writes nothing of the event: see `onBadEvent`.
   */
  emit<F extends FieldSpec>(descriptor: EventDescriptor<F>, values: EventValues<F>): boolean {
    if (this.closed) throw this.closedError();
    // The common case: the schema of the last event, values the generated validator accepts.
    if (descriptor === this.lastDescriptor) {
      const length = this.lastEncoder!.validate(values, this.budget);
      if (length >= 0) return this.put(values, length);
    }
    let length: number;
    try {
      // The generic check throws saying why; bad input registers nothing and writes nothing.
      length = checkedLength(descriptor as EventDescriptor, values, this.budget);
      if (descriptor !== this.lastDescriptor) this.select(descriptor as EventDescriptor);
    } catch (err) {
      return this.refuse(descriptor, err);
    }
    return this.put(values, length);
  }

  /** A reusable record for `emitRecord`: fill its fields, emit, refill, emit again. */
  record<F extends FieldSpec>(descriptor: EventDescriptor<F>): EventRecord<F> {
    this.select(descriptor as EventDescriptor);
    return createRecord(descriptor);
  }

  /**
   * The allocation-free path: no checks beyond each value's JS type (a wrong one, or a
   * string over the bound with onLongString 'error', returns false and writes nothing of
   * the event; under `onBadEvent: 'record'` it is counted and recorded as emit() does).
   * Allocation-free in the log's code; with the `hrtime` clock, Node's `performance.now()`
   * still boxes its result (use `counter` or `coarse` for none at all).
   */
  emitRecord<F extends FieldSpec>(descriptor: EventDescriptor<F>, record: EventRecord<F>): boolean {
    if (descriptor !== this.lastDescriptor) {
      try {
        this.select(descriptor as EventDescriptor);
      } catch (err) {
        return this.refuse(descriptor, err);
      }
    }
    const length = this.lastEncoder!.length(record, this.budget);
    if (length < 0) return this.refuseRecord(descriptor as EventDescriptor, record);
    return this.put(record, length);
  }

  /** Makes `descriptor` the current schema: its encoder and its type (registered if new). */
  private select(descriptor: EventDescriptor): void {
    // close() clears lastDescriptor, so a closed writer's next emitRecord() comes here.
    if (this.closed) throw this.closedError();
    const encoder = compiledEncoder(descriptor); // first: a TypeError for a non-descriptor
    this.lastType = this.log.registry.typeOf(descriptor);
    this.lastEncoder = encoder;
    this.lastFlagsOffset = descriptor.flagsOffset;
    this.lastDescriptor = descriptor;
  }

  /** Reserves, encodes with the current schema's encoder, commits (under the lock on a shared slot). */
  private put(values: object, length: number): boolean {
    const lock = this.lock;
    if (lock !== null && !this.acquire(lock)) return false;
    try {
      const cpu = this.cpu;
      const at = cpu.reserve(this.lastType, length);
      if (at < 0) return false;
      this.lastEncoder!.write(values, this.view, cpu.u8, at, this.budget);
      // The encoder sets the flag when it cut a string: one byte load to count it.
      if ((cpu.u8[at + this.lastFlagsOffset]! & FLAG_TRUNCATED) !== 0) this.counters[this.iTruncated]! += 1;
      cpu.commit();
      return true;
    } finally {
      if (lock !== null) this.release(lock);
    }
  }

  /**
   * Bad input to emit: thrown under `onBadEvent: 'throw'`; otherwise counted and recorded as
   * a `ringtrace_bad_event` with the reason. Errors that are not about the input (a closed
   * writer, a registry left locked by a dead thread) are thrown either way.
   */
  private refuse(descriptor: unknown, err: unknown): false {
    if (this.log.throwBadEvents || !(err instanceof TypeError || err instanceof RangeError)) throw err;
    const d = descriptor as { name?: unknown } | null;
    const values = { event: typeof d === 'object' && d !== null && typeof d.name === 'string' ? d.name : '', reason: err.message };
    this.countBadEvent();
    try {
      if (this.lastDescriptor !== BadEvent) this.select(BadEvent);
    } catch {
      return false; // the log cannot take the bad-event schema (its name taken, a full registry): counted only
    }
    this.put(values, this.lastEncoder!.length(values, this.budget));
    return false;
  }

  /**
   * emitRecord's values were refused by the fast check: false under `onBadEvent: 'throw'`
   * (emitRecord never throws for its values); otherwise find out why and record it.
   */
  private refuseRecord(descriptor: EventDescriptor, record: object): false {
    if (this.log.throwBadEvents) return false;
    try {
      checkedLength(descriptor, record, this.budget);
    } catch (err) {
      return this.refuse(descriptor, err);
    }
    return this.refuse(descriptor, new TypeError(`event ${JSON.stringify(descriptor.name)}: the record does not encode`));
  }

  private countBadEvent(): void {
    const lock = this.lock;
    if (lock !== null && !this.acquire(lock)) return;
    this.counters[this.iBadEvents]! += 1;
    if (lock !== null) this.release(lock);
  }

  private closedError(): RingClosedError {
    return new RingClosedError(`this thread's writer of slot ${this.slot} is closed (log.writer() claims a slot again)`);
  }

  /** Gives the slot back (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lastDescriptor = NO_DESCRIPTOR; // the next emitRecord() goes through select(), which throws
    process.off('exit', this.onExit);
    if (this.lock === null) this.cpu.close();
  }

  /** The shared slot's lock: bounded; a write that cannot get it is dropped and counted. */
  private acquire(lock: Int32Array): boolean {
    const token = threadId + 1;
    for (let spins = 0; Atomics.compareExchange(lock, L_SHARED_LOCK >> 2, 0, token) !== 0; spins++) {
      if (spins > SHARED_LOCK_SPINS) {
        this.log.countLockTimeout();
        return false;
      }
      Atomics.wait(lock, L_SHARED_LOCK >> 2, Atomics.load(lock, L_SHARED_LOCK >> 2), 0.01);
    }
    return true;
  }

  private release(lock: Int32Array): void {
    // Publishes the slot's writer state to the next thread; pairs with its compareExchange.
    Atomics.store(lock, L_SHARED_LOCK >> 2, 0);
    Atomics.notify(lock, L_SHARED_LOCK >> 2, 1);
  }
}

