import { Worker } from 'node:worker_threads';
import type { Machine } from '../machine/machine.js';
import { compiledWorkerPath } from '../worker-path.js';
import type { PatchReport, PatchRequest } from './coordinator.js';
import type { SiteFilter } from './site-selection.js';

/** A request as the main thread may give it: the filter may also be a predicate on site ids. */
export type PatcherRequest = Omit<PatchRequest, 'filter'> & { readonly filter?: SiteFilter | ((site: number) => boolean) };

export interface CoordinatorRequest {
  readonly id: number;
  readonly request: PatchRequest;
}

export type CoordinatorReply =
  | { readonly id: number; readonly report: PatchReport }
  | { readonly id: number; readonly error: string }
  | { readonly id: -1; readonly ready: true };

/**
 * The main thread's handle on the coordinator thread: requests go in a queue (the
 * worker's message queue; it performs one operation at a time) and come back as promises.
 * The coordinator is a plain worker rather than a piscina task: it is one long-lived
 * thread fed by messages, which is what a worker's port is.
 */
export class Patcher {
  private readonly worker: Worker;
  private readonly sites: number;
  private readonly pending = new Map<number, { resolve: (r: PatchReport) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | null = null;
  private readonly ready: Promise<void>;

  private constructor(machine: Machine) {
    this.sites = machine.memory.code.sites;
    this.worker = new Worker(compiledWorkerPath('coordinator'), { workerData: machine.memory.sab, execArgv: [] });
    let markReady: () => void = () => undefined;
    this.ready = new Promise<void>((resolve) => (markReady = resolve));
    this.worker.on('message', (reply: CoordinatorReply) => {
      if ('ready' in reply) {
        markReady();
        return;
      }
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if ('error' in reply) waiter?.reject(new Error(`patch request ${reply.id} failed: ${reply.error}`));
      else waiter?.resolve(reply.report);
    });
    const fail = (err: Error): void => {
      this.failure ??= err;
      for (const w of this.pending.values()) w.reject(err);
      this.pending.clear();
      markReady();
    };
    this.worker.on('error', (err) => fail(new Error(`the coordinator thread failed: ${err.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`the coordinator thread exited (code ${code})`)));
  }

  /** Starts the coordinator thread of a running machine. */
  static async start(machine: Machine): Promise<Patcher> {
    const patcher = new Patcher(machine);
    await patcher.ready;
    if (patcher.failure !== null) throw patcher.failure;
    return patcher;
  }

  /**
   * Queues one patch operation; resolves with its report. A predicate filter (like
   * set_ftrace_filter's globs, but any function of the site id) is evaluated here and sent
   * as the list of sites it selects: functions do not cross threads.
   */
  patch(request: PatcherRequest): Promise<PatchReport> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const { filter, ...rest } = request;
    let resolved: SiteFilter | undefined;
    if (typeof filter === 'function') {
      const sites: number[] = [];
      for (let site = 0; site < this.sites; site++) if (filter(site)) sites.push(site);
      resolved = { sites };
    } else {
      resolved = filter;
    }
    const id = this.nextId++;
    return new Promise<PatchReport>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, request: resolved === undefined ? rest : { ...rest, filter: resolved } } satisfies CoordinatorRequest);
    });
  }

  /** Ends the coordinator thread (after its current operation, if any, the waits time out). */
  async close(): Promise<void> {
    this.failure ??= new Error('the patcher is closed');
    await this.worker.terminate();
  }
}
