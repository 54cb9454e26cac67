import type { PatchRequest } from '../../src/patch/coordinator.js';
import { DISTURBED_OTHER_LOAD_CORES, measureUndisturbed, roundCores } from '../disturbance.js';
import { machineCheck } from '../machine/boot.js';
import {
  CPUS,
  MACHINE_SITES,
  THREAD_METHOD,
  figures,
  machineConfig,
  machineOptions,
  notesOf,
  operationsCheck,
  runOperations,
  staleAfterDone,
  threadsText,
  type OperationsRun,
} from './operations.js';
import type { PatchBenchResult } from './results.js';
import { QUICK_SETTLE_MS, SETTLE_MS, withPatchSession } from './session.js';

/*
 * patch-int3-batch-20000-refcount-shared vs -percpu: what the int3 handler's reference
 * count costs when the CPUs trap all the time.
 *
 *   coordinator: int3-batch over all 20,000 sites: while the batch is in flight, every
 *                site a CPU executes (workload and NMI handler alike) traps
 *   CPU 0, 1 trap -> poke_int3_handler: Atomics.add(ref) ... lookup, bypass ... Atomics.sub(ref)
 *     shared: one word for every CPU (its cache line moves between the cores on every trap)
 *     percpu: a word on each CPU's own line; teardown sums them
 *
 * One machine; disable/enable pairs alternate between the two settings in ABBA order
 * (shared, percpu, percpu, shared, ...) so a drift of the host hits both alike. The figure
 * to compare is the int3 handler's time per trap (breakpointHandlerMs / traps, summed over
 * CPUs, median over operations); the operations' wall times are reported beside it.
 */

export interface RefcountPlan {
  /** Disable/enable pairs measured per setting. */
  readonly pairs: number;
  /** Unmeasured pairs per setting before them. */
  readonly warmupPairs: number;
  readonly reruns: number;
  readonly seed: number;
}

type Mode = 'shared' | 'percpu';
const ABBA: readonly Mode[] = ['shared', 'percpu', 'percpu', 'shared'];

/** The setting of measured operation i (warm-up operations, i < 0, alternate the same way). */
function modeOf(i: number): Mode {
  return ABBA[(((i >> 1) % 4) + 4) % 4]!;
}

export async function refcountPair(plan: RefcountPlan, quick: boolean, progress: (line: string) => void): Promise<[PatchBenchResult, PatchBenchResult]> {
  const sites = MACHINE_SITES;
  const request = (i: number, action: 'disable' | 'enable'): PatchRequest => ({
    protocol: 'int3-batch',
    action,
    filter: 'all',
    bypass: 'new',
    refcount: modeOf(i),
    nmi: 'on',
    pokeCostNs: 0,
  });
  const ops = 4 * plan.pairs;
  const warmupOps = 4 * plan.warmupPairs;
  progress(`patch-int3-batch-${sites}-refcount-shared / -percpu: ${ops} operations, ABBA${warmupOps > 0 ? ` after ${warmupOps} warm-up ones` : ''} ...`);
  const settleMs = quick ? QUICK_SETTLE_MS : SETTLE_MS;
  const { value: measured, report } = await withPatchSession(machineOptions('int3-batch', plan.seed), settleMs, (session) =>
    measureUndisturbed(1, quick ? 0 : plan.reruns, () => runOperations(session, sites, ops, warmupOps, request), {
      failed: (run) => operationsCheck(run, 'int3-batch', sites) !== '',
    }),
  );
  const { value: run, other } = measured.kept[0]!;
  const problems = [operationsCheck(run, 'int3-batch', sites), machineCheck(report)].filter((p) => p !== '');
  const { threads, oversubscribed } = threadsText();
  const only = (r: OperationsRun, mode: Mode): OperationsRun => {
    const ops = r.ops.filter((_o, i) => modeOf(i) === mode);
    return { ...r, ops, faults: ops.reduce((n, o) => n + o.report.faults, 0) };
  };
  const describe = (mode: Mode): PatchBenchResult => {
    const mine = only(run, mode);
    const f = figures(mine);
    return {
      name: `patch-int3-batch-${sites}-refcount-${mode}`,
      protocol: 'int3-batch',
      sites,
      refcount: mode,
      warmupOps: warmupOps / 2,
      ...f,
      // Stale executions are counted between operations, whichever setting ran: the whole run's.
      staleAfterDone: staleAfterDone(run),
      faultsExpected: false,
      cpus: CPUS,
      threads,
      oversubscribed,
      config: `${machineConfig()}; requests: all ${sites} sites, bypass new, refcount ${mode}, nmi on, pokeCostNs 0`,
      seeds: [plan.seed],
      method:
        `one machine, ${settleMs} ms settling; ${warmupOps} warm-up then ${ops} measured int3-batch operations over every site, ` +
        `disable/enable pairs alternating refcount shared / percpu in ABBA order (${ops / 2} operations each); ` +
        `run again (at most ${quick ? 0 : plan.reruns} times) if other processes kept > ${DISTURBED_OTHER_LOAD_CORES} cores busy; ` +
        `nsPerTrapP50 = median over this setting's operations of breakpointHandlerMs / traps (handler time summed over CPUs, ` +
        `performance.now() around each trap, so it includes preemption inside the handler and the bypass's tracing); ${THREAD_METHOD}`,
      verified: problems.length === 0,
      check:
        `the whole run (both settings): every operation changed all ${sites} sites with 3 sync rounds; faults 0; no old instruction ` +
        `executed after its operation completed; all sites CALL afterwards; machine report: corrupt 0, unaccounted 0, faults 0`,
      ...(problems.length === 0 ? {} : { verifyError: problems.join('; ') }),
      ...(other === undefined ? {} : { otherLoadCores: roundCores(other) }),
      ...(measured.disturbed.length === 0 ? {} : { disturbedWallMsP50: measured.disturbed.map((d) => figures(only(d.value, mode)).wallMsP50) }),
      notes:
        `trap rate ${fmtRate(mine)} traps/s per CPU while an operation runs (traps / wallMs / ${CPUS}, p50); ` + notesOf(mine, f),
    };
  };
  const shared = describe('shared');
  const percpu = describe('percpu');
  // Compared on the CPUs' on-CPU time per site executed (preemption excluded); the handler's
  // wall time per trap where there is no schedstat.
  const figure = shared.cpuNsPerSiteP50 !== undefined && percpu.cpuNsPerSiteP50 !== undefined ? 'cpuNsPerSiteP50' : 'nsPerTrapP50';
  const a = shared[figure];
  const b = percpu[figure];
  const withBaseline: PatchBenchResult =
    a === undefined || b === undefined ? shared : { ...shared, baseline: percpu.name, baselineFigure: figure, vsBaseline: a / b };
  return [withBaseline, percpu];
}

function fmtRate(run: OperationsRun): string {
  const rates = run.ops.map((o) => o.report.traps / (o.report.wallMs / 1e3) / CPUS).sort((a, b) => a - b);
  const mid = rates[rates.length >> 1] ?? Number.NaN;
  return mid >= 1e6 ? `${(mid / 1e6).toFixed(2)} M` : `${Math.round(mid / 1e3)} k`;
}
