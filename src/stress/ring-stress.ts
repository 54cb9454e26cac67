import { availableParallelism } from 'node:os';
import { RingBuffer } from '../ring/ring-buffer.js';
import { hookPointNames } from '../ring/interrupt.js';
import type { ClockName, ModeName } from '../ring/layout.js';
import { prng } from '../prng.js';
import { W_WRITERS_DONE, createControl, signalGo, signalStop } from './stress-control.js';
import type { ReaderStart, WriterStart } from './stress-messages.js';
import { type CpuReconciliation, reconcile } from '../check/stream-verifier.js';
import { StressWorker } from './stress-worker.js';
import { STRESS_STREAMS } from './stress-writer.js';
import { checkNumberOption } from '../option-check.js';

export interface RingStressOptions {
  /** CPU buffers, one writer thread each (plus one reader thread). Defaults to 2. */
  readonly cpus?: number;
  /** How long the writers write, seconds. Defaults to 1. */
  readonly seconds?: number;
  /** Nested ("NMI") writes injected per second on each CPU. Defaults to 10000. */
  readonly nmiPerSecond?: number;
  /** Ring mode. Defaults to `overwrite`. */
  readonly mode?: ModeName;
  /** Ring clock. Defaults to `hrtime`. */
  readonly clock?: ClockName;
  /** Pages per CPU buffer. Defaults to the ring's default (64). */
  readonly pagesPerCpu?: number;
  /** Bytes per page. Defaults to the ring's default (4096). */
  readonly pageBytes?: number;
  /** Seed of the injection schedules. Defaults to a random seed, reported in the result. */
  readonly seed?: number;
  /** Deepest write nesting injected, 1..8. Defaults to 8. */
  readonly maxDepth?: number;
  /** Bound on each handshake with the workers (ready, done, drained), ms. Defaults to 30000. */
  readonly timeoutMs?: number;
}

export interface RingStressResult {
  readonly seed: number;
  readonly cpus: number;
  /** Requested duration, and the duration the writers measured (the longest of them). */
  readonly seconds: number;
  readonly elapsedSeconds: number;
  readonly mode: ModeName;
  readonly clock: ClockName;
  readonly pagesPerCpu: number;
  readonly pageBytes: number;
  readonly nmiPerSecond: number;
  /** Totals over all CPUs. `written` is the writers' own count of attempts. */
  readonly written: number;
  readonly read: number;
  /** Events the reader delivered before the stop signal, while the writers ran. */
  readonly readWhileWriting: number;
  readonly overrun: number;
  readonly dropped: number;
  readonly unread: number;
  readonly lostToCorruption: number;
  /** Failed checks plus corruption reports: must be 0. */
  readonly corrupt: number;
  /** Sum over CPUs of |written - (read + overrun + dropped + lostToCorruption + unread)|: must be 0. */
  readonly unaccounted: number;
  readonly maxNesting: number;
  readonly nmis: number;
  readonly commitOverrun: number;
  /** Times a writer's commit loop gave up (see CpuStats.releaseGaveUp): must be 0. */
  readonly releaseGaveUp: number;
  readonly eventsPerSec: number;
  readonly readPerSec: number;
  readonly nmisPerSecPerCpu: number;
  /** Injected writes by the hook point they interrupted. */
  readonly nmisByPoint: Record<string, number>;
  /** Busy threads (writers + reader) and the cores Node reports. */
  readonly threads: number;
  readonly availableParallelism: number;
  readonly oversubscribed: boolean;
  readonly perCpu: CpuReconciliation[];
  /** The first failures, in words (empty when corrupt is 0). */
  readonly failures: string[];
}

const DEFAULT_TIMEOUT_MS = 30_000;


/**
 * Runs one multi-thread stress run of the ring buffer: one writer thread per CPU buffer
 * writing as fast as it can with nested writes injected through its interrupt hook, one
 * reader thread consuming and verifying concurrently, then a drain and a reconciliation
 * of every count. Rejects (never hangs) if a worker fails, naming it; every worker is
 * terminated before this returns or rejects.
 */
export async function runRingStress(options: RingStressOptions = {}): Promise<RingStressResult> {
  const cpus = options.cpus ?? 2;
  const seconds = options.seconds ?? 1;
  const nmiPerSecond = options.nmiPerSecond ?? 10_000;
  const maxDepth = options.maxDepth ?? STRESS_STREAMS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const seed = (options.seed ?? Math.random() * 2 ** 32) >>> 0;
  checkNumberOption('cpus', cpus, 1, 64, true);
  checkNumberOption('seconds', seconds, 0.001, 86_400, false);
  checkNumberOption('nmiPerSecond', nmiPerSecond, 0, 1e7, false);
  checkNumberOption('maxDepth', maxDepth, 1, STRESS_STREAMS, true);
  checkNumberOption('timeoutMs', timeoutMs, 1, 2 ** 31 - 1, true);
  const ring = RingBuffer.create({
    cpus,
    ...(options.pagesPerCpu !== undefined ? { pagesPerCpu: options.pagesPerCpu } : {}),
    ...(options.pageBytes !== undefined ? { pageBytes: options.pageBytes } : {}),
    mode: options.mode ?? 'overwrite',
    clock: options.clock ?? 'hrtime',
  });
  const config = ring.config;
  const control = createControl();
  const rand = prng(seed);
  const runMs = seconds * 1000;

  const workers: StressWorker[] = [];
  let timer: NodeJS.Timeout | undefined;
  // Every wait also ends if any worker fails, so a dead peer rejects the run at once.
  const orFailure = <T>(p: Promise<T>): Promise<T> => Promise.race([p, ...workers.map((w) => w.failed)]);
  try {
    const readerStart: ReaderStart = {
      kind: 'reader',
      ring: ring.buffer,
      control: control.buffer as SharedArrayBuffer,
      startTimeoutMs: timeoutMs,
      runTimeoutMs: runMs + 2 * timeoutMs,
    };
    const reader = new StressWorker('ring-reader', 'reader', readerStart, 'reader-done');
    workers.push(reader);
    const writers: StressWorker[] = [];
    for (let cpu = 0; cpu < cpus; cpu++) {
      const start: WriterStart = {
        kind: 'writer',
        ring: ring.buffer,
        control: control.buffer as SharedArrayBuffer,
        cpu,
        seed: (rand() * 2 ** 32) >>> 0,
        nmiPerSecond,
        maxDepth,
        startTimeoutMs: timeoutMs,
        runTimeoutMs: runMs + timeoutMs,
      };
      const writer = new StressWorker('ring-writer', `writer of cpu ${cpu}`, start, 'writer-done');
      writers.push(writer);
      workers.push(writer);
    }
    await orFailure(Promise.all(workers.map((w) => w.expect('ready', timeoutMs))));

    signalGo(control);
    await orFailure(new Promise<void>((resolve) => (timer = setTimeout(resolve, runMs))));
    signalStop(control);
    const done = await orFailure(Promise.all(writers.map((w) => w.expect('writer-done', timeoutMs))));
    // Every writer has posted its counts, so all its stores happen before this; pairs with
    // the reader's Atomics.load of writers-done, after which it drains.
    Atomics.store(control, W_WRITERS_DONE, 1);
    Atomics.notify(control, W_WRITERS_DONE);
    const drained = await orFailure(reader.expect('reader-done', timeoutMs));

    const writerResults = done.map((m) => m.result);
    const stats = ring.stats();
    const rec = reconcile(drained.summary, writerResults, stats);
    const sum = (f: (c: CpuReconciliation) => number): number => rec.perCpu.reduce((a, c) => a + f(c), 0);
    const elapsedSeconds = Math.max(...writerResults.map((r) => r.elapsedMs)) / 1000;
    const written = sum((c) => c.written);
    const read = sum((c) => c.read);
    const nmis = writerResults.reduce((a, r) => a + r.nmis, 0);
    const nmisByPoint: Record<string, number> = {};
    hookPointNames.forEach((name, i) => {
      nmisByPoint[name] = writerResults.reduce((a, r) => a + (r.nmisByPoint[i] ?? 0), 0);
    });
    const threads = cpus + 1;
    const cores = availableParallelism();
    return {
      seed,
      cpus,
      seconds,
      elapsedSeconds,
      mode: config.mode,
      clock: config.clock,
      pagesPerCpu: config.pagesPerCpu,
      pageBytes: config.pageBytes,
      nmiPerSecond,
      written,
      read,
      readWhileWriting: drained.readWhileWriting,
      overrun: sum((c) => c.overrun),
      dropped: sum((c) => c.dropped),
      unread: sum((c) => c.unread),
      lostToCorruption: sum((c) => c.lostToCorruption),
      corrupt: rec.failures + rec.corruptReports,
      unaccounted: rec.unaccounted,
      maxNesting: Math.max(...stats.map((s) => s.maxNesting)),
      nmis,
      commitOverrun: sum((c) => c.commitOverrun),
      releaseGaveUp: stats.reduce((a, s) => a + s.releaseGaveUp, 0),
      eventsPerSec: Math.round(written / elapsedSeconds),
      readPerSec: Math.round(read / elapsedSeconds),
      nmisPerSecPerCpu: Math.round(nmis / elapsedSeconds / cpus),
      nmisByPoint,
      threads,
      availableParallelism: cores,
      oversubscribed: threads > cores,
      perCpu: rec.perCpu,
      failures: rec.failureLog,
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
    await ring.close(); // the coarse clock's ticker, if any
  }
}
