import { Worker } from 'node:worker_threads';
import type { BenchControl } from './control.js';
import type { BenchOutcome, BenchReply, BenchStart } from './protocol.js';

/** The compiled worker entry modules (dist/workers/), by role. */
export const WorkerFile = {
  single: 'bench-single.js',
  writer: 'bench-writer.js',
  reader: 'bench-reader.js',
  ringbufjs: 'bench-ringbufjs.js',
  ceiling: 'bench-ceiling.js',
} as const;
export type WorkerFile = (typeof WorkerFile)[keyof typeof WorkerFile];

export interface WorkerSpec {
  readonly file: WorkerFile;
  readonly start: BenchStart;
}

/** Bound on a worker getting ready, and on a whole run once started. */
export const READY_TIMEOUT_MS = 60_000;
export const RUN_TIMEOUT_MS = 120_000;

interface Tracked {
  readonly ready: Promise<void>;
  readonly done: Promise<BenchOutcome>;
}

function track(worker: Worker, label: string): Tracked {
  let readyResolve!: () => void;
  let readyReject!: (err: Error) => void;
  let doneResolve!: (o: BenchOutcome) => void;
  let doneReject!: (err: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  const done = new Promise<BenchOutcome>((res, rej) => {
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
  worker.on('message', (reply: BenchReply) => {
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
 */
export async function runWorkers(specs: readonly WorkerSpec[], control?: BenchControl): Promise<BenchOutcome[]> {
  const workers: Worker[] = [];
  try {
    const tracked = specs.map((spec, i) => {
      const worker = new Worker(new URL(`../../workers/${spec.file}`, import.meta.url), {
        workerData: spec.start,
        execArgv: [],
      });
      workers.push(worker);
      return track(worker, `worker ${i} (${spec.file}, ${spec.start.kind})`);
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
