import { setTimeout as delay } from 'node:timers/promises';
import type { Machine, MachineOptions, MachineReport } from '../../src/machine/machine.js';
import type { PatchReport, PatchRequest } from '../../src/patch/coordinator.js';
import { Patcher } from '../../src/patch/patcher.js';
import { sampleThreadSched, threadIds, type ThreadSched } from '../host.js';
import { withMachine } from '../machine/boot.js';

/**
 * A patch session: a running simulated machine with its patching coordinator thread, the
 * thing every patch benchmark measures. Besides each operation's own report (measured by
 * the coordinator), a session measures the threads around it from the outside: the
 * scheduler's accounting (Linux schedstat) of the coordinator thread and of the CPU
 * threads, so that an operation's wall time can be split into the coordinator's own work,
 * the time it was preempted, and the time it slept waiting for the CPUs.
 *
 *   main thread                         coordinator thread            CPU threads 0, 1
 *   schedstat(coordinator, CPUs)
 *   patcher.patch(request) ---------->  entries(); steps ... sync -->  IPI, ack; int3 traps
 *                          <----------  PatchReport
 *   schedstat(coordinator, CPUs)
 *
 * Threads are told apart by when they appeared: the machine's piscina pool (its CPUs and
 * the NMI source) when it booted, the coordinator when the patcher started; the CPUs are
 * the `cpus` busiest threads of the pool once the machine has settled (if they never
 * sleep: with `idleProbability` > 0 the CPU threads are left unknown).
 */

/** The CPUs run this long before the first operation (their code gets optimised); a --quick run waits less. */
export const SETTLE_MS = 300;
export const QUICK_SETTLE_MS = 100;

/** One thread's (or a group's) scheduler time over an operation, ms. */
export interface ThreadTimes {
  readonly onCpuMs: number;
  /** Runnable but not running: preempted, or woken and waiting for a core. */
  readonly runqueueMs: number;
}

/** One patch operation as the session saw it. */
export interface MeasuredOperation {
  readonly report: PatchReport;
  /** Main thread: from posting the request to receiving the report (includes messaging and entries()). */
  readonly windowMs: number;
  /** The coordinator thread during the window; null where schedstat or the thread is not known. */
  readonly coordinator: ThreadTimes | null;
  /** The CPU threads during the window, summed; null likewise. */
  readonly cpuThreads: ThreadTimes | null;
  /** Sites the CPUs executed during the window (workload and NMI handlers; racy getters, exact enough at this scale). */
  readonly sitesExecuted: number;
}

export class PatchSession {
  readonly machine: Machine;
  readonly patcher: Patcher;
  /** Linux thread id of the coordinator; null if it could not be told apart. */
  readonly coordinatorTid: number | null;
  /** Linux thread ids of the CPU threads; null likewise. */
  readonly cpuTids: readonly number[] | null;

  constructor(machine: Machine, patcher: Patcher, coordinatorTid: number | null, cpuTids: readonly number[] | null) {
    this.machine = machine;
    this.patcher = patcher;
    this.coordinatorTid = coordinatorTid;
    this.cpuTids = cpuTids;
  }

  /** Performs one operation and measures the threads around it. */
  async operate(request: PatchRequest): Promise<MeasuredOperation> {
    const tids = [...(this.coordinatorTid === null ? [] : [this.coordinatorTid]), ...(this.cpuTids ?? [])];
    const before = sampleThreadSched(tids);
    const sitesBefore = this.sitesExecuted();
    const started = process.hrtime.bigint();
    const report = await this.patcher.patch(request);
    const windowMs = Number(process.hrtime.bigint() - started) / 1e6;
    const sitesExecuted = this.sitesExecuted() - sitesBefore;
    const after = sampleThreadSched(this.cpuTids ?? []);
    // The kernel adds a running thread's time to schedstat when it is descheduled (and at
    // each tick): let the coordinator, which has posted its reply, block first. It was
    // blocked at `before` too, so its figures are exact; the CPU threads' (always running)
    // are within a scheduler tick.
    await delay(1);
    const coordinatorAfter = this.coordinatorTid === null ? null : sampleThreadSched([this.coordinatorTid]);
    return {
      report,
      windowMs,
      coordinator: this.coordinatorTid === null || coordinatorAfter === null ? null : times([this.coordinatorTid], before, coordinatorAfter),
      cpuThreads: this.cpuTids === null ? null : times(this.cpuTids, before, after),
      sitesExecuted,
    };
  }

  private sitesExecuted(): number {
    const memory = this.machine.memory;
    let n = 0;
    for (let cpu = 0; cpu < memory.cpus; cpu++) n += memory.irq.counters(cpu).sitesExecuted;
    return n;
  }
}

function times(tids: readonly number[], before: Map<number, ThreadSched>, after: Map<number, ThreadSched>): ThreadTimes | null {
  let onCpuNs = 0;
  let runqueueNs = 0;
  for (const tid of tids) {
    const a = before.get(tid);
    const b = after.get(tid);
    if (a === undefined || b === undefined) return null;
    onCpuNs += b.onCpuNs - a.onCpuNs;
    runqueueNs += b.runqueueNs - a.runqueueNs;
  }
  return { onCpuMs: onCpuNs / 1e6, runqueueMs: runqueueNs / 1e6 };
}

/** The threads that are in `after` but not in `before`. */
function appeared(before: readonly number[] | null, after: readonly number[] | null): number[] | null {
  if (before === null || after === null) return null;
  const old = new Set(before);
  return after.filter((tid) => !old.has(tid));
}

/**
 * Boots a machine, starts its patcher, lets the CPUs settle, runs `body`, and stops both
 * in every case: the patcher is closed in `finally`, then withMachine stops the machine
 * (also when booting the patcher or the body failed). Returns the body's value and the
 * machine's final report.
 */
export async function withPatchSession<T>(
  options: MachineOptions,
  settleMs: number,
  body: (session: PatchSession) => Promise<T>,
): Promise<{ value: T; report: MachineReport }> {
  const beforeBoot = threadIds();
  return withMachine(options, async (machine) => {
    const booted = threadIds();
    let patcher: Patcher | null = null;
    try {
      patcher = await Patcher.start(machine);
      const coordinator = appeared(booted, threadIds());
      const pool = appeared(beforeBoot, booted);
      const poolBefore = pool === null ? null : sampleThreadSched(pool);
      await delay(settleMs);
      let cpuTids: number[] | null = null;
      // Told apart by being busy: only when they never sleep.
      if (pool !== null && poolBefore !== null && options.idleProbability === 0) {
        const poolAfter = sampleThreadSched(pool);
        const busy = pool
          .filter((tid) => poolBefore.has(tid) && poolAfter.has(tid))
          .map((tid) => ({ tid, ns: poolAfter.get(tid)!.onCpuNs - poolBefore.get(tid)!.onCpuNs }))
          .sort((x, y) => y.ns - x.ns);
        if (busy.length > machine.memory.cpus) cpuTids = busy.slice(0, machine.memory.cpus).map((b) => b.tid);
      }
      const session = new PatchSession(machine, patcher, coordinator?.length === 1 ? coordinator[0]! : null, cpuTids);
      return await body(session);
    } finally {
      await patcher?.close();
    }
  });
}
