import { Worker } from 'node:worker_threads';
import { compiledWorkerPath } from '../src/worker-path.js';
import type { BenchControl } from './control.js';
import type { WorkerReply } from './worker-port.js';

/**
 * The main side of the bench worker protocol (bench/worker-port.ts): start workers, wait
 * until they are ready, say go, collect their outcomes, and terminate every one of them,
 * whatever happened.
 */

/** The benchmarks' worker entry modules (workers/bench-*.ts, run compiled from dist/workers/), by role. */
export const WorkerFile = {
  single: 'bench-single',
  writer: 'bench-writer',
  reader: 'bench-reader',
  ringbufjs: 'bench-ringbufjs',
  ceiling: 'bench-ceiling',
  syncSender: 'bench-sync-sender',
  contention: 'bench-contention',
} as const;
export type WorkerFile = (typeof WorkerFile)[keyof typeof WorkerFile];

export interface WorkerSpec<S extends { readonly kind: string } = { readonly kind: string }> {
  readonly file: WorkerFile;
  /** The worker's start message (`workerData`): a suite's tagged union. */
  readonly start: S;
}

/** Bound on a worker getting ready, and on a whole run once started. */
export const READY_TIMEOUT_MS = 60_000;
export const RUN_TIMEOUT_MS = 120_000;

interface Tracked<O> {
  readonly ready: Promise<void>;
  readonly done: Promise<O>;
}

function track<O>(worker: Worker, label: string): Tracked<O> {
  let readyResolve!: () => void;
  let readyReject!: (err: Error) => void;
  let doneResolve!: (o: O) => void;
  let doneReject!: (err: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  const done = new Promise<O>((res, rej) => {
    doneResolve = res;
    doneReject = rej;
  });
  // Either may be left unawaited when the other fails first: mark both handled.
  ready.catch(() => {});
  done.catch(() => {});
  const fail = (err: Error): void => {
    readyReject(err);
    doneReject(err);
  };
  worker.on('message', (reply: WorkerReply<O>) => {
    switch (reply.kind) {
      case 'ready':
        readyResolve();
        break;
      case 'done':
        doneResolve(reply.outcome);
        break;
      case 'failed':
        fail(new Error(`${label} failed: ${reply.message}`));
        break;
    }
  });
  worker.on('error', (err) => fail(new Error(`${label} crashed: ${err.stack ?? err.message}`)));
  worker.on('exit', (code) => fail(new Error(`${label} exited (code ${code}) before reporting`)));
  return { ready, done };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_res, rej) => {
    timer = setTimeout(() => rej(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts one worker per spec (compiled dist/workers/*.js, `execArgv: []` so no parent
 * flag or loader follows them), waits until all are ready, says go through the control
 * block (if any), and returns their outcomes in spec order. Every worker is terminated
 * in `finally`, on success and on failure alike; on failure the control block is
 * aborted first so that surviving peers stop waiting.
 *
 * `S` is the suite's start-message union, `O` the outcome type its workers post (a tagged
 * union the caller narrows).
 */
export async function runWorkers<S extends { readonly kind: string }, O>(specs: readonly WorkerSpec<S>[], control?: BenchControl): Promise<O[]> {
  const workers: Worker[] = [];
  try {
    const tracked = specs.map((spec, i) => {
      const worker = new Worker(compiledWorkerPath(spec.file), {
        workerData: spec.start,
        execArgv: [],
      });
      workers.push(worker);
      return track<O>(worker, `worker ${i} (${spec.file}, ${spec.start.kind})`);
    });
    await within(Promise.all(tracked.map((t) => t.ready)), READY_TIMEOUT_MS, 'bench workers did not get ready');
    control?.go();
    return await within(Promise.all(tracked.map((t) => t.done)), RUN_TIMEOUT_MS, 'bench workers did not finish');
  } catch (err) {
    control?.abort();
    throw err;
  } finally {
    await Promise.allSettled(workers.map((w) => w.terminate()));
  }
}
