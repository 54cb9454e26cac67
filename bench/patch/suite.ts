import { protocolNames, type ProtocolName } from '../../src/patch/protocols/index.js';
import { buildHash, startRun } from '../host.js';
import { type ProtocolPlan, type SizePlan, expectedSyncRounds, runProtocol } from './operations.js';
import { type RefcountPlan, refcountPair } from './refcount.js';
import type { PatchBenchResult, PatchSuiteReport } from './results.js';
import { evaluatePatchTargets } from './targets.js';

/**
 * The patch suite: live-patching operations of every protocol at each size, timed, checked
 * for torn instructions, and the suite's targets computed from this run's figures; then a
 * diagnostic (int3-batch at 20,000 sites with the CPUs asleep: the coordinator's own cost)
 * and the int3 handler's shared against per-CPU refcount under a high trap rate. One
 * machine runs at a time; each is stopped (with its coordinator) also on failure.
 */

export interface PatchSuiteOptions {
  /** A short run for smoke tests (a few seconds): two operations per size, no per-site int3 at 20,000 sites. */
  readonly quick: boolean;
  /** Progress lines (to stderr in the CLI). */
  readonly progress?: (line: string) => void;
}

/** The order protocols run and are reported in: the registry's. */
export const PROTOCOLS: readonly ProtocolName[] = protocolNames;
export const SIZES: readonly number[] = [100, 1_000, 20_000];

/** Fixed seeds: a run can be repeated machine for machine. */
const SEEDS: Readonly<Record<ProtocolName, number>> = {
  int3: 0x5eed0101,
  'int3-batch': 0x5eed0102,
  'stop-machine': 0x5eed0103,
  redo: 0x5eed0104,
  'redo-nmi-wait': 0x5eed0105,
};
const REFCOUNT_SEED = 0x5eed0201;

/**
 * Operations per size, by the sync rounds one operation takes (the protocol's own count):
 * an operation of many rounds (per-site int3: 3 per site, seconds at 20,000 sites on this
 * host) runs few operations and no warm-up (the coordinator's code is warm from the
 * smaller size on the same machine); a quick run leaves out those of more than 10,000.
 */
function sizePlan(protocol: ProtocolName, sites: number, quick: boolean): SizePlan | null {
  const rounds = expectedSyncRounds(protocol, sites);
  if (quick) return rounds > QUICK_MAX_SYNC_ROUNDS ? null : { sites, ops: 2, warmupOps: 0, reruns: 0 };
  if (rounds <= 3) return { sites, ops: 20, warmupOps: 4, reruns: 1 };
  if (rounds <= 300) return { sites, ops: 10, warmupOps: 2, reruns: 1 };
  if (rounds <= 3_000) return { sites, ops: 6, warmupOps: 0, reruns: 0 };
  return { sites, ops: 2, warmupOps: 0, reruns: 0 };
}
const QUICK_MAX_SYNC_ROUNDS = 10_000;

const REFCOUNT_FULL: Omit<RefcountPlan, 'seed'> = { pairs: 12, warmupPairs: 1, reruns: 1 };
const REFCOUNT_QUICK: Omit<RefcountPlan, 'seed'> = { pairs: 1, warmupPairs: 0, reruns: 0 };

export async function runPatchSuite(options: PatchSuiteOptions): Promise<PatchSuiteReport> {
  const progress = options.progress ?? (() => {});
  const finishRun = startRun(options.quick);
  const results: PatchBenchResult[] = [];
  const notRun: string[] = [];
  for (const protocol of PROTOCOLS) {
    const sizes: SizePlan[] = [];
    for (const sites of SIZES) {
      const plan = sizePlan(protocol, sites, options.quick);
      if (plan !== null) sizes.push(plan);
      else notRun.push(`patch-${protocol}-${sites}: not run in a --quick run (one operation is ${expectedSyncRounds(protocol, sites)} sync rounds, seconds on this host)`);
    }
    const plan: ProtocolPlan = { protocol, sizes, seed: SEEDS[protocol] };
    results.push(...(await runProtocol(plan, options.quick, progress)));
  }
  // Diagnostic: the same int3-batch operation with the CPUs asleep and no NMIs: the coordinator's own cost.
  const idle: ProtocolPlan = {
    protocol: 'int3-batch',
    sizes: [options.quick ? { sites: 20_000, ops: 2, warmupOps: 0, reruns: 0 } : { sites: 20_000, ops: 20, warmupOps: 4, reruns: 1 }],
    seed: SEEDS['int3-batch'],
    idleCpus: true,
  };
  results.push(...(await runProtocol(idle, options.quick, progress)));
  results.push(...(await refcountPair({ ...(options.quick ? REFCOUNT_QUICK : REFCOUNT_FULL), seed: REFCOUNT_SEED }, options.quick, progress)));
  return {
    results,
    targets: evaluatePatchTargets(results),
    machine: {
      ...finishRun(),
      patchBuildHash: buildHash('patch'),
      machineBuildHash: buildHash('machine'),
      ringBuildHash: buildHash('ring'),
      notRun,
    },
  };
}
