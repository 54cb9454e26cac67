import { Worker } from 'node:worker_threads';
import { compiledWorkerPath } from '../worker-path.js';
import type { StressMessage, StressMessageType, StressStart } from './stress-messages.js';

type Waiter = {
  readonly type: StressMessageType;
  readonly resolve: (m: StressMessage) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
};

/**
 * One worker thread of a stress run, seen from the orchestrator: its messages can be
 * awaited one type at a time, each wait bounded by a timeout, and any failure (an error
 * thrown in the worker, an exit before its final message) rejects the wait and `failed`
 * with an error naming the worker.
 */
export class StressWorker {
  readonly label: string;
  /** Rejects when the worker fails; never resolves. Race it against whatever you wait for. */
  readonly failed: Promise<never>;
  private readonly worker: Worker;
  private readonly finalType: StressMessageType;
  private readonly inbox: StressMessage[] = [];
  private waiter: Waiter | null = null;
  private failure: Error | null = null;
  private finished = false;
  private terminating = false;
  private rejectFailed: (err: Error) => void = () => {};

  /** Starts `workers/<module>.js`; `finalType` is the message after which it may exit. */
  constructor(module: string, label: string, start: StressStart, finalType: StressMessageType) {
    this.label = label;
    this.finalType = finalType;
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => {}); // observed through races; never an unhandled rejection
    // execArgv: [] so the worker does not inherit the parent's loaders (vitest's, tsx's).
    this.worker = new Worker(compiledWorkerPath(module), { workerData: start, execArgv: [] });
    this.worker.on('message', (m: StressMessage) => this.receive(m));
    this.worker.on('error', (err: Error) => this.die(new Error(`${label} failed: ${err.message}`, { cause: err })));
    this.worker.on('exit', (code) => {
      if (!this.finished || code !== 0) this.die(new Error(`${label} exited with code ${code} before it was done`));
    });
  }

  /** Resolves with the next message of `type`; rejects if the worker fails or `timeoutMs` passes first. */
  expect<T extends StressMessageType>(type: T, timeoutMs: number): Promise<Extract<StressMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) {
        resolve(this.inbox.splice(i, 1)[0] as Extract<StressMessage, { type: T }>);
        return;
      }
      if (this.failure !== null) {
        reject(this.failure);
        return;
      }
      if (this.waiter !== null) {
        reject(new Error(`${this.label}: already waiting for '${this.waiter.type}'`));
        return;
      }
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`${this.label}: no '${type}' message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = { type, resolve: resolve as (m: StressMessage) => void, reject, timer };
    });
  }

  /** Stops the thread wherever it is (busy loops included). Safe to call twice or after exit. */
  async terminate(): Promise<void> {
    this.terminating = true;
    const w = this.waiter;
    if (w !== null) {
      // Nobody will get this message now; free the timer so it does not hold the process.
      this.waiter = null;
      clearTimeout(w.timer);
      w.reject(new Error(`${this.label}: terminated while waiting for '${w.type}'`));
    }
    await this.worker.terminate();
  }

  private receive(m: StressMessage): void {
    if (m.type === this.finalType) this.finished = true;
    const w = this.waiter;
    if (w !== null && w.type === m.type) {
      this.waiter = null;
      clearTimeout(w.timer);
      w.resolve(m);
      return;
    }
    this.inbox.push(m);
  }

  private die(err: Error): void {
    if (this.failure !== null || this.terminating) return;
    this.failure = err;
    this.rejectFailed(err);
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
