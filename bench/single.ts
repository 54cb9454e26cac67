import v8 from 'node:v8';
import vm from 'node:vm';
import { loadDevDependency } from './dev-deps.js';

/**
 * Timing one single-thread benchmark inside the worker that runs it (workers/bench-single.ts,
 * a fresh V8 isolate per benchmark, so no benchmark's type feedback shapes another's code).
 * Every suite's single-thread benchmarks (bench/ring/, bench/eventlog/) are measured the
 * same way: tinybench over batches of events, one tinybench iteration = `eventsPerBatch`
 * events, the figure the median batch latency divided by the batch size (the timer's own
 * cost, ~50 ns per iteration, is then below 0.01 ns per event).
 */

/** A benchmark ready to run in this isolate. */
export interface SingleBench {
  /** Does `n` events of the measured operation. */
  readonly batch: (n: number) => void;
  readonly eventsPerBatch: number;
  /** After timing: checks what the timed batches produced; throws BenchVerifyError. */
  verify(): string;
  readonly notes?: string;
  /** Figures of the benchmark's own beyond its timing (e.g. bytes per event), read after timing and before `verify`. */
  readonly figures?: () => Readonly<Record<string, number>>;
}

/** tinybench's budget for one benchmark. */
export interface SingleBudget {
  readonly timeMs: number;
  readonly warmupMs: number;
}

/** What `measureSingle` measured, and the check after it. */
export interface SingleTiming {
  /** Median of the per-batch latencies, per event. */
  readonly nsPerEvent: number;
  readonly meanNsPerEvent: number;
  /** tinybench's relative margin of error of the mean, in percent. */
  readonly rmePercent: number;
  readonly samples: number;
  readonly eventsPerBatch: number;
  /** Events (or clock reads, or log lines) done while measuring, warm-up included. */
  readonly events: number;
  /** '' when the check after timing passed, else what failed. */
  readonly verifyError: string;
  /** What the check after timing looked at. */
  readonly verified: string;
  readonly notes?: string;
  /** The benchmark's `figures()`, if it has any. */
  readonly figures?: Readonly<Record<string, number>>;
}

/**
 * Times `bench` with tinybench, then runs its check. A check that throws an error named
 * `BenchVerifyError` becomes `verifyError`; any other error propagates (a broken benchmark,
 * not a failed result).
 */
export async function measureSingle(name: string, budget: SingleBudget, bench: SingleBench): Promise<SingleTiming> {
  const { Bench } = await loadDevDependency('tinybench', () => import('tinybench'));
  const n = bench.eventsPerBatch;
  let batches = 0;
  const b = new Bench({ time: budget.timeMs, warmupTime: budget.warmupMs, throws: true });
  b.add(name, () => {
    bench.batch(n);
    batches++;
  });
  await b.run();
  const result = b.getTask(name)?.result;
  if (result === undefined || result.state !== 'completed') {
    throw new Error(`tinybench did not complete ${name} (state ${result?.state ?? 'missing'})`);
  }
  const latency = result.latency; // ms per batch
  const figures = bench.figures?.();
  let verified = '';
  let verifyError = '';
  try {
    verified = bench.verify();
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'BenchVerifyError') throw err;
    verifyError = err.message;
  }
  return {
    nsPerEvent: (latency.p50 * 1e6) / n,
    meanNsPerEvent: (latency.mean * 1e6) / n,
    rmePercent: latency.rme,
    samples: latency.samplesCount,
    eventsPerBatch: n,
    events: batches * n,
    verified,
    verifyError,
    ...(bench.notes === undefined ? {} : { notes: bench.notes }),
    ...(figures === undefined ? {} : { figures }),
  };
}

/**
 * This isolate's `gc` function, or null. Reached without the --expose-gc command-line flag:
 * v8.setFlagsFromString('--expose-gc') and then `gc` from a fresh vm context.
 */
export function exposeGc(): (() => void) | null {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as () => void;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
