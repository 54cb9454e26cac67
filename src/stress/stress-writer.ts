import type { CpuWriter } from '../ring/writer.js';
import { HOOK_POINT_COUNT, type HookPoint, type InterruptHook } from '../ring/interrupt.js';
import { prng } from '../prng.js';
import { W_STOP } from './stress-control.js';
import { MAX_STREAMS, STREAM_WORDS_BYTES, type StreamFormat, payloadHash, streamTag } from '../check/stream-payload.js';
import type { StreamWriterCounts } from '../check/stream-verifier.js';

/** Streams per CPU: stream = write depth - 1, so this is also the deepest nesting the harness injects. */
export const STRESS_STREAMS = MAX_STREAMS;
/** Event type of stream 0; stream s uses STRESS_TYPE_BASE + s. */
export const STRESS_TYPE_BASE = 0x5300;
/** The stress harness's events: one stream per nesting depth, 16-byte payloads. */
export const STRESS_FORMAT: StreamFormat = { typeBase: STRESS_TYPE_BASE, streams: STRESS_STREAMS, payloadBytes: STREAM_WORDS_BYTES };

export interface StressWriterOptions {
  /** Seeds the injection schedule (which hook calls are interrupted, how deep). */
  readonly seed: number;
  /** Target rate of injected nested ("NMI") writes on this CPU, per second. 0 installs no hook. */
  readonly nmiPerSecond: number;
  /** Deepest write nesting injected, 1..STRESS_STREAMS (1: no nesting). Defaults to STRESS_STREAMS. */
  readonly maxDepth?: number;
}

/** What one writer did, counted by the writer itself (independently of the ring's stats). */
export interface StressWriterResult extends StreamWriterCounts {
  readonly cpu: number;
  /** Write attempts per stream; a dropped write still consumed its seq, so this is also the next seq. */
  readonly attempts: number[];
  /** Writes per stream that `write()` reported stored. */
  readonly stored: number[];
  /** Injected nested writes (attempts of streams 1..). */
  readonly nmis: number;
  /** Injected nested writes by the hook point they interrupted (HookPoint order). */
  readonly nmisByPoint: number[];
  /** Deepest write this writer made (1: never nested). */
  readonly maxDepth: number;
  /** Time spent in run(), ms. */
  readonly elapsedMs: number;
}

/** Writes between two polls of the stop word: cheap to poll, quick to stop. */
const BATCH = 256;
/** Batches between two calibrations of the injection rate (each reads the clock once). */
const CALIBRATE_BATCHES = 8;
/** Shortest window over which the hook-call rate is measured, ms. */
const CALIBRATE_MIN_MS = 2;
/** The deficit (or surplus) of injections is repaid over this many seconds. */
const CATCH_UP_S = 0.02;
/** Hook calls per second assumed before the first calibration. */
const INITIAL_HOOK_RATE = 30e6;
/** Chance that an injected write is itself interrupted (so depth d+1 is half as likely as depth d). */
const NEST_CHANCE = 0.5;
/**
 * A chained interrupt fires within the first CHAIN_WINDOW hook calls of the nested write,
 * so it lands inside it: every write, even a dropped one, passes at least 4 hook points
 * (entered, clockRead, pageFull or reserved, committed).
 */
const CHAIN_WINDOW = 4;
/** Longest countdown: it stays a small integer (a V8 Smi), which keeps the hook's decrement cheap. */
const MAX_COUNTDOWN = 0x3fffffff;
/** Hook calls an armed interrupt waits for its chosen point before firing wherever it is. */
const TARGET_PATIENCE = 4096;

/**
 * The writer side of the stress harness, for one CPU buffer. The thread owning the
 * CpuWriter calls `run()`; tests call `writeBatch()` directly in one thread.
 *
 * Nested writes are injected from the writer's interrupt hook, driven by a countdown of
 * hook calls drawn from the seeded PRNG (never a clock read inside the hook). When the
 * countdown expires the interrupt waits for a hook point chosen uniformly among the nine,
 * so the rare page-switch points (S0-S2) are interrupted as often as the common ones.
 * The mean countdown is recalibrated from the measured hook-call rate outside the hook,
 * so the achieved rate tracks `nmiPerSecond`.
 */
export class StressWriter {
  readonly cpu: number;
  private readonly writer: CpuWriter;
  private readonly rand: () => number;
  private readonly nmiPerSecond: number;
  private readonly maxDepth: number;
  private readonly tags: Uint32Array;
  /** Next seq per stream (= attempts so far). */
  private readonly seq = new Float64Array(STRESS_STREAMS);
  private readonly stored = new Float64Array(STRESS_STREAMS);
  private readonly nmisByPoint = new Float64Array(HOOK_POINT_COUNT);
  private nmis = 0;
  private deepest = 0;

  // Injection schedule. `drawn - countdown` is the number of hook calls so far, so the
  // hook itself only decrements.
  private countdown = MAX_COUNTDOWN;
  private drawn = 0;
  private target = -1;
  private patience = 0;
  private meanInterval: number;
  private lastCalibrationMs = 0;
  private lastCalibrationCalls = 0;

  /** The hook installed on the CpuWriter: one decrement and a branch unless an interrupt is due. */
  readonly hook: InterruptHook = (point) => {
    if (--this.countdown > 0) return;
    this.interrupt(point);
  };

  constructor(writer: CpuWriter, options: StressWriterOptions) {
    const maxDepth = options.maxDepth ?? STRESS_STREAMS;
    if (!(Number.isInteger(maxDepth) && maxDepth >= 1 && maxDepth <= STRESS_STREAMS)) {
      throw new RangeError(`options.maxDepth must be an integer between 1 and ${STRESS_STREAMS} (got ${maxDepth})`);
    }
    if (!(Number.isFinite(options.nmiPerSecond) && options.nmiPerSecond >= 0)) {
      throw new RangeError(`options.nmiPerSecond must be a finite number >= 0 (got ${options.nmiPerSecond})`);
    }
    this.cpu = writer.cpu;
    this.writer = writer;
    this.rand = prng(options.seed);
    this.nmiPerSecond = options.nmiPerSecond;
    this.maxDepth = maxDepth;
    this.tags = new Uint32Array(STRESS_STREAMS);
    for (let s = 0; s < STRESS_STREAMS; s++) this.tags[s] = streamTag(writer.cpu, s);
    this.meanInterval = this.nmiPerSecond > 0 ? INITIAL_HOOK_RATE / this.nmiPerSecond : Infinity;
    if (this.nmiPerSecond > 0) {
      this.rearm();
      writer.hook = this.hook;
    }
  }

  /** Writes `count` stream-0 events as fast as the ring takes them. */
  writeBatch(count: number): void {
    const w = this.writer;
    const tag = this.tags[0]!;
    const type = STRESS_TYPE_BASE;
    let s = this.seq[0]!;
    let stored = 0;
    for (let i = 0; i < count; i++) {
      const lo = s >>> 0;
      s++;
      if (w.write(type, lo, tag, payloadHash(lo, tag), ~lo)) stored++;
    }
    this.seq[0] = s;
    this.stored[0]! += stored;
    if (this.deepest === 0 && count > 0) this.deepest = 1;
  }

  /**
   * Writes until `control[W_STOP]` is set, polling it every BATCH writes. Throws if the
   * stop has not come after `timeoutMs` (the orchestrator is gone or stuck).
   */
  run(control: Int32Array, timeoutMs: number): StressWriterResult {
    const start = performance.now();
    for (let batch = 1; ; batch++) {
      this.writeBatch(BATCH);
      // Pairs with the orchestrator's Atomics.store of stop.
      if (Atomics.load(control, W_STOP) !== 0) break;
      if (batch % CALIBRATE_BATCHES === 0) {
        const t = performance.now() - start;
        if (t > timeoutMs) throw new Error(`cpu ${this.cpu}: no stop signal within ${timeoutMs} ms`);
        this.calibrate(t);
      }
    }
    return this.result(performance.now() - start);
  }

  result(elapsedMs: number): StressWriterResult {
    return {
      cpu: this.cpu,
      attempts: Array.from(this.seq),
      stored: Array.from(this.stored),
      nmis: this.nmis,
      nmisByPoint: Array.from(this.nmisByPoint),
      maxDepth: this.deepest,
      elapsedMs,
    };
  }

  /**
   * Adjusts the mean countdown so the injections keep pace with nmiPerSecond: measure the
   * hook-call rate since the last calibration, ask for the target rate plus whatever
   * repays the current deficit over CATCH_UP_S. `elapsedMs` is the time since the run began.
   */
  calibrate(elapsedMs: number): void {
    const dt = elapsedMs - this.lastCalibrationMs;
    if (this.nmiPerSecond === 0 || dt < CALIBRATE_MIN_MS) return;
    const calls = this.drawn - this.countdown;
    const hookRate = ((calls - this.lastCalibrationCalls) * 1000) / dt;
    this.lastCalibrationCalls = calls;
    this.lastCalibrationMs = elapsedMs;
    const r = this.nmiPerSecond;
    const behind = (r * elapsedMs) / 1000 - this.nmis;
    const want = Math.min(8 * r, Math.max(r / 8, r + behind / CATCH_UP_S));
    this.meanInterval = Math.max(1, hookRate / want);
  }

  /** Arms the next interrupt: an exponential countdown of hook calls, then a random hook point. */
  private rearm(): void {
    const n = Math.min(MAX_COUNTDOWN, Math.ceil(-Math.log(1 - this.rand()) * this.meanInterval) || 1);
    this.countdown = n;
    this.drawn += n;
    this.target = Math.floor(this.rand() * HOOK_POINT_COUNT);
    this.patience = TARGET_PATIENCE;
  }

  /** The countdown expired at `point`: inject a nested write here, or keep waiting for the target point. */
  private interrupt(point: HookPoint): void {
    if (this.target >= 0 && point !== this.target && --this.patience > 0) {
      this.countdown = 1;
      this.drawn += 1;
      return;
    }
    // The depth of the write being interrupted: the nested write runs at depth + 1.
    const depth = this.writer.depth;
    if (depth >= this.maxDepth) {
      this.rearm();
      return;
    }
    if (this.rand() < NEST_CHANCE) {
      // Chain: interrupt the nested write itself within its first hook calls.
      const n = 1 + Math.floor(this.rand() * CHAIN_WINDOW);
      this.countdown = n;
      this.drawn += n;
      this.target = -1;
    } else {
      this.rearm();
    }
    this.nmis++;
    this.nmisByPoint[point]!++;
    if (depth + 1 > this.deepest) this.deepest = depth + 1;
    // Writes of one depth never overlap, so the stream is the depth and its seq order is the ring order.
    const stream = depth;
    const s = this.seq[stream]!;
    this.seq[stream] = s + 1;
    const lo = s >>> 0;
    const tag = this.tags[stream]!;
    if (this.writer.write(STRESS_TYPE_BASE + stream, lo, tag, payloadHash(lo, tag), ~lo)) this.stored[stream]!++;
  }
}
