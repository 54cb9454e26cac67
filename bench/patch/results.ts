import type { ProtocolName } from '../../src/patch/protocols/index.js';
import type { RunInfo } from '../host.js';
import type { TargetResult } from '../targets.js';

/**
 * The shape of `ringtrace bench patch --json` and of bench/results/patch.json: exactly
 * `{ results, targets, machine }`. Every result carries at least `name`, `wallMsP50`,
 * `wallMsMax`, `syncRounds` (per operation) and `faults` (total); the rest says how the
 * figures were taken and where the time went.
 */
export interface PatchBenchResult {
  /** `patch-<protocol>-<sites>`, or `patch-int3-batch-20000-refcount-<shared|percpu>`. */
  readonly name: string;
  readonly protocol: ProtocolName;
  /** Sites each operation patches (the first `sites` of the code page). */
  readonly sites: number;
  /** The int3 handler's refcount the operations asked for. */
  readonly refcount: 'shared' | 'percpu';
  /** Operations measured (alternating disable / enable, starting with disable), after `warmupOps` that are not. */
  readonly ops: number;
  readonly warmupOps: number;
  /** Wall time of each operation as the coordinator measured it (PatchReport.wallMs: its steps, not entries()), ms. */
  readonly wallMsP50: number;
  readonly wallMsMax: number;
  readonly wallMs: readonly number[];
  /** Sync rounds per operation (every measured operation did this many; the check says otherwise if not). */
  readonly syncRounds: number;
  /** Only when the measured operations disagree (the check then fails): the fewest and most sync rounds of one. */
  readonly syncRoundsRange?: readonly [number, number];
  /** Torn instructions or stray int3s the CPUs executed, total over the measured operations and the closing empty one. */
  readonly faults: number;
  /** Whether faults are this protocol's expected result (redo, stop-machine with NMIs on) rather than a failure. */
  readonly faultsExpected: boolean;
  /** Sites that held neither instruction whole once the operations were over (0 for the safe protocols: the check). */
  readonly sitesLeftTorn: number;
  /** Executions of an old instruction after its operation had completed, total (must be 0 for the safe protocols). */
  readonly staleAfterDone: number;
  /** Per operation, medians: int3 traps; CPU time in int3 handlers, in IPI handlers, stopped (summed over CPUs), ms. */
  readonly trapsP50: number;
  readonly breakpointHandlerMsP50: number;
  readonly ipiHandlerMsP50: number;
  readonly stoppedMsP50: number;
  /**
   * Median over operations of breakpointHandlerMs / traps, ns (undefined without traps). The
   * handler is timed with performance.now(), so a preemption inside it counts.
   */
  readonly nsPerTrapP50?: number;
  /**
   * Median over operations of the CPU threads' on-CPU time (schedstat) / the sites they
   * executed during the operation, ns: what a site costs a CPU while the operation runs,
   * preemption excluded. Undefined without schedstat.
   */
  readonly cpuNsPerSiteP50?: number;
  /**
   * The coordinator thread per operation (medians, ms; schedstat, from posting the request
   * to the reply): on a CPU, runnable but waiting for a core, and asleep (the rest of the
   * window: waiting for sync acknowledgements, handlers, rendezvous). Undefined without schedstat.
   */
  readonly windowMsP50: number;
  readonly coordinatorOnCpuMsP50?: number;
  readonly coordinatorRunqueueMsP50?: number;
  readonly coordinatorAsleepMsP50?: number;
  /** The CPU threads per operation, summed over them (medians, ms): on a CPU, and waiting for one. */
  readonly cpuThreadsOnCpuMsP50?: number;
  readonly cpuThreadsRunqueueMsP50?: number;
  /**
   * Refcount pair only: the result this one is compared to, on which figure
   * (`cpuNsPerSiteP50`, or `nsPerTrapP50` where there is no schedstat), and this one's
   * figure / the baseline's.
   */
  readonly baseline?: string;
  readonly baselineFigure?: 'cpuNsPerSiteP50' | 'nsPerTrapP50';
  readonly vsBaseline?: number;
  /** Simulated CPUs (one worker thread each). */
  readonly cpus: number;
  readonly threads: string;
  readonly oversubscribed: boolean;
  /** The machine's configuration, as passed to Machine.start, and the requests' settings. */
  readonly config: string;
  readonly seeds: readonly number[];
  readonly method: string;
  /** Whether the check after timing passed; `check` says what it looked at. */
  readonly verified: boolean;
  readonly check: string;
  readonly verifyError?: string;
  /** Average cores other processes kept busy meanwhile (Linux only): the noise the figures carry. */
  readonly otherLoadCores?: number;
  /** wallMsP50 of each run of this benchmark that was done again because other processes disturbed it. */
  readonly disturbedWallMsP50?: readonly number[];
  readonly notes?: string;
}

export interface PatchSuiteInfo extends RunInfo {
  /** sha256 (first 12 hex digits) of the compiled modules that ran (dist/src/patch, dist/src/machine, dist/src/ring). */
  readonly patchBuildHash: string;
  readonly machineBuildHash: string;
  readonly ringBuildHash: string;
  /** Benchmarks of the plan that this run did not perform (a --quick run leaves out per-site int3 at 20,000 sites), and why. */
  readonly notRun: readonly string[];
}

export interface PatchSuiteReport {
  readonly results: PatchBenchResult[];
  readonly targets: TargetResult[];
  readonly machine: PatchSuiteInfo;
}
