import { parentPort } from 'node:worker_threads';

/**
 * The protocol between a benchmark's main thread and its workers, every suite alike:
 * the start message each worker gets as `workerData` (a tagged union per suite, e.g.
 * bench/ring/protocol.ts), and what it posts back.
 *
 *   main                          worker
 *    | -- new Worker(workerData: start) ------->|
 *    |<-------------- { kind: 'ready' } --------|  views built, loop compiled
 *    | -- control.go() (threaded runs only) --> |
 *    |<-- { kind: 'done', outcome } ------------|  or { kind: 'failed', message }
 *    | -- terminate() (always, in finally) ---> |
 *
 * This module is the worker side (`serve`); bench/spawn.ts is the main side.
 */
export type WorkerReply<O> =
  | { readonly kind: 'ready' }
  | { readonly kind: 'done'; readonly outcome: O }
  | { readonly kind: 'failed'; readonly message: string };

/**
 * Says ready once `prepare` has built its memory and code, then posts the outcome of the
 * run, or the failure of either.
 */
export async function serve<O>(prepare: () => Promise<() => Promise<O>> | (() => Promise<O>)): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('a bench worker must run in a worker thread');
  const post = (reply: WorkerReply<O>): void => port.postMessage(reply);
  try {
    const run = await prepare();
    post({ kind: 'ready' });
    post({ kind: 'done', outcome: await run() });
  } catch (err) {
    post({ kind: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

/**
 * A worker-side check of `workerData` for a suite's start union `S`: the returned function
 * checks that the data is a start message of one of the given kinds and narrows it.
 *
 *   export const expectStart = startChecker<BenchStart>();
 *   const start = expectStart(workerData, 'ring-writer');   // Extract<BenchStart, { kind: 'ring-writer' }>
 */
export function startChecker<S extends { readonly kind: string }>() {
  return <K extends S['kind']>(data: unknown, ...kinds: K[]): Extract<S, { kind: K }> => {
    const kind = typeof data === 'object' && data !== null ? (data as { kind?: unknown }).kind : undefined;
    if (typeof kind !== 'string' || !(kinds as string[]).includes(kind)) {
      throw new TypeError(`bench worker expects a start message of kind ${kinds.join(' | ')} (got ${String(kind)})`);
    }
    return data as Extract<S, { kind: K }>;
  };
}
