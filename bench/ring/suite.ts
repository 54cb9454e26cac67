import { type CpuSample, otherLoadCores, ringBuildHash, sampleCpu, startRun } from '../host.js';
import { WorkerFile, runWorkers } from '../spawn.js';
import { median } from '../stats.js';
import type { BenchOutcome, BenchStart, SingleBenchName, SingleOutcome } from './protocol.js';
import type { BenchResult, RingReport } from './results.js';
import { evaluateTargets } from './targets.js';
import { type ThreadedMeasurement, ringbufJsThreads, twoThreadsCeiling, twoWriters, writerReaderThreads } from './threaded.js';

/**
 * The ring suite: every ring benchmark in one run, each checked after it is timed,
 * compared side by side, then the suite's targets computed from this run's figures.
 *
 * Single-thread benchmarks run one at a time, each in a fresh worker; threaded ones run
 * their workers while the main thread waits. Nothing else of the suite runs meanwhile.
 */

export interface RingSuiteOptions {
  /** A short run for smoke tests: small budgets, one round. Figures are rougher. */
  readonly quick: boolean;
  /** Progress lines (to stderr in the CLI). */
  readonly progress?: (line: string) => void;
}

interface Plan {
  /** Fresh workers (isolates) per single-thread benchmark. Odd, so the median is one of them. */
  readonly isolates: number;
  readonly timeMs: number;
  readonly warmupMs: number;
  readonly rounds: number;
  readonly writerReaderEvents: number;
  readonly ringbufjsEvents: number;
  readonly twoWritersEvents: number;
  readonly ceilingEvents: number;
  readonly heapWrites: number;
}

const FULL: Plan = {
  isolates: 5,
  timeMs: 500,
  warmupMs: 200,
  rounds: 5,
  writerReaderEvents: 16_000_000,
  ringbufjsEvents: 8_000_000,
  twoWritersEvents: 8_000_000,
  ceilingEvents: 32_000_000,
  heapWrites: 10_000_000,
};

const QUICK: Plan = {
  isolates: 1,
  timeMs: 100,
  warmupMs: 30,
  rounds: 1,
  writerReaderEvents: 1_000_000,
  ringbufjsEvents: 500_000,
  twoWritersEvents: 500_000,
  ceilingEvents: 2_000_000,
  heapWrites: 10_000_000,
};

interface SingleSpec {
  readonly name: SingleBenchName;
  readonly topology: string;
  readonly clock?: 'hrtime' | 'counter';
  readonly mode?: 'overwrite';
  readonly baseline?: string;
}

const SINGLE: readonly SingleSpec[] = [
  { name: 'ceiling-raw-stores', topology: '1 thread: 6 plain Int32Array stores + 1 Atomics.add per event, no protocol' },
  { name: 'clock-hrtime', topology: '1 thread: HrtimeClock.now() alone', clock: 'hrtime' },
  { name: 'writer-counter', topology: '1 thread: CpuWriter.write(), 64 x 4 KiB pages', clock: 'counter', mode: 'overwrite', baseline: 'ceiling-raw-stores' },
  { name: 'writer-hrtime', topology: '1 thread: CpuWriter.write(), 64 x 4 KiB pages', clock: 'hrtime', mode: 'overwrite', baseline: 'ceiling-raw-stores' },
  { name: 'writer-counter-hook-noop', topology: '1 thread: as writer-counter, hook = () => {}', clock: 'counter', mode: 'overwrite', baseline: 'writer-counter' },
  { name: 'writer-counter-hookless', topology: '1 thread: as writer-counter, hook checks stripped from the code', clock: 'counter', mode: 'overwrite', baseline: 'writer-counter' },
  { name: 'pino-devnull', topology: "1 thread: pino logger.info() to /dev/null (sync)", baseline: 'writer-hrtime' },
  { name: 'heap-growth-10M-writes', topology: '1 thread: 10 M CpuWriter.write(), heap used after full GC', clock: 'hrtime', mode: 'overwrite' },
];

/** The order results are reported in. */
const ORDER = [
  'ceiling-raw-stores',
  'clock-hrtime',
  'writer-counter',
  'writer-hrtime',
  'writer-counter-hook-noop',
  'writer-counter-hookless',
  'writer-reader-threads',
  'ringbufjs-threads',
  'pino-devnull',
  'two-writers-per-cpu',
  'two-writers-counter',
  'two-threads-ceiling',
  'heap-growth-10M-writes',
] as const;

export const RING_RESULT_NAMES: readonly string[] = ORDER;

export async function runRingSuite(options: RingSuiteOptions): Promise<RingReport> {
  const plan = options.quick ? QUICK : FULL;
  const progress = options.progress ?? (() => {});
  const finishRun = startRun(options.quick);
  const results = new Map<string, BenchResult>();

  // Single-thread benchmarks: `isolates` passes over the list, each benchmark in a fresh
  // worker every pass (interleaved, so a slow drift of the machine hits all of them alike).
  // The figure is the median over isolates: one isolate's code can land in a fast or a
  // slow mode (+-10% here), which tinybench's statistics within the isolate cannot see.
  const outcomes = new Map<SingleBenchName, { outcome: SingleOutcome; other: number | undefined }[]>();
  for (let pass = 0; pass < plan.isolates; pass++) {
    for (const spec of SINGLE) {
      if (spec.name === 'heap-growth-10M-writes' && pass > 0) continue; // a byte count, not a timing: once
      progress(`${spec.name} (isolate ${pass + 1} of ${plan.isolates}) ...`);
      const cpu = sampleCpu();
      const [outcome] = await runWorkers<BenchStart, BenchOutcome>([
        { file: WorkerFile.single, start: { kind: 'single', bench: spec.name, timeMs: plan.timeMs, warmupMs: plan.warmupMs, heapWrites: plan.heapWrites } },
      ]);
      if (outcome === undefined || outcome.kind !== 'single') throw new Error(`${spec.name}: no single-thread outcome`);
      const list = outcomes.get(spec.name) ?? [];
      list.push({ outcome, other: otherLoadCores(cpu, sampleCpu()) });
      outcomes.set(spec.name, list);
    }
  }
  for (const spec of SINGLE) results.set(spec.name, singleResult(spec, outcomes.get(spec.name) ?? []));

  const threaded: [string, string, 'hrtime' | 'counter', 'overwrite' | 'discard', () => Promise<ThreadedMeasurement>][] = [
    ['writer-reader-threads', 'writer thread -> ring (cpu 0) -> reader thread (wholePages), flow-controlled', 'counter', 'discard',
      () => writerReaderThreads({ rounds: plan.rounds, events: plan.writerReaderEvents })],
    ['ringbufjs-threads', 'producer thread -> ringbuf.js SPSC (256 KiB) -> consumer thread, flow-controlled', 'counter', 'discard',
      () => ringbufJsThreads({ rounds: plan.rounds, events: plan.ringbufjsEvents })],
    ['two-writers-per-cpu', '2 writer threads, each on its own cpu buffer, no reader', 'hrtime', 'overwrite',
      () => twoWriters({ rounds: plan.rounds, events: plan.twoWritersEvents }, 'hrtime')],
    ['two-writers-counter', '2 writer threads, each on its own cpu buffer, one shared ticket word', 'counter', 'overwrite',
      () => twoWriters({ rounds: plan.rounds, events: plan.twoWritersEvents }, 'counter')],
    ['two-threads-ceiling', 'reference: 2 threads, each the ceiling loop on private memory (what the machine gives 2 threads)', 'counter', 'overwrite',
      () => twoThreadsCeiling({ rounds: plan.rounds, events: plan.ceilingEvents })],
  ];
  for (const [name, topology, clock, mode, run] of threaded) {
    progress(`${name} ...`);
    const cpu = sampleCpu();
    results.set(name, withLoad(threadedResult(name, topology, clock, mode, await run()), cpu, sampleCpu()));
  }

  const baselines: Record<string, string> = {
    'writer-reader-threads': 'ringbufjs-threads',
    'two-writers-per-cpu': 'writer-hrtime',
    'two-writers-counter': 'two-writers-per-cpu',
    'two-threads-ceiling': 'ceiling-raw-stores',
  };
  const ordered = ORDER.map((name) => {
    const r = results.get(name);
    if (r === undefined) throw new Error(`the suite produced no result named ${name}`);
    const baseline = r.baseline ?? baselines[name];
    const base = baseline === undefined ? undefined : results.get(baseline);
    return base === undefined ? r : { ...r, baseline: base.name, vsBaseline: r.eventsPerSec / base.eventsPerSec };
  });
  return {
    results: ordered,
    targets: evaluateTargets(ordered),
    machine: { ...finishRun(), ringBuildHash: ringBuildHash() },
  };
}

function withLoad(r: BenchResult, from: CpuSample | null, to: CpuSample | null): BenchResult {
  const other = otherLoadCores(from, to);
  return other === undefined ? r : { ...r, otherLoadCores: Math.round(other * 100) / 100 };
}

function singleResult(spec: SingleSpec, runs: readonly { outcome: SingleOutcome; other: number | undefined }[]): BenchResult {
  const first = runs[0]?.outcome;
  if (first === undefined) throw new Error(`${spec.name}: no isolate ran`);
  const heap = spec.name === 'heap-growth-10M-writes';
  const ns = runs.map((r) => r.outcome.nsPerEvent);
  const nsPerEvent = median(ns);
  const failed = runs.find((r) => r.outcome.verifyError !== '')?.outcome;
  const others = runs.map((r) => r.other).filter((x): x is number => x !== undefined);
  return {
    name: spec.name,
    topology: spec.topology,
    eventsPerSec: 1e9 / nsPerEvent,
    nsPerEvent,
    threads: 1,
    events: runs.reduce((n, r) => n + r.outcome.events, 0),
    ...(spec.clock === undefined ? {} : { clock: spec.clock }),
    ...(spec.mode === undefined ? {} : { mode: spec.mode }),
    method: heap
      ? `one timed loop of ${first.eventsPerBatch} writes (process.hrtime.bigint)`
      : `tinybench in a fresh worker: median of per-batch latency (batches of ${first.eventsPerBatch}); median over ${runs.length} isolate(s)`,
    ...(heap ? {} : { rmePercent: median(runs.map((r) => r.outcome.rmePercent)), isolatesNsPerEvent: ns }),
    ...(spec.baseline === undefined ? {} : { baseline: spec.baseline }),
    verified: failed === undefined,
    check: first.verified,
    ...(failed === undefined ? {} : { verifyError: failed.verifyError }),
    ...(first.heapGrowthBytes === undefined ? {} : { heapGrowthBytes: first.heapGrowthBytes }),
    ...(others.length === 0 ? {} : { otherLoadCores: Math.round((others.reduce((a, b) => a + b, 0) / others.length) * 100) / 100 }),
    ...(first.notes === undefined ? {} : { notes: first.notes }),
  };
}

function threadedResult(
  name: string,
  topology: string,
  clock: 'hrtime' | 'counter',
  mode: 'overwrite' | 'discard',
  m: ThreadedMeasurement,
): BenchResult {
  return {
    name,
    topology,
    eventsPerSec: m.eventsPerSec,
    nsPerEvent: 1e9 / m.eventsPerSec,
    threads: m.threads,
    events: m.events,
    ...(name === 'ringbufjs-threads' || name === 'two-threads-ceiling' ? {} : { clock, mode }),
    method: `median of ${m.roundsEventsPerSec.length} round(s), fresh workers and memory each; threads time themselves (process.hrtime.bigint)`,
    roundsEventsPerSec: m.roundsEventsPerSec,
    roundsOtherLoadCores: m.roundsOtherLoadCores,
    disturbedRoundsEventsPerSec: m.disturbedRoundsEventsPerSec,
    verified: m.verified,
    check: m.check,
    ...(m.verifyError === '' ? {} : { verifyError: m.verifyError }),
    oversubscribed: m.oversubscribed,
    dropped: m.dropped,
    notes: m.notes,
  };
}
