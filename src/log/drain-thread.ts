import { Worker } from 'node:worker_threads';
import { checkNumberOption, checkOptionNames } from '../option-check.js';
import { compiledWorkerPath } from '../worker-path.js';
import { D_COMMAND, D_FLUSHES_DONE, D_FLUSH_REQUESTS, D_STATE, DRAIN_CONTROL_BYTES, DrainCommand, DrainState, readDrainStats, type DrainStats } from './drain-control.js';
import { openSyncOutput, type DrainSink, type DrainStart } from './drain-loop.js';
import type { EventLog } from './event-log.js';
import type { RingBuffer } from '../ring/ring-buffer.js';
import { onProcessEnd } from './exit-hooks.js';

export type { DrainSink } from './drain-loop.js';
export type { DrainStats } from './drain-control.js';

export interface DrainThreadOptions {
  /** Where the events go. */
  readonly sink: DrainSink;
  /** How often the events on pages the writers have not filled yet are written out, ms. Defaults to 100. */
  readonly flushMs?: number;
  /** How long the drain thread sleeps when there is nothing to take, ms. Defaults to 1. */
  readonly pollMs?: number;
  /**
   * Finish the drain when the process ends (normally, `process.exit()`, an uncaught
   * exception or unhandled rejection) and on SIGTERM / SIGINT, so no committed event is
   * lost. Defaults to true.
   */
  readonly exitHooks?: boolean;
  /** The longest the process's exit waits for the drain thread to finish, ms. Defaults to 5000. */
  readonly exitTimeoutMs?: number;
  /** The longest `start()` waits for the drain thread to open its sink, ms. Defaults to 10000. */
  readonly startTimeoutMs?: number;
}

const optionNames = ['sink', 'flushMs', 'pollMs', 'exitHooks', 'exitTimeoutMs', 'startTimeoutMs'];
const sinkKeys: Record<DrainSink['kind'], readonly string[]> = {
  binary: ['kind', 'path', 'flags', 'fsync'],
  jsonl: ['kind', 'path', 'flags', 'fsync', 'bufferBytes'],
  module: ['kind', 'module', 'options'],
};

/**
 * A thread of its own that drains an EventLog into a sink: the application's threads only
 * emit. The binary sink copies the ring's committed pages out as they are (no event is
 * decoded on the way); JSON lines and your own sinks are decoded and formatted there, never
 * on the writers' threads.
 *
 * Nothing committed is lost when the process ends, however it ends short of SIGKILL: the
 * memory is shared, so the process's exit handler tells the drain thread to finish and
 * waits for it (bounded), and SIGTERM / SIGINT finish the drain and then let the process
 * die of the signal as it would have (if nothing else listens for it; if something does,
 * the drain is flushed and that listener decides).
 */
export class DrainThread {
  /** What the thread drains: an EventLog's handle, or a ring with its schemas. */
  private readonly source: DrainStart['log'];
  private readonly sink: DrainSink;
  private readonly worker: Worker;
  /** The drain thread's id, kept: a worker's own `threadId` reads -1 once it has stopped. */
  private readonly threadId: number;
  private readonly control: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly exitTimeoutMs: number;
  private removeExitHook: (() => void) | null = null;
  private failure: Error | null = null;
  private hasExited = false;
  private readonly exited: Promise<void>;
  private closing: Promise<DrainStats> | null = null;

  private constructor(source: DrainStart['log'], sink: DrainSink, worker: Worker, control: SharedArrayBuffer, exitTimeoutMs: number) {
    this.source = source;
    this.sink = sink;
    this.worker = worker;
    this.threadId = worker.threadId;
    this.control = control;
    this.ctl = new Int32Array(control);
    this.exitTimeoutMs = exitTimeoutMs;
    this.exited = new Promise((resolve) =>
      worker.once('exit', () => {
        this.hasExited = true;
        resolve();
      }),
    );
    worker.on('error', (err) => (this.failure ??= err));
  }

  /**
   * Starts a drain thread for `log` and resolves when it has opened its sink. The log's
   * consuming reader is the drain thread's from then on. Rejects on bad options
   * (TypeError / RangeError naming the option) or a sink that cannot be opened.
   */
  static start(log: EventLog, options: DrainThreadOptions): Promise<DrainThread> {
    return DrainThread.launch(log.handle, options);
  }

  /**
   * Starts a drain thread for a ring that is not an EventLog's (the machine's): the same
   * page drain into a binary sink, with `schemas` (event type -> schema JSON, as
   * `schemaToJson` gives it) written into the file so that its readers decode the events,
   * and `description` in the segment record. The ring's consuming reader is the drain
   * thread's from then on.
   */
  static startRing(ring: RingBuffer, schemas: ReadonlyArray<readonly [number, string]>, description: unknown, options: DrainThreadOptions): Promise<DrainThread> {
    if (options.sink?.kind !== 'binary') throw new RangeError('a ring drains to a binary sink only: { kind: "binary", path }');
    return DrainThread.launch({ kind: 'ring', buffer: ring.buffer, byteOffset: ring.byteOffset, schemas, description }, options);
  }

  private static async launch(source: DrainStart['log'], options: DrainThreadOptions): Promise<DrainThread> {
    checkOptionNames(options, optionNames, 'DrainThread options');
    const sink = checkSink(options.sink);
    const flushMs = checkNumberOption('flushMs', options.flushMs ?? 100, 1, 60_000, false);
    const pollMs = checkNumberOption('pollMs', options.pollMs ?? 1, 0.01, 1000, false);
    const exitTimeoutMs = checkNumberOption('exitTimeoutMs', options.exitTimeoutMs ?? 5000, 1, 600_000, false);
    const startTimeoutMs = checkNumberOption('startTimeoutMs', options.startTimeoutMs ?? 10_000, 1, 600_000, false);
    if (options.exitHooks !== undefined && typeof options.exitHooks !== 'boolean') throw new TypeError(`options.exitHooks must be a boolean (got ${typeof options.exitHooks})`);
    const control = new SharedArrayBuffer(DRAIN_CONTROL_BYTES);
    const start: DrainStart = { kind: 'log-drain', log: source, control, sink, flushMs, pollMs };
    const worker = new Worker(compiledWorkerPath('log-drain'), { workerData: start, execArgv: [] });
    // The drain never keeps a process alive; the exit hook finishes it.
    worker.unref();
    const drain = new DrainThread(source, sink, worker, control, exitTimeoutMs);
    try {
      await drain.until(D_STATE, (state) => state === DrainState.running, performance.now() + startTimeoutMs, 'the drain thread exited before it started');
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    if (options.exitHooks !== false) drain.installExitHooks();
    return drain;
  }

  /** What the drain has written so far (racy: it keeps writing). */
  stats(): DrainStats {
    return readDrainStats(this.control);
  }

  /**
   * Waits until everything committed before the call is in the sink (the writers' unfilled
   * pages included), blocking this thread up to `timeoutMs`. Returns whether it got there.
   * For exit paths; elsewhere use `flush()`.
   */
  flushSync(timeoutMs = this.exitTimeoutMs): boolean {
    if (!this.running()) return false;
    const ticket = this.requestFlush();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const done = Atomics.load(this.ctl, D_FLUSHES_DONE >> 2);
      if (done - ticket >= 0) return true;
      const left = deadline - performance.now();
      if (left <= 0 || !this.running()) return false;
      Atomics.wait(this.ctl, D_FLUSHES_DONE >> 2, done, Math.min(left, 50));
    }
  }

  /** Resolves when everything committed before the call is in the sink. */
  async flush(): Promise<void> {
    const ticket = this.requestFlush();
    await this.until(D_FLUSHES_DONE, (done) => done - ticket >= 0, Infinity, 'the drain thread stopped before the flush');
  }

  /**
   * Resolves when the control word `word` satisfies `done`; rejects if the drain thread
   * fails or exits first (`gone`), or at the deadline. The one asynchronous wait on the
   * drain thread; it keeps the process alive meanwhile.
   */
  private until(word: number, done: (value: number) => boolean, deadline: number, gone: string): Promise<void> {
    return this.whileAlive(async () => {
      for (;;) {
        this.throwIfFailed();
        const value = Atomics.load(this.ctl, word >> 2);
        if (done(value)) return;
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`${gone}: no answer in time`);
        if (this.hasExited) throw new Error(gone);
        const wait = Atomics.waitAsync(this.ctl, word >> 2, value, Math.min(left, 50));
        if (wait.async) await Promise.race([wait.value, this.exited]);
      }
    });
  }

  /**
   * Keeps the process alive while `wait` runs: the thread is unref'd (it never keeps a
   * process alive by itself) and a pending Atomics.waitAsync does not either.
   */
  private async whileAlive<T>(wait: () => Promise<T>): Promise<T> {
    this.worker.ref();
    try {
      return await wait();
    } finally {
      this.worker.unref();
    }
  }

  /**
   * Drains everything committed (stop the writers first to include their last events),
   * announces the last drops, closes the sink and stops the thread. Resolves with the
   * drain's totals; rejects if the drain thread failed. Idempotent.
   */
  close(): Promise<DrainStats> {
    this.closing ??= (async () => {
      this.removeExitHooks();
      this.command(DrainCommand.finish);
      await this.whileAlive(() => this.exited);
      // A drain thread that died (not one whose sink failed) is finished from here.
      if (this.failure === null && Atomics.load(this.ctl, D_STATE >> 2) !== DrainState.finished) this.rescue();
      this.throwIfFailed();
      if (Atomics.load(this.ctl, D_STATE >> 2) !== DrainState.finished) throw new Error('the drain thread stopped before it finished');
      return this.stats();
    })();
    return this.closing;
  }

  /** Finishes the drain from an exit path: blocks this thread (bounded) until the sink is closed. */
  private finishSync(): void {
    const state = Atomics.load(this.ctl, D_STATE >> 2);
    if (state === DrainState.finished) return;
    if (state !== DrainState.running || this.hasExited) {
      this.rescue();
      return;
    }
    this.command(DrainCommand.finish);
    const deadline = performance.now() + this.exitTimeoutMs;
    for (let state = Atomics.load(this.ctl, D_STATE >> 2); state === DrainState.running; state = Atomics.load(this.ctl, D_STATE >> 2)) {
      const left = deadline - performance.now();
      if (left <= 0) {
        process.stderr.write(`ringtrace: the drain thread did not finish within ${this.exitTimeoutMs} ms; events not yet written are lost\n`);
        return;
      }
      Atomics.wait(this.ctl, D_STATE >> 2, DrainState.running, left);
    }
  }

  /**
   * The drain thread died before it finished: drain what it had not reached from this
   * thread, synchronously (the ring is shared memory and the reader's state is in it).
   * What the thread had taken out of the ring but not yet written is gone; it writes after
   * every pass, so that is at most one pass.
   */
  private rescue(): void {
    const output = openSyncOutput(this.source, this.sink, this.threadId);
    if (output === null) {
      process.stderr.write('ringtrace: the drain thread died and its sink is a module: the events it had not written are lost\n');
      return;
    }
    output.finish();
    Atomics.store(this.ctl, D_STATE >> 2, DrainState.finished);
  }

  private running(): boolean {
    return Atomics.load(this.ctl, D_STATE >> 2) === DrainState.running;
  }

  private requestFlush(): number {
    const ticket = Atomics.add(this.ctl, D_FLUSH_REQUESTS >> 2, 1) + 1;
    // Wakes the drain, which sleeps on the command word.
    Atomics.notify(this.ctl, D_COMMAND >> 2);
    return ticket;
  }

  private command(command: number): void {
    // Pairs with the drain loop's Atomics.load / waitAsync of the command word.
    Atomics.store(this.ctl, D_COMMAND >> 2, command);
    Atomics.notify(this.ctl, D_COMMAND >> 2);
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
    if (Atomics.load(this.ctl, D_STATE >> 2) === DrainState.failed) throw new Error('the drain thread failed');
  }

  private installExitHooks(): void {
    this.removeExitHook = onProcessEnd((reason) => {
      // A signal someone else handles may not end the process: make the log durable now;
      // the exit itself finishes the drain.
      if (reason === 'signal-observed') this.flushSync();
      else this.finishSync();
    });
  }

  private removeExitHooks(): void {
    this.removeExitHook?.();
    this.removeExitHook = null;
  }
}

function checkSink(sink: unknown): DrainSink {
  if (typeof sink !== 'object' || sink === null) throw new TypeError('options.sink must be an object: { kind: "binary" | "jsonl", path } or { kind: "module", module, options }');
  const kind = (sink as { kind?: unknown }).kind;
  if (kind !== 'binary' && kind !== 'jsonl' && kind !== 'module') throw new RangeError(`options.sink.kind must be one of binary, jsonl, module (got ${JSON.stringify(kind)})`);
  checkOptionNames(sink, sinkKeys[kind], `options.sink (${kind})`);
  const path = kind === 'module' ? (sink as { module?: unknown }).module : (sink as { path?: unknown }).path;
  if (typeof path !== 'string' || path === '') throw new TypeError(`options.sink.${kind === 'module' ? 'module' : 'path'} must be a non-empty string`);
  return sink as DrainSink;
}
