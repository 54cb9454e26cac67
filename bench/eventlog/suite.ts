import { DISTURBED_OTHER_LOAD_CORES, measureUndisturbed, roundCores } from '../disturbance.js';
import { buildHash, otherLoadCores, sampleCpu, startRun } from '../host.js';
import type { SingleTiming } from '../single.js';
import { WorkerFile, runWorkers } from '../spawn.js';
import { median } from '../stats.js';
import {
  ALLOCATION_VARIANTS,
  type AllocationFigures,
  type AllocationVariant,
  type EventLogBenchName,
  type EventLogBenchStart,
  type EventLogOutcome,
} from './protocol.js';
import { REQUEST_PAYLOAD_BYTES } from './request.js';
import type { EventLogBenchResult, EventLogReport } from './results.js';
import { evaluateEventLogTargets } from './targets.js';
import { runDrainBenchmarks } from './drain.js';
import { LATENCY_SPECS, type LatencyPlan, runLatency } from './latency.js';

/**
 * The eventlog suite: the EventLog's two write paths against the raw ring writer and
 * against pino, all writing the same Request event (bench/eventlog/request.ts), one thread
 * each, in one run, and the JSON lines formatter against JSON.stringify; then the
 * allocation check; then per-call latency percentiles (bench/eventlog/latency.ts, 1 and 2
 * writer threads); then the targets from this run's figures. Every benchmark runs in
 * fresh workers (workers/bench-single.ts), one benchmark at a time (a latency benchmark's
 * writers together), and is checked after it is timed.
 */

export interface EventLogSuiteOptions {
  /** A short run for smoke tests: one isolate per benchmark, small budgets. Figures are rougher. */
  readonly quick: boolean;
  /** Progress lines (to stderr in the CLI). */
  readonly progress?: (line: string) => void;
}

interface Plan {
  /** Fresh workers (isolates) per timed benchmark. Odd, so the median is one of them. */
  readonly isolates: number;
  readonly timeMs: number;
  readonly warmupMs: number;
  /** Isolates run again per benchmark, at most, because other processes disturbed them. */
  readonly reruns: number;
  /** Events per variant of the allocation check. */
  readonly allocEvents: number;
  /** Calls per writer thread of each latency benchmark. */
  readonly latency: LatencyPlan;
  /** How long the writers of each drain benchmark emit, ms. */
  readonly drainMs: number;
}

const FULL: Plan = { isolates: 5, timeMs: 500, warmupMs: 200, reruns: 2, allocEvents: 1_000_000, latency: { calls: 2_000_000, warmupCalls: 500_000 }, drainMs: 2000 };
const QUICK: Plan = { isolates: 1, timeMs: 100, warmupMs: 30, reruns: 0, allocEvents: 1_000_000, latency: { calls: 160_000, warmupCalls: 50_000 }, drainMs: 300 };

type TimedName = Exclude<EventLogBenchName, 'eventlog-alloc-free-1M-emits'>;

interface TimedSpec {
  readonly name: TimedName;
  readonly topology: string;
  /** Whether it writes the Request payload into a ring (hrtime clock, overwrite mode). */
  readonly ring: boolean;
  readonly baseline?: TimedName;
}

const TIMED: readonly TimedSpec[] = [
  {
    name: 'eventlog-emit',
    topology: '1 thread: LogWriter.emit(Request, { 5 values }) (checked), EventLog of 1 slot x 64 x 4 KiB pages',
    ring: true,
    baseline: 'pino-same-fields',
  },
  {
    name: 'eventlog-emit-alloc-free',
    topology: '1 thread: LogWriter.emitRecord(Request, record) with a reused record, EventLog of 1 slot x 64 x 4 KiB pages',
    ring: true,
    baseline: 'ring-writer-write',
  },
  {
    name: 'eventlog-emit-drain',
    topology: '1 thread: emitRecord x 1024, then EventLog.drain of those events (decoded entries), repeated; 1 slot x 64 x 4 KiB pages, discard',
    ring: true,
    baseline: 'eventlog-emit-alloc-free',
  },
  {
    name: 'ring-writer-write',
    topology: '1 thread: CpuWriter.reserve + the same 34 payload bytes stored by hand + commit, ring of 1 cpu x 64 x 4 KiB pages',
    ring: true,
  },
  { name: 'pino-same-fields', topology: '1 thread: pino logger.info({ the same 5 fields }) to /dev/null (sync)', ring: false },
  {
    name: 'jsonl-format',
    topology: "1 thread: JsonLineFormat.writePayload of Request payloads (decode + the shape's generated writer) into a 1 MiB Buffer",
    ring: false,
    baseline: 'jsonl-stringify',
  },
  { name: 'jsonl-stringify', topology: '1 thread: decodeFields + LogEntry + JSON.stringify(entry, bigint replacer) + Buffer.write, the same payloads', ring: false },
];

const ALLOC_NAME = 'eventlog-alloc-free-1M-emits';

/** The order results are reported in. */
export const EVENTLOG_RESULT_NAMES: readonly string[] = [...TIMED.map((s) => s.name), ALLOC_NAME, ...LATENCY_SPECS.map((s) => s.name)];

export async function runEventLogSuite(options: EventLogSuiteOptions): Promise<EventLogReport> {
  const plan = options.quick ? QUICK : FULL;
  const progress = options.progress ?? (() => {});
  const finishRun = startRun(options.quick);
  const runOne = async (bench: EventLogBenchName, allocVariant: AllocationVariant = 'emitRecord-hrtime'): Promise<EventLogOutcome> => {
    const start: EventLogBenchStart = {
      kind: 'eventlog-single',
      bench,
      timeMs: plan.timeMs,
      warmupMs: plan.warmupMs,
      allocVariant,
      allocEvents: plan.allocEvents,
    };
    const [outcome] = await runWorkers<EventLogBenchStart, EventLogOutcome>([{ file: WorkerFile.single, start }]);
    if (outcome === undefined) throw new Error(`${bench}: no outcome`);
    return outcome;
  };

  // `isolates` passes over the list, each benchmark in a fresh worker every pass
  // (interleaved, so a slow drift of the machine hits all of them alike); the figure is
  // the median over isolates, as in the ring suite.
  const kept = new Map<TimedName, Isolate[]>();
  const disturbed = new Map<TimedName, number[]>();
  const budget = new Map<TimedName, number>(TIMED.map((s) => [s.name, plan.reruns]));
  for (let pass = 0; pass < plan.isolates; pass++) {
    for (const spec of TIMED) {
      progress(`${spec.name} (isolate ${pass + 1} of ${plan.isolates}) ...`);
      const run = await measureUndisturbed(1, budget.get(spec.name) ?? 0, () => runOne(spec.name).then(timing), {
        failed: (t) => t.verifyError !== '',
      });
      budget.set(spec.name, (budget.get(spec.name) ?? 0) - run.disturbed.length);
      disturbed.set(spec.name, [...(disturbed.get(spec.name) ?? []), ...run.disturbed.map((d) => d.value.nsPerEvent)]);
      kept.set(spec.name, [...(kept.get(spec.name) ?? []), ...run.kept]);
    }
  }
  const results = new Map<string, EventLogBenchResult>();
  for (const spec of TIMED) results.set(spec.name, timedResult(spec, kept.get(spec.name) ?? [], disturbed.get(spec.name) ?? []));

  const cpu = sampleCpu();
  const variants: AllocationFigures[] = [];
  let gcAvailable = true;
  for (const variant of Object.keys(ALLOCATION_VARIANTS) as AllocationVariant[]) {
    progress(`${ALLOC_NAME} (${ALLOCATION_VARIANTS[variant]}) ...`);
    const outcome = await runOne(ALLOC_NAME, variant);
    if (outcome.kind !== 'eventlog-allocation') throw new Error(`${ALLOC_NAME}: no allocation outcome`);
    variants.push(outcome.figures);
    gcAvailable &&= outcome.gcAvailable;
  }
  results.set(ALLOC_NAME, allocationResult(variants, gcAvailable, otherLoadCores(cpu, sampleCpu())));

  for (const spec of LATENCY_SPECS) {
    progress(`${spec.name} ...`);
    const before = sampleCpu();
    const r = await runLatency(spec, plan.latency);
    const other = otherLoadCores(before, sampleCpu());
    results.set(spec.name, other === undefined ? r : { ...r, otherLoadCores: roundCores(other) });
  }

  const drain = await runDrainBenchmarks(plan.drainMs, progress);

  const ordered = EVENTLOG_RESULT_NAMES.map((name) => {
    const r = results.get(name);
    if (r === undefined) throw new Error(`the suite produced no result named ${name}`);
    const base = r.baseline === undefined ? undefined : results.get(r.baseline);
    return base === undefined ? r : { ...r, vsBaseline: r.eventsPerSec / base.eventsPerSec };
  });
  return {
    results: ordered,
    drain,
    targets: evaluateEventLogTargets(ordered, drain),
    machine: { ...finishRun(), logBuildHash: buildHash('log'), ringBuildHash: buildHash('ring') },
  };
}

type Isolate = { readonly value: SingleTiming; readonly other: number | undefined };

function timing(outcome: EventLogOutcome): SingleTiming {
  if (outcome.kind !== 'eventlog-single') throw new Error(`expected a timed outcome, got ${outcome.kind}`);
  const { kind: _kind, ...t } = outcome;
  return t;
}

function timedResult(spec: TimedSpec, runs: readonly Isolate[], disturbed: readonly number[]): EventLogBenchResult {
  const first = runs[0]?.value;
  if (first === undefined) throw new Error(`${spec.name}: no isolate ran`);
  const ns = runs.map((r) => r.value.nsPerEvent);
  const nsPerEvent = median(ns);
  const failed = runs.find((r) => r.value.verifyError !== '')?.value;
  const others = runs.map((r) => r.other).filter((x): x is number => x !== undefined);
  return {
    name: spec.name,
    topology: spec.topology,
    eventsPerSec: 1e9 / nsPerEvent,
    nsPerEvent,
    threads: 1,
    events: runs.reduce((n, r) => n + r.value.events, 0),
    ...(spec.ring ? { payloadBytes: REQUEST_PAYLOAD_BYTES, clock: 'hrtime' as const, mode: 'overwrite' as const } : {}),
    method:
      `tinybench in a fresh worker: median of per-batch latency (batches of ${first.eventsPerBatch}); median over ${runs.length} isolate(s)` +
      (disturbed.length === 0 ? '' : `; ${disturbed.length} isolate(s) run again (other processes kept > ${DISTURBED_OTHER_LOAD_CORES} cores busy)`),
    rmePercent: median(runs.map((r) => r.value.rmePercent)),
    isolatesNsPerEvent: ns,
    ...(disturbed.length === 0 ? {} : { disturbedIsolatesNsPerEvent: disturbed }),
    ...(spec.baseline === undefined ? {} : { baseline: spec.baseline }),
    verified: failed === undefined,
    check: first.verified,
    ...(failed === undefined ? {} : { verifyError: failed.verifyError }),
    ...(others.length === 0 ? {} : { otherLoadCores: roundCores(others.reduce((a, b) => a + b, 0) / others.length) }),
    ...(first.notes === undefined ? {} : { notes: first.notes }),
    ...(first.figures ?? {}),
  };
}

function allocationResult(variants: readonly AllocationFigures[], gcAvailable: boolean, other: number | undefined): EventLogBenchResult {
  const main = variants[0];
  if (main === undefined) throw new Error(`${ALLOC_NAME}: no variant measured`);
  const failed = variants.find((v) => v.verifyError !== '');
  return {
    name: ALLOC_NAME,
    topology: '1 thread: 1 M LogWriter.emitRecord(Request, record) after a warm-up, collections and allocation from v8.GCProfiler; 3 comparison variants',
    eventsPerSec: 1e9 / main.nsPerEvent,
    nsPerEvent: main.nsPerEvent,
    threads: 1,
    events: variants.reduce((n, v) => n + v.events, 0),
    payloadBytes: REQUEST_PAYLOAD_BYTES,
    clock: main.clock,
    mode: 'overwrite',
    method: `one timed loop of ${main.events} events per variant (process.hrtime.bigint), each variant in a fresh worker`,
    allocation: variants,
    minorGcs: main.minorGcs,
    allocatedBytesPerEvent: main.bytesPerEvent,
    retainedBytes: main.retainedBytes,
    verified: failed === undefined,
    check: variants.map((v) => `${v.description}: ${v.verified || v.verifyError}`).join(' | '),
    ...(failed === undefined ? {} : { verifyError: `${failed.description}: ${failed.verifyError}` }),
    ...(other === undefined ? {} : { otherLoadCores: roundCores(other) }),
    notes:
      variants
        .map((v) => `${v.description}: ${v.bytesPerEvent.toFixed(2)} B/event allocated, ${v.minorGcs} minor / ${v.majorGcs} other GCs, retained ${signed(v.retainedBytes)} B`)
        .join('; ') +
      (gcAvailable ? '' : '; no GC function available: heap figures taken without forced collections'),
  };
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : ''}${x}`;
}
