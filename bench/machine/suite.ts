import { buildHash, startRun } from '../host.js';
import type { MachineBenchResult, MachineSuiteReport } from './results.js';
import { syncRoundBusy, syncRoundIdle } from './sync-rounds.js';
import { evaluateMachineTargets } from './targets.js';
import { traceRate } from './trace-rate.js';

/**
 * The machine suite: the simulated machine's interrupt and tracing costs, each checked
 * after it is timed, then the suite's targets computed from this run's figures. One
 * benchmark runs at a time; each boots its own machines and stops them, also on failure.
 */

export interface MachineSuiteOptions {
  /** A short run for smoke tests (a few seconds): fewer rounds, shorter windows. Figures are rougher. */
  readonly quick: boolean;
  /** Progress lines (to stderr in the CLI). */
  readonly progress?: (line: string) => void;
}

interface Plan {
  /** Runs repeated at most per benchmark because other processes disturbed them. */
  readonly reruns: number;
  readonly syncRounds: number;
  readonly syncWarmupRounds: number;
  readonly traceRounds: number;
  readonly warmupMs: number;
  readonly windowMs: number;
}

const FULL: Plan = { reruns: 2, syncRounds: 2_000, syncWarmupRounds: 100, traceRounds: 3, warmupMs: 500, windowMs: 2_500 };
const QUICK: Plan = { reruns: 0, syncRounds: 200, syncWarmupRounds: 20, traceRounds: 1, warmupMs: 200, windowMs: 400 };

/** Fixed seeds: a run can be repeated machine for machine. */
const SEEDS = { busy: 0x5eed0001, idle: 0x5eed0002, trace: [0x5eed0011, 0x5eed0012, 0x5eed0013] } as const;

/** The order results are reported in. */
export const MACHINE_RESULT_NAMES = ['sync-round-busy', 'sync-round-idle', 'machine-trace-rate', 'machine-untraced-nop5'] as const;

export async function runMachineSuite(options: MachineSuiteOptions): Promise<MachineSuiteReport> {
  const plan = options.quick ? QUICK : FULL;
  const progress = options.progress ?? (() => {});
  const finishRun = startRun(options.quick);
  const results: MachineBenchResult[] = [];
  progress('sync-round-busy ...');
  results.push(await syncRoundBusy({ rounds: plan.syncRounds, warmupRounds: plan.syncWarmupRounds, reruns: plan.reruns, seed: SEEDS.busy }));
  progress('sync-round-idle ...');
  results.push(await syncRoundIdle({ rounds: plan.syncRounds, warmupRounds: plan.syncWarmupRounds, reruns: plan.reruns, seed: SEEDS.idle }));
  progress(`machine-trace-rate and machine-untraced-nop5 (${plan.traceRounds} round(s) of 2 machines) ...`);
  results.push(...(await traceRate({ rounds: plan.traceRounds, reruns: plan.reruns, warmupMs: plan.warmupMs, windowMs: plan.windowMs, seeds: SEEDS.trace })));
  return {
    results,
    targets: evaluateMachineTargets(results),
    machine: { ...finishRun(), machineBuildHash: buildHash('machine'), ringBuildHash: buildHash('ring') },
  };
}
