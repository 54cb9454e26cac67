import { Worker, threadId } from 'node:worker_threads';
import { compiledWorkerPath } from '../worker-path.js';
import {
  C_BYTES,
  C_COMMITTED,
  C_COMMIT_OVERRUN,
  C_CORRUPT,
  C_DISCARDED,
  C_ENTRIES,
  C_LAST_TS,
  C_LOST_CORRUPT,
  C_MAX_NESTING,
  C_OVERRUN,
  C_DROPPED,
  C_READ,
  C_READER_PHYS,
  C_READ_OFFSET,
  C_WRITER_CORRUPT,
  C_RELEASE_GAVE_UP,
  C_BLOCKED,
  C_BLOCKED_MS,
  C_WRITER_OWNER,
  C_WRITE,
  C_TAIL_PHYS,
  WRITE_FULL,
  COMMIT_CLOSED,
  ClockKind,
  G_CLOCK,
  G_COARSE_PERIOD_US,
  G_COARSE_STOP,
  G_CPU_COUNT,
  G_CPU_STRIDE,
  G_HRTIME_ORIGIN,
  G_MAGIC,
  G_MAX_PAYLOAD,
  G_MODE,
  G_BLOCK_TIMEOUT_MS,
  G_PAGES_PER_CPU,
  G_PAGE_BYTES,
  G_READER_OWNER,
  G_TOTAL_BYTES,
  G_VERSION,
  LAYOUT_VERSION,
  MAGIC,
  Mode,
  PAGE_HEADER_BYTES,
  P_CHECK,
  P_COMMIT,
  P_NEXT,
  NEXT_UNKNOWN,
  P_SEQ,
  P_SIZE,
  geometry,
  pageHeaderCheck,
  slotWord,
} from './layout.js';
import { RingBlockOnReaderError, RingOwnershipError } from './errors.js';
import { resolveRingOptions, type RingConfig, type RingOptions } from './options.js';
import { RingView } from './ring-view.js';
import { createClock, hrtimeOriginNs, publishCoarseTime } from './clock.js';
import { CpuWriter } from './writer.js';
import { RingReader, type CorruptionReport, type LostEvents, type ReadVisitor } from './reader.js';
import type { InterruptHook } from './interrupt.js';
import { checkOptionNames } from '../option-check.js';

/** Per-CPU counters. Read while writers run, they may be stale (each is exact when quiescent). */
export interface CpuStats {
  readonly cpu: number;
  /** Write attempts, including dropped ones. */
  readonly written: number;
  /** Events that got space (the per-CPU index of the next event). */
  readonly entries: number;
  /** Bytes of records written (headers included), page ends left unused excluded. */
  readonly bytes: number;
  /** Events overwritten before the reader took them (overwrite mode). */
  readonly overrun: number;
  /** Events that found no space (discard mode, commit overrun, or damaged control words). */
  readonly dropped: number;
  /** Events the consuming reader delivered. */
  readonly read: number;
  /** Reservations the writer discarded, skipped by the reader. */
  readonly discarded: number;
  /** Events skipped because their page was damaged. */
  readonly lostToCorruption: number;
  /** entries - read - discarded - overrun - lostToCorruption: still in the buffer. */
  readonly unread: number;
  readonly maxNesting: number;
  /** Drops because nested writes filled the ring before the write they interrupted committed. Should stay 0. */
  readonly commitOverrun: number;
  /** Damage reports from the reader and the writer. */
  readonly corrupt: number;
  /** The writer's part of `corrupt`: damage it found in its own words or links (it counts, never throws). */
  readonly writerCorrupt: number;
  /**
   * Times the writer's commit loop ran past its bound and left the commit behind the tail
   * (also counted in `corrupt`). Should stay 0: the kernel warns (RB_WARN_ON) where this counts.
   */
  readonly releaseGaveUp: number;
  /** Mode block: writes that found the ring full and waited for a free page (whether or not one came). */
  readonly blocked: number;
  /** Mode block: total time writes waited for a free page, ms. */
  readonly blockedMs: number;
  /** Timestamp of the latest reservation. */
  readonly lastTimestamp: number;
}

export interface SnapshotEvent {
  readonly cpu: number;
  readonly index: number;
  readonly type: number;
  readonly timestamp: number;
  readonly payload: Uint8Array;
}

export interface Snapshot {
  readonly events: SnapshotEvent[];
  readonly lost: LostEvents[];
  readonly corrupt: CorruptionReport[];
}

/** Where to lay a ring out inside an existing buffer. */
export interface RingPlacement {
  readonly buffer: SharedArrayBuffer;
  /** A multiple of 64; the ring takes `RingBuffer.bytesFor(options)` bytes from here. */
  readonly byteOffset: number;
}

/** Writer-owner word of a CPU buffer that many threads share under their own lock. */
export const SHARED_OWNER = -1;

export interface WriterOptions {
  /** Interrupt hook called at each step of the write path (tests, the simulated machine). */
  readonly hook?: InterruptHook;
}
const WRITER_OPTION_NAMES: readonly (keyof WriterOptions)[] = ['hook'];

/**
 * A per-CPU lock-free ring buffer in one SharedArrayBuffer. Create it in one thread,
 * pass `buffer` to others (workerData or postMessage), `attach` there.
 */
export class RingBuffer {
  readonly view: RingView;
  /** The coarse clock's ticker thread, owned by the RingBuffer that created the memory. */
  private ticker: Worker | null = null;

  private constructor(view: RingView) {
    this.view = view;
  }

  /**
   * Allocates and initialises a buffer. Options are validated (TypeError / RangeError).
   * With `placement`, the ring is laid out at `byteOffset` (a multiple of 64) inside an
   * existing buffer instead (the simulated machine keeps everything in one buffer); see
   * `RingBuffer.bytesFor`.
   */
  static create(options?: RingOptions, placement?: RingPlacement): RingBuffer {
    const config = resolveRingOptions(options);
    const g = geometry(config.cpus, config.pagesPerCpu, config.pageBytes);
    const sab = placement?.buffer ?? new SharedArrayBuffer(g.totalBytes);
    const byteOffset = placement?.byteOffset ?? 0;
    RingView.checkPlacement(sab, byteOffset, g.totalBytes);
    const view = new RingView(sab, config, byteOffset);
    view.u8.fill(0);
    initialise(view);
    const ring = new RingBuffer(view);
    if (config.clock === 'coarse') {
      // Publish once now, so no writer ever reads an unset clock, then hand over to the ticker.
      publishCoarseTime(view.i32, BigInt(view.f64[G_HRTIME_ORIGIN >> 3]!));
      ring.ticker = new Worker(compiledWorkerPath('coarse-ticker'), { workerData: { buffer: sab, byteOffset }, execArgv: [] });
      ring.ticker.unref(); // the ticker never keeps a process alive
    }
    return ring;
  }

  /**
   * Stops what this RingBuffer started (the coarse clock's ticker thread). Writers of a
   * coarse buffer keep their last reading afterwards. Idempotent.
   */
  async close(): Promise<void> {
    const ticker = this.ticker;
    if (ticker === null) return;
    this.ticker = null;
    Atomics.store(this.view.i32, G_COARSE_STOP >> 2, 1);
    Atomics.notify(this.view.i32, G_COARSE_STOP >> 2);
    await ticker.terminate();
  }

  /** Bytes a ring with these options occupies (for `create` with a placement). */
  static bytesFor(options?: RingOptions): number {
    const config = resolveRingOptions(options);
    return geometry(config.cpus, config.pagesPerCpu, config.pageBytes).totalBytes;
  }

  /** Attaches to a buffer made by `create`, in any thread. Throws RingLayoutError if it is not one. */
  static attach(buffer: unknown, byteOffset = 0): RingBuffer {
    return new RingBuffer(RingView.fromBuffer(buffer, byteOffset));
  }

  /** The SharedArrayBuffer that holds the ring (pass it, and `byteOffset`, to other threads). */
  get buffer(): SharedArrayBuffer {
    return this.view.sab;
  }

  /** Where the ring starts in `buffer` (0 unless it was placed). */
  get byteOffset(): number {
    return this.view.byteOffset;
  }

  get config(): RingConfig {
    return this.view.config;
  }

  /**
   * Claims the writer role of one CPU buffer for this thread. Throws RingOwnershipError if
   * another writer holds it; `close()` the writer to give it back.
   */
  writer(cpu: number, options: WriterOptions = {}): CpuWriter {
    const view = this.view;
    view.checkCpu(cpu);
    checkOptionNames(options, WRITER_OPTION_NAMES);
    if (options.hook !== undefined && typeof options.hook !== 'function') {
      throw new TypeError(`options.hook must be a function (got ${options.hook === null ? 'null' : typeof options.hook})`);
    }
    const owner = (view.controlBase(cpu) + C_WRITER_OWNER) >> 2;
    const token = threadId + 1;
    this.refuseBlockOnReader(cpu);
    const previous = Atomics.compareExchange(view.i32, owner, 0, token);
    if (previous !== 0) {
      throw new RingOwnershipError(`cpu ${cpu} already has a writer (thread ${previous - 1})`);
    }
    const writer = new CpuWriter(view, cpu, createClock(view.config.clock, view.i32, view.f64), () => {
      Atomics.compareExchange(view.i32, owner, token, 0);
    });
    if (options.hook !== undefined) writer.hook = options.hook;
    return writer;
  }

  /**
   * A writer for a CPU buffer that several threads share, without claiming it: the caller
   * must let only one thread write at a time (the EventLog's shared slot holds a lock
   * around each write). Marks the buffer as shared so no thread claims it for itself.
   */
  sharedWriter(cpu: number): CpuWriter {
    const view = this.view;
    view.checkCpu(cpu);
    const owner = (view.controlBase(cpu) + C_WRITER_OWNER) >> 2;
    this.refuseBlockOnReader(cpu);
    const previous = Atomics.compareExchange(view.i32, owner, 0, SHARED_OWNER);
    if (previous !== 0 && previous !== SHARED_OWNER) {
      throw new RingOwnershipError(`cpu ${cpu} already has a writer (thread ${previous - 1})`);
    }
    return new CpuWriter(view, cpu, createClock(view.config.clock, view.i32, view.f64), () => undefined);
  }

  /**
   * A block-mode writer on the thread that holds the reader role would wait for itself when
   * the ring fills: refused here, at the boundary (the writer checks again before it waits,
   * for a reader claimed later).
   */
  private refuseBlockOnReader(cpu: number): void {
    if (this.view.config.mode === 'block' && Atomics.load(this.view.i32, G_READER_OWNER >> 2) === threadId + 1) {
      throw new RingBlockOnReaderError(
        `cpu ${cpu}: a writer in mode 'block' cannot run on thread ${threadId}, which holds the ring's reader role: it would wait for itself when the ring fills ` +
          "(consume from another thread, such as a drain thread, or use mode 'discard')",
      );
    }
  }

  /**
   * Frees the CPU buffers a dead thread held (its writers were never closed): finishes
   * whatever write it died in (`CpuWriter.abandonInFlight`) and releases the claim. Returns
   * the CPUs freed. Only for a thread that can no longer run.
   */
  /**
   * Frees the reader role of a thread that can no longer run (a drain thread that died),
   * so another reader can go on where it stopped: the reader's state is in the shared
   * memory. Returns whether that thread held the role.
   */
  reclaimReader(threadId: number): boolean {
    const token = threadId + 1;
    // Pairs with the compareExchange that claimed the role in reader().
    return Atomics.compareExchange(this.view.i32, G_READER_OWNER >> 2, token, 0) === token;
  }

  reclaimWriters(threadId: number): number[] {
    const view = this.view;
    const token = threadId + 1;
    const freed: number[] = [];
    for (let cpu = 0; cpu < view.config.cpus; cpu++) {
      const owner = (view.controlBase(cpu) + C_WRITER_OWNER) >> 2;
      if (Atomics.load(view.i32, owner) !== token) continue;
      new CpuWriter(view, cpu, createClock(view.config.clock, view.i32, view.f64), () => undefined).abandonInFlight();
      if (Atomics.compareExchange(view.i32, owner, token, 0) === token) freed.push(cpu);
    }
    return freed;
  }

  /**
   * Clears every writer and reader claim. Only for a private copy of a ring's memory (a
   * loaded dump), whose claims belong to threads of another time.
   */
  forgetOwners(): void {
    const view = this.view;
    for (let cpu = 0; cpu < view.config.cpus; cpu++) Atomics.store(view.i32, (view.controlBase(cpu) + C_WRITER_OWNER) >> 2, 0);
    Atomics.store(view.i32, G_READER_OWNER >> 2, 0);
  }

  /** Claims the consuming reader role (one at a time). */
  reader(): RingReader {
    const view = this.view;
    const token = threadId + 1;
    const previous = Atomics.compareExchange(view.i32, G_READER_OWNER >> 2, 0, token);
    if (previous !== 0) throw new RingOwnershipError(`the buffer already has a reader (thread ${previous - 1})`);
    return new RingReader(view, () => {
      Atomics.compareExchange(view.i32, G_READER_OWNER >> 2, token, 0);
    });
  }

  stats(): CpuStats[] {
    const result: CpuStats[] = [];
    for (let cpu = 0; cpu < this.view.config.cpus; cpu++) result.push(this.cpuStats(cpu));
    return result;
  }

  cpuStats(cpu: number): CpuStats {
    const v = this.view;
    v.checkCpu(cpu);
    const f = (off: number): number => v.controlF64(cpu, off);
    const entries = f(C_ENTRIES);
    const read = f(C_READ);
    const discarded = f(C_DISCARDED);
    const overrun = f(C_OVERRUN);
    const lostToCorruption = f(C_LOST_CORRUPT);
    const dropped = f(C_DROPPED);
    // Bytes of left pages are summed at each page switch; add the tail page's so far.
    const write = v.controlI32(cpu, C_WRITE);
    const tailPage = v.pageAt(cpu, v.controlI32(cpu, C_TAIL_PHYS));
    const tailBytes = (write === WRITE_FULL ? v.i32[(tailPage + P_SIZE) >> 2]! : write) - PAGE_HEADER_BYTES;
    return {
      cpu,
      // Every attempt either reserved (an entry) or was dropped.
      written: entries + dropped,
      entries,
      bytes: f(C_BYTES) + tailBytes,
      overrun,
      dropped,
      read,
      discarded,
      lostToCorruption,
      unread: entries - read - discarded - overrun - lostToCorruption,
      // The writer records only nested depths (above 1), keeping its common path free of the word.
      maxNesting: Math.max(v.controlI32(cpu, C_MAX_NESTING), entries + dropped > 0 ? 1 : 0),
      commitOverrun: f(C_COMMIT_OVERRUN),
      corrupt: f(C_CORRUPT) + f(C_WRITER_CORRUPT),
      writerCorrupt: f(C_WRITER_CORRUPT),
      releaseGaveUp: f(C_RELEASE_GAVE_UP),
      blocked: f(C_BLOCKED),
      blockedMs: f(C_BLOCKED_MS),
      lastTimestamp: f(C_LAST_TS),
    };
  }

  /**
   * A non-consuming copy of what the buffer holds now (the flight-recorder dump),
   * merged by timestamp: `readSnapshot` gathered into arrays.
   */
  snapshot(): Snapshot {
    const events: SnapshotEvent[] = [];
    const lost: LostEvents[] = [];
    const corrupt: CorruptionReport[] = [];
    this.readSnapshot({
      event: (e) => events.push({ cpu: e.cpu, index: e.index, type: e.type, timestamp: e.timestamp, payload: e.bytes() }),
      lost: (l) => lost.push(l),
      corrupt: (r) => corrupt.push(r),
    });
    return { events, lost, corrupt };
  }

  /**
   * Reads what the buffer holds now into `visitor` without consuming it: events merged by
   * timestamp, losses and damage in the stream where they happened, exactly as `drain()`
   * would deliver them. It copies the memory (pages first, then the control words, so a
   * page overwritten during the copy shows up as overwritten) and drains the copy with the
   * one reader algorithm. Exact when the writers are quiescent; while they run, a page that
   * changes during the copy is reported as lost or damaged, never mixed in. Returns the
   * events delivered.
   */
  readSnapshot(visitor: ReadVisitor): number {
    const v = this.view;
    const copy = new SharedArrayBuffer(v.geometry.totalBytes);
    const dst = new Uint8Array(copy);
    const g = v.geometry;
    for (let cpu = 0; cpu < g.cpuCount; cpu++) {
      const pages = v.pagesBase(cpu);
      dst.set(v.u8.subarray(pages, pages + (g.pagesPerCpu + 1) * g.pageBytes), pages);
    }
    for (let cpu = 0; cpu < g.cpuCount; cpu++) {
      const c = v.controlBase(cpu);
      dst.set(v.u8.subarray(c, v.pagesBase(cpu)), c);
    }
    dst.set(v.u8.subarray(0, 256), 0);
    new Int32Array(copy)[G_READER_OWNER >> 2] = 0;
    return new RingBuffer(new RingView(copy, v.config)).reader().drain(visitor);
  }
}

/** Writes the header and every CPU's initial state: tail on page 0, the reader holding page N. */
function initialise(view: RingView): void {
  const { config, geometry: g, i32, f64 } = view;
  const u32 = new Uint32Array(view.sab, view.byteOffset, 64);
  u32[G_MAGIC >> 2] = MAGIC;
  u32[G_VERSION >> 2] = LAYOUT_VERSION;
  u32[G_CPU_COUNT >> 2] = config.cpus;
  u32[G_PAGES_PER_CPU >> 2] = config.pagesPerCpu;
  u32[G_PAGE_BYTES >> 2] = config.pageBytes;
  u32[G_MAX_PAYLOAD >> 2] = config.maxPayloadBytes;
  u32[G_MODE >> 2] = Mode[config.mode];
  u32[G_BLOCK_TIMEOUT_MS >> 2] = config.blockTimeoutMs;
  u32[G_CLOCK >> 2] = ClockKind[config.clock];
  u32[G_CPU_STRIDE >> 2] = g.cpuStride;
  u32[G_TOTAL_BYTES >> 2] = g.totalBytes;
  u32[G_COARSE_PERIOD_US >> 2] = config.coarsePeriodUs;
  f64[G_HRTIME_ORIGIN >> 3] = hrtimeOriginNs();
  const n = config.pagesPerCpu;
  for (let cpu = 0; cpu < config.cpus; cpu++) {
    const c = view.controlBase(cpu);
    const slots = view.slotBase(cpu) >> 2;
    // Tail seq 0 on page 0; every other slot free for its seq; all counters 0.
    for (let s = 0; s < n; s++) i32[slots + s] = slotWord(s, s);
    i32[(c + C_COMMITTED) >> 2] = PAGE_HEADER_BYTES;
    const page0 = view.pageAt(cpu, 0);
    i32[(page0 + P_SEQ) >> 2] = 0;
    i32[(page0 + P_COMMIT) >> 2] = PAGE_HEADER_BYTES;
    i32[(page0 + P_NEXT) >> 2] = NEXT_UNKNOWN;
    i32[(page0 + P_SIZE) >> 2] = config.pageBytes;
    i32[(page0 + P_CHECK) >> 2] = pageHeaderCheck(f64, i32, page0);
    i32[(c + C_WRITE) >> 2] = PAGE_HEADER_BYTES;
    // The reader starts out holding page N, empty and closed.
    const spare = view.pageAt(cpu, n);
    i32[(spare + P_SEQ) >> 2] = -1;
    i32[(spare + P_COMMIT) >> 2] = PAGE_HEADER_BYTES | COMMIT_CLOSED;
    i32[(c + C_READER_PHYS) >> 2] = n;
    i32[(c + C_READ_OFFSET) >> 2] = PAGE_HEADER_BYTES;
  }
}
