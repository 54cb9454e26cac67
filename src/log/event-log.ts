import { availableParallelism } from 'node:os';
import { threadId, type Worker } from 'node:worker_threads';
import { RingLayoutError, RingOwnershipError } from '../ring/errors.js';
import { G_HRTIME_ORIGIN, type ClockName, type ModeName } from '../ring/layout.js';
import { epochMsAt } from '../ring/clock.js';
import type { CorruptionReport, EventView, LossCause, RingReader } from '../ring/reader.js';
import { RingBuffer, type CpuStats } from '../ring/ring-buffer.js';
import { maxPayloadLimit } from '../ring/options.js';
import type { CpuWriter } from '../ring/writer.js';
import { compiledEncoder, createRecord, decodeFields, encodedLength, type EventRecord } from './event-codec.js';
import type { EventDescriptor, EventValues, FieldSpec } from './event-schema.js';
import { REGISTRY_HEADER_BYTES, SchemaRegistry, TYPE_BASE } from './schema-registry.js';

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
 * | 64  | i32   | shared slot lock     | shared writers    | shared writers | compareExchange / store      |
 * | 128 | f64   | shared lock timeouts | shared writers    | stats          | plain, racy                  |
 * 256            schema registry (schema-registry.ts), then the ring (its own byte map)
 */
const MAGIC = 0x4c455452; // "RTEL"
const VERSION = 1;
const HEADER_BYTES = 256;
const L_MAGIC = 0;
const L_VERSION = 4;
const L_REGISTRY_BYTES = 8;
const L_RING_OFFSET = 12;
const L_EXHAUSTED = 16;
const L_SHARED_LOCK = 64;
const L_LOCK_TIMEOUTS = 128;
const SHARED_LOCK_SPINS = 10_000;

export interface EventLogOptions {
  /** Writer slots: threads that can write at once, each with its own lock-free buffer. Defaults to `os.availableParallelism()`. */
  readonly slots?: number;
  /** Pages per slot. Defaults to 64. */
  readonly pagesPerSlot?: number;
  /** Bytes per page, a power of two. Defaults to 8192. */
  readonly pageBytes?: number;
  /** Largest encoded event, bytes; at most a quarter of a page. Defaults to 1024 (or the page's limit, if lower). */
  readonly maxEventBytes?: number;
  /** `overwrite` (a flight recorder: keep the newest) or `discard` (keep the oldest). Defaults to `discard`. */
  readonly mode?: ModeName;
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
}

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
}

const exhaustedCode = { error: 1, shared: 2 } as const;
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
  private reader: RingReader | null = null;
  /** Epoch ms of timestamp 0, calibrated in this thread on the first `epochMs` call. */
  private epochMsAtZero: number | null = null;

  private constructor(sab: SharedArrayBuffer, ring: RingBuffer) {
    this.sab = sab;
    this.ring = ring;
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.f64 = new Float64Array(sab, 0, HEADER_BYTES / 8);
    const u32 = new Uint32Array(sab, 0, HEADER_BYTES / 4);
    this.registry = new SchemaRegistry(sab, HEADER_BYTES, u32[L_REGISTRY_BYTES >> 2]!, ring.config.maxPayloadBytes);
    this.shared = u32[L_EXHAUSTED >> 2] === exhaustedCode.shared;
  }

  /** Creates a log. Options are validated (TypeError / RangeError naming the option). */
  static create(options: EventLogOptions = {}): EventLog {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const slots = options.slots ?? availableParallelism();
    const onSlotsExhausted = options.onSlotsExhausted ?? 'error';
    if (onSlotsExhausted !== 'error' && onSlotsExhausted !== 'shared') {
      throw new RangeError(`options.onSlotsExhausted must be one of error, shared (got ${JSON.stringify(onSlotsExhausted)})`);
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
    const ringOffset = HEADER_BYTES + registryBytes;
    const sab = new SharedArrayBuffer(ringOffset + ringBytes);
    const u32 = new Uint32Array(sab, 0, HEADER_BYTES / 4);
    u32[L_MAGIC >> 2] = MAGIC;
    u32[L_VERSION >> 2] = VERSION;
    u32[L_REGISTRY_BYTES >> 2] = registryBytes;
    u32[L_RING_OFFSET >> 2] = ringOffset;
    u32[L_EXHAUSTED >> 2] = exhaustedCode[onSlotsExhausted];
    new Int32Array(sab, HEADER_BYTES, REGISTRY_HEADER_BYTES / 4).fill(0);
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
    if (ringOffset !== HEADER_BYTES + u32[L_REGISTRY_BYTES >> 2]!) throw new RingLayoutError('event log header is damaged (ring offset)');
    return new EventLog(sab, RingBuffer.attach(sab, ringOffset));
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

  /** The current contents, decoded, without consuming them (the flight-recorder dump). */
  snapshot(): LogEntry[] {
    const snap = this.ring.snapshot();
    const out: LogEntry[] = [];
    for (const e of snap.events) out.push(this.entryOf(e.type, e.cpu, e.index, e.timestamp, e.payload, 0, e.payload.length));
    for (const l of snap.lost) out.push({ kind: 'lost', slot: l.cpu, count: l.count, cause: l.cause, beforeIndex: l.beforeIndex });
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
    return { slots: this.ring.stats(), events: this.registry.all().map((d) => d.name), sharedLockTimeouts: this.f64[L_LOCK_TIMEOUTS >> 3]! };
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
 * A thread's writer into its slot. `emit` checks every value (TypeError / RangeError) and
 * writes nothing on bad input; `emitRecord` is the allocation-free path for hot loops.
 * Both return whether the event was stored (false: dropped and counted).
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
  private lastDescriptor: EventDescriptor | null = null;
  private lastEncoder: ReturnType<typeof compiledEncoder> | null = null;
  private lastType = 0;

  constructor(log: EventLog, cpu: CpuWriter, slot: number, lock: Int32Array | null) {
    this.log = log;
    this.cpu = cpu;
    this.slot = slot;
    this.lock = lock;
    this.view = new DataView(cpu.u8.buffer, cpu.u8.byteOffset, cpu.u8.byteLength);
    // A thread that ends without closing still gives its slot back.
    this.onExit = () => this.close();
    process.once('exit', this.onExit);
  }

  /** Writes one event; values are checked at run time too. */
  emit<F extends FieldSpec>(descriptor: EventDescriptor<F>, values: EventValues<F>): boolean {
    if (this.closed) throw new Error('emit() on a closed writer');
    // Checks every value first (the schema's generated validator; for bad input the generic
    // check, which throws saying why): bad input registers nothing and writes nothing.
    const same = descriptor === this.lastDescriptor;
    const encoder = same ? this.lastEncoder! : compiledEncoder(descriptor as EventDescriptor);
    let length = encoder.validate(values);
    if (length < 0) length = encodedLength(descriptor, values);
    if (!same) this.select(descriptor as EventDescriptor);
    return this.put(values, length);
  }

  /** A reusable record for `emitRecord`: fill its fields, emit, refill, emit again. */
  record<F extends FieldSpec>(descriptor: EventDescriptor<F>): EventRecord<F> {
    this.select(descriptor as EventDescriptor);
    return createRecord(descriptor);
  }

  /**
   * The allocation-free path: no checks beyond each value's JS type (a wrong one, or a
   * string over the bound with onLongString 'error', returns false and writes nothing).
   * Allocation-free in the log's code; with the `hrtime` clock, Node's `performance.now()`
   * still boxes its result (use `counter` or `coarse` for none at all).
   */
  emitRecord<F extends FieldSpec>(descriptor: EventDescriptor<F>, record: EventRecord<F>): boolean {
    if (descriptor !== this.lastDescriptor) this.select(descriptor as EventDescriptor);
    const length = this.lastEncoder!.length(record);
    if (length < 0) return false;
    return this.put(record, length);
  }

  /** Makes `descriptor` the current schema: its encoder and its type (registered if new). */
  private select(descriptor: EventDescriptor): void {
    this.lastType = this.log.registry.typeOf(descriptor);
    this.lastEncoder = compiledEncoder(descriptor);
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
      this.lastEncoder!.write(values, this.view, cpu.u8, at);
      cpu.commit();
      return true;
    } finally {
      if (lock !== null) this.release(lock);
    }
  }

  /** Gives the slot back (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
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

