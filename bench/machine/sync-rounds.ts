import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { MachineOptions, MachineReport } from '../../src/machine/machine.js';
import { BenchControl } from '../control.js';
import { DISTURBED_OTHER_LOAD_CORES, measureUndisturbed, roundCores } from '../disturbance.js';
import { WorkerFile, runWorkers } from '../spawn.js';
import { mean, percentile } from '../stats.js';
import { machineCheck, withMachine } from './boot.js';
import type { MachineBenchOutcome, MachineBenchStart, SyncSenderOutcome } from './protocol.js';
import type { MachineBenchResult } from './results.js';

/*
 * sync-round-busy / sync-round-idle: latency of one sync_core round to every CPU.
 *
 *   sender worker                 machine control block            CPU worker 0, 1
 *   syncCore(targets):
 *     Atomics.add(round) ------->  [ sync round ]
 *     Atomics.or + notify ------------------------------------->  IPI pending word
 *                                                                  busy: seen at the next interrupt point (every site)
 *                                                                  idle: wakes from hlt (Atomics.wait on that word)
 *                                                                  irq entry: serialize, ack round,
 *     Atomics.wait(doorbell) <---  [ doorbell ] <-- Atomics.add + notify
 *   latency = first add .. the sender sees the last ack (SyncResult.micros)
 *
 *   main thread: the machine's reader (polls the ring every 2 ms) and nothing else.
 *
 * busy: idleProbability 0, every site traced (the reader is busy too); rounds 0.2 ms apart.
 * idle: idleProbability 1 and idle spells of a minute, so a CPU sleeps until an IPI wakes
 *       it; before each round the sender waits until every CPU has gone back to sleep.
 */

export interface SyncPlan {
  readonly rounds: number;
  readonly warmupRounds: number;
  /** Runs (fresh machine and sender) repeated at most because other processes disturbed them. */
  readonly reruns: number;
  readonly seed: number;
}

/** NMIs per second per CPU during the sync benchmarks: "modest", a tenth of the machine's default. */
export const SYNC_NMI_PER_SECOND = 1_000;
/** Bound on one round: far beyond any latency seen; a round this slow means a broken machine. */
const ROUND_TIMEOUT_MS = 1_000;
/** The CPUs run this long before the first round (their code gets optimised). */
const SETTLE_MS = 300;
const CPUS = 2;
const SITES = 20_000;

interface SyncVariant {
  readonly name: 'sync-round-busy' | 'sync-round-idle';
  readonly idle: boolean;
  readonly gapMs: number;
  readonly topology: string;
}

const BUSY: SyncVariant = {
  name: 'sync-round-busy',
  idle: false,
  gapMs: 0.2,
  topology: 'sender worker -> sync_core IPI round -> 2 CPU threads busy in the workload (all sites traced), rounds 0.2 ms apart',
};

const IDLE: SyncVariant = {
  name: 'sync-round-idle',
  idle: true,
  gapMs: 1,
  topology: 'sender worker -> sync_core IPI round -> 2 CPU threads asleep in hlt (Atomics.wait), rounds >= 1 ms apart, CPUs asleep again before each',
};

export function syncRoundBusy(plan: SyncPlan): Promise<MachineBenchResult> {
  return syncRounds(BUSY, plan);
}

export function syncRoundIdle(plan: SyncPlan): Promise<MachineBenchResult> {
  return syncRounds(IDLE, plan);
}

interface SyncRun {
  readonly outcome: SyncSenderOutcome;
  readonly report: MachineReport;
  readonly problems: string[];
}

/** One run: a fresh machine, a fresh sender, warm-up and measured rounds, then the checks. */
async function syncRun(variant: SyncVariant, plan: SyncPlan, options: MachineOptions): Promise<SyncRun> {
  const { value: outcome, report } = await withMachine(options, async (machine) => {
    await delay(SETTLE_MS);
    const control = new BenchControl();
    const [o] = await runWorkers<MachineBenchStart, MachineBenchOutcome>(
      [
        {
          file: WorkerFile.syncSender,
          start: {
            kind: 'sync-sender',
            machine: machine.memory.sab,
            control: control.sab,
            rounds: plan.rounds,
            warmupRounds: plan.warmupRounds,
            gapMs: variant.gapMs,
            expectAsleep: variant.idle,
            roundTimeoutMs: ROUND_TIMEOUT_MS,
          },
        },
      ],
      control,
    );
    if (o === undefined || o.kind !== 'sync-sender') throw new Error(`${variant.name}: no sender outcome`);
    return o;
  });
  const sent = plan.rounds + plan.warmupRounds;
  const problems: string[] = [];
  const clean = machineCheck(report);
  if (clean !== '') problems.push(clean);
  if (outcome.timedOut > 0) problems.push(`${outcome.timedOut} rounds timed out, first: ${outcome.firstTimeout}`);
  if (outcome.micros.length !== plan.rounds) problems.push(`${outcome.micros.length} of ${plan.rounds} rounds measured`);
  outcome.ipisTaken.forEach((n, cpu) => {
    if (n < sent) problems.push(`cpu ${cpu} took ${n} IPIs for ${sent} rounds`);
  });
  if (variant.idle && outcome.notAsleep > 0) problems.push(`${outcome.notAsleep} rounds sent before every CPU was asleep again`);
  if (!variant.idle && outcome.sleeps.some((n) => n !== 0)) problems.push(`the busy CPUs went to sleep (${outcome.sleeps.join(', ')} times)`);
  return { outcome, report, problems };
}

async function syncRounds(variant: SyncVariant, plan: SyncPlan): Promise<MachineBenchResult> {
  const options: MachineOptions = {
    cpus: CPUS,
    sites: SITES,
    traced: 'all',
    nmiPerSecond: SYNC_NMI_PER_SECOND,
    idleProbability: variant.idle ? 1 : 0,
    // Idle spells end early only when an IPI comes: a minute is "until woken".
    idleMs: variant.idle ? 60_000 : 0.2,
    seed: plan.seed,
  };
  const p50Of = (run: SyncRun): number => percentile([...run.outcome.micros].sort((a, b) => a - b), 50);
  const measured = await measureUndisturbed(1, plan.reruns, () => syncRun(variant, plan, options), {
    failed: (run) => run.problems.length > 0,
  });
  const { value: run, other } = measured.kept[0]!;
  const { outcome, report, problems } = run;
  const sorted = [...outcome.micros].sort((a, b) => a - b);
  const cpus = CPUS;
  // N CPU threads + the NMI source + the sender + the main thread (the machine's reader).
  const threads = cpus + 3;
  return {
    name: variant.name,
    topology: variant.topology,
    p50Us: percentile(sorted, 50),
    p90Us: percentile(sorted, 90),
    p99Us: percentile(sorted, 99),
    meanUs: mean(sorted),
    maxUs: sorted[sorted.length - 1] ?? Number.NaN,
    rounds: outcome.micros.length,
    cpus,
    threads: `${cpus} CPU threads + NMI source + sender + main (reader) = ${threads} threads on ${availableParallelism()} cores`,
    oversubscribed: threads > availableParallelism(),
    config:
      `cpus ${cpus}, sites ${SITES} all traced, idleProbability ${options.idleProbability}` +
      `${variant.idle ? `, idleMs ${options.idleMs}` : ''}, nmiPerSecond ${SYNC_NMI_PER_SECOND}, ring defaults (256 x 4 KiB, overwrite, hrtime)`,
    seeds: [plan.seed],
    method:
      `${plan.rounds} rounds after ${plan.warmupRounds} warm-up rounds, one machine (run again, at most ${plan.reruns} times, ` +
      `if other processes kept > ${DISTURBED_OTHER_LOAD_CORES} cores busy), sent from a worker thread with the blocking ` +
      `InterruptBlocks.syncCore; latency = its SyncResult.micros (before the round number is bumped .. the sender sees the last ack); ` +
      `nearest-rank percentiles`,
    verified: problems.length === 0,
    check:
      `every round acknowledged by every CPU within ${ROUND_TIMEOUT_MS} ms; each CPU took an IPI per round; ` +
      (variant.idle ? 'every CPU had gone back to hlt before each measured round; ' : 'the CPUs never slept; ') +
      'machine report: corrupt 0, unaccounted 0, faults 0',
    ...(problems.length === 0 ? {} : { verifyError: problems.join('; ') }),
    ...(other === undefined ? {} : { otherLoadCores: roundCores(other) }),
    ...(measured.disturbed.length === 0 ? {} : { disturbedP50Us: measured.disturbed.map((d) => p50Of(d.value)) }),
    notes:
      `IPIs taken per CPU ${outcome.ipisTaken.join(', ')}; hlt sleeps per CPU ${outcome.sleeps.join(', ')}; ` +
      `machine: ${report.nmis} NMIs taken, ${report.events} events traced in ${report.seconds.toFixed(2)} s`,
  };
}
