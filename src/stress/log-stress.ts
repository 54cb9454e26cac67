import { availableParallelism } from 'node:os';
import { EventLog, type LogEntry } from '../log/event-log.js';
import type { ClockName, ModeName } from '../ring/layout.js';
import { prng } from '../prng.js';
import { createControl, signalGo, signalStop } from './stress-control.js';
import type { LogWriterStart } from './stress-messages.js';
import type { LogWriterResult } from './log-stress-writer.js';
import { StressItem, itemCheck, itemNote } from './log-stress-item.js';
import { StressWorker } from './stress-worker.js';
import { checkNumberOption } from '../option-check.js';

export interface LogStressOptions {
  /** Writer threads. Defaults to 4. */
  readonly threads?: number;
  /** Writer slots of the log; when there are more threads, those beyond the first slots - 1 share the last one (so at least 2). Defaults to 2. */
  readonly slots?: number;
  /** How long the writers write, seconds. Defaults to 1. */
  readonly seconds?: number;
  /** Log mode. Defaults to `discard`. */
  readonly mode?: ModeName;
  /** Log clock. Defaults to `hrtime`. */
  readonly clock?: ClockName;
  /** Pages per slot. Defaults to 64. */
  readonly pagesPerSlot?: number;
  /** Bytes per page. Defaults to 4096. */
  readonly pageBytes?: number;
  /** Seed of the writers' choice between emit and emitRecord. Defaults to a random seed, reported. */
  readonly seed?: number;
  /** Bound on each handshake with the workers, ms. Defaults to 30000. */
  readonly timeoutMs?: number;
}

export interface LogStressResult {
  readonly seed: number;
  readonly threads: number;
  readonly slots: number;
  /** Threads that wrote through the shared slot (threads beyond the slots). */
  readonly sharedThreads: number;
  readonly seconds: number;
  readonly elapsedSeconds: number;
  readonly mode: ModeName;
  readonly clock: ClockName;
  /** The writers' own counts: emit calls, and those that returned true / false. */
  readonly emitted: number;
  readonly stored: number;
  readonly refused: number;
  /** What the consumer got: events, losses by cause, corrupt entries. */
  readonly delivered: number;
  readonly lostOverrun: number;
  readonly lostDropped: number;
  readonly lostCorrupt: number;
  /** Writes on the shared slot given up because its lock stayed busy (counted by the log). */
  readonly lockTimeouts: number;
  /** The rings' own counts, summed over the slots: attempts that reached a ring, and those it dropped. */
  readonly ringWritten: number;
  readonly ringDropped: number;
  /** Events that failed their check (wrong check word or note, unknown thread) plus corrupt entries: must be 0. */
  readonly corrupt: number;
  /** Events that came out of order or twice in their thread's sequence: must be 0. */
  readonly outOfOrder: number;
  /** |stored - delivered - lost (overrun, corrupt)| + |refused - lost (dropped) - lock timeouts|: must be 0. */
  readonly unaccounted: number;
  readonly emittedPerSec: number;
  readonly deliveredPerSec: number;
  /** Busy threads (writers + this consuming thread) and the cores Node reports. */
  readonly busyThreads: number;
  readonly availableParallelism: number;
  readonly oversubscribed: boolean;
  readonly perThread: readonly LogWriterResult[];
  /** The first failures, in words (empty when corrupt and outOfOrder are 0). */
  readonly failures: readonly string[];
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_FAILURES_LOGGED = 20;


/** Threads that found their slot shared with another thread. */
function sharedThreadsOf(results: readonly LogWriterResult[]): number {
  const bySlot = new Map<number, number>();
  for (const r of results) bySlot.set(r.slot, (bySlot.get(r.slot) ?? 0) + 1);
  return results.filter((r) => bySlot.get(r.slot)! > 1).length;
}

/** The consumer's side: each entry checked as it arrives, each thread's sequence followed. */
class LogVerifier {
  delivered = 0;
  lostOverrun = 0;
  lostDropped = 0;
  lostCorrupt = 0;
  corrupt = 0;
  outOfOrder = 0;
  readonly failures: string[] = [];
  private readonly lastSeq: Float64Array;

  constructor(threads: number) {
    this.lastSeq = new Float64Array(threads).fill(-1);
  }

  take(e: LogEntry): void {
    if (e.kind === 'lost') {
      if (e.cause === 'overrun') this.lostOverrun += e.count;
      else if (e.cause === 'dropped') this.lostDropped += e.count;
      else this.lostCorrupt += e.count;
      return;
    }
    if (e.kind === 'corrupt') {
      this.fail(`corrupt entry in slot ${e.slot}: ${e.reason}`);
      return;
    }
    this.delivered++;
    const thread = e.values['thread'] as number;
    const seq = e.values['seq'] as number;
    if (e.name !== StressItem.name || !(thread < this.lastSeq.length) || e.values['check'] !== itemCheck(thread, seq) || e.values['note'] !== itemNote(thread, seq)) {
      this.fail(`slot ${e.slot} event ${e.index} does not check out: ${JSON.stringify(e.values)}`);
      return;
    }
    if (!(seq > this.lastSeq[thread]!)) {
      this.outOfOrder++;
      if (this.failures.length < MAX_FAILURES_LOGGED) this.failures.push(`thread ${thread}: seq ${seq} after ${this.lastSeq[thread]}`);
    }
    this.lastSeq[thread] = seq;
  }

  private fail(what: string): void {
    this.corrupt++;
    if (this.failures.length < MAX_FAILURES_LOGGED) this.failures.push(what);
  }
}

/**
 * Runs one multi-thread stress run of the EventLog: `threads` worker threads emit typed
 * events as fast as they can into a log of `slots` slots (threads beyond them share the
 * last slot, under its lock), while this thread consumes with `events()` and checks every
 * event as it comes; after the writers stop it takes what is left and balances every
 * count. Rejects (never hangs) if a worker fails, naming it; every worker is terminated
 * and the log closed before this returns or rejects.
 */
export async function runLogStress(options: LogStressOptions = {}): Promise<LogStressResult> {
  const threads = options.threads ?? 4;
  const slots = options.slots ?? 2;
  const seconds = options.seconds ?? 1;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const seed = (options.seed ?? Math.random() * 2 ** 32) >>> 0;
  checkNumberOption('threads', threads, 1, 64, true);
  checkNumberOption('slots', slots, 1, 64, true);
  checkNumberOption('seconds', seconds, 0.001, 86_400, false);
  checkNumberOption('timeoutMs', timeoutMs, 1, 2 ** 31 - 1, true);
  if (threads > slots && slots < 2) {
    throw new RangeError(`options.slots must be at least 2 when options.threads (${threads}) exceeds it: the last slot is the shared one (got ${slots})`);
  }
  const log = EventLog.create({
    slots,
    onSlotsExhausted: threads > slots ? 'shared' : 'error',
    mode: options.mode ?? 'discard',
    clock: options.clock ?? 'hrtime',
    ...(options.pagesPerSlot !== undefined ? { pagesPerSlot: options.pagesPerSlot } : {}),
    ...(options.pageBytes !== undefined ? { pageBytes: options.pageBytes } : {}),
  });
  const control = createControl();
  const rand = prng(seed);
  const runMs = seconds * 1000;
  const verifier = new LogVerifier(threads);
  const stopConsumer = new AbortController();
  const workers: StressWorker[] = [];
  let timer: NodeJS.Timeout | undefined;
  const orFailure = <T>(p: Promise<T>): Promise<T> => Promise.race([p, ...workers.map((w) => w.failed)]);
  try {
    for (let thread = 0; thread < threads; thread++) {
      const start: LogWriterStart = {
        kind: 'log-writer',
        log: log.handle,
        control: control.buffer as SharedArrayBuffer,
        thread,
        seed: (rand() * 2 ** 32) >>> 0,
        startTimeoutMs: timeoutMs,
        runTimeoutMs: runMs + timeoutMs,
      };
      workers.push(new StressWorker('log-writer', `log writer ${thread}`, start, 'log-writer-done'));
    }
    await orFailure(Promise.all(workers.map((w) => w.expect('ready', timeoutMs))));

    // The consumer runs here, concurrently with the writers, until they are done.
    const consuming = (async () => {
      for await (const e of log.events({ signal: stopConsumer.signal, pollMs: 1 })) verifier.take(e);
    })();
    signalGo(control);
    await orFailure(new Promise<void>((resolve) => (timer = setTimeout(resolve, runMs))));
    signalStop(control);
    const done = await orFailure(Promise.all(workers.map((w) => w.expect('log-writer-done', timeoutMs))));
    // Every writer has posted its counts (its writes happen before): the consumer's last
    // pass, after the abort, sees everything they stored.
    stopConsumer.abort();
    await consuming;

    const perThread = done.map((m) => m.result).sort((a, b) => a.thread - b.thread);
    const total = (f: (r: LogWriterResult) => number): number => perThread.reduce((a, r) => a + f(r), 0);
    const emitted = total((r) => r.emitted);
    const stored = total((r) => r.stored);
    const refused = total((r) => r.refused);
    const logStats = log.stats();
    const lockTimeouts = logStats.sharedLockTimeouts;
    const v = verifier;
    const unaccounted = Math.abs(stored - v.delivered - v.lostOverrun - v.lostCorrupt) + Math.abs(refused - v.lostDropped - lockTimeouts);
    const elapsedSeconds = Math.max(...perThread.map((r) => r.elapsedMs)) / 1000;
    const busyThreads = threads + 1;
    const cores = availableParallelism();
    return {
      seed,
      threads,
      slots,
      sharedThreads: sharedThreadsOf(perThread),
      seconds,
      elapsedSeconds,
      mode: log.ring.config.mode,
      clock: log.ring.config.clock,
      emitted,
      stored,
      refused,
      delivered: v.delivered,
      lostOverrun: v.lostOverrun,
      lostDropped: v.lostDropped,
      lostCorrupt: v.lostCorrupt,
      lockTimeouts,
      ringWritten: logStats.slots.reduce((a, s) => a + s.written, 0),
      ringDropped: logStats.slots.reduce((a, s) => a + s.dropped, 0),
      corrupt: v.corrupt,
      outOfOrder: v.outOfOrder,
      unaccounted,
      emittedPerSec: Math.round(emitted / elapsedSeconds),
      deliveredPerSec: Math.round(v.delivered / elapsedSeconds),
      busyThreads,
      availableParallelism: cores,
      oversubscribed: busyThreads > cores,
      perThread,
      failures: v.failures,
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    stopConsumer.abort();
    await Promise.all(workers.map((w) => w.terminate()));
    await log.close();
  }
}
