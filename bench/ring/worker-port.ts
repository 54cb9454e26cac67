import { parentPort } from 'node:worker_threads';
import type { BenchOutcome, BenchReply } from './protocol.js';

/**
 * The worker side of the protocol in protocol.ts: `serve` says ready once `prepare` has
 * built its memory and code, then posts the outcome of the run, or the failure of either.
 */
export async function serve(prepare: () => Promise<() => Promise<BenchOutcome>> | (() => Promise<BenchOutcome>)): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('a bench worker must run in a worker thread');
  const post = (reply: BenchReply): void => port.postMessage(reply);
  try {
    const run = await prepare();
    post({ kind: 'ready' });
    post({ kind: 'done', outcome: await run() });
  } catch (err) {
    post({ kind: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}
