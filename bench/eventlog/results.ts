import type { DrainBenchResult } from './drain.js';
import type { RunInfo } from '../host.js';
import type { TargetResult } from '../targets.js';
import type { AllocationFigures } from './protocol.js';

/**
 * The shape of `ringtrace bench eventlog --json` and of bench/results/eventlog.json:
 * exactly `{ results, targets, machine }`.
 */

/** One benchmark's figure, after its check. */
export interface EventLogBenchResult {
  readonly name: string;
  /** One line: who writes what where. The ASCII picture is in the benchmark's source. */
  readonly topology: string;
  readonly eventsPerSec: number;
  /** 1e9 / eventsPerSec. */
  readonly nsPerEvent: number;
  /** Busy threads while measuring: 1, or 2 for the two-writer latency benchmark. */
  readonly threads: number;
  /** Events written while measuring (warm-up included), over every isolate. */
  readonly events: number;
  /** Payload bytes per event (the Request event: 34), where the benchmark writes a ring. */
  readonly payloadBytes?: number;
  readonly clock?: 'hrtime' | 'counter';
  readonly mode?: 'overwrite';
  /** How the figure was taken. */
  readonly method: string;
  /** Median over isolates of tinybench's relative margin of error, percent. */
  readonly rmePercent?: number;
  /** ns/event of each fresh worker isolate (the figure is their median). */
  readonly isolatesNsPerEvent?: readonly number[];
  /** ns/event of isolates measured again because other processes kept > 0.3 cores busy meanwhile. */
  readonly disturbedIsolatesNsPerEvent?: readonly number[];
  /** The result this one is compared to on its row, and eventsPerSec / that result's. */
  readonly baseline?: string;
  readonly vsBaseline?: number;
  /** The allocation check (eventlog-alloc-free-1M-emits): every variant measured; the first is the check's. */
  readonly allocation?: readonly AllocationFigures[];
  /** The allocation check's own variant (emitRecord, hrtime): scavenges during its 1 M events, bytes allocated per event, bytes retained. */
  readonly minorGcs?: number;
  readonly allocatedBytesPerEvent?: number;
  readonly retainedBytes?: number;
  /** Latency benchmarks: nearest-rank percentiles of the sampled calls' durations, ns (one clock read included). */
  readonly p50Ns?: number;
  readonly p99Ns?: number;
  readonly p999Ns?: number;
  /** Latency benchmarks: calls sampled, over every thread. */
  readonly samples?: number;
  /** Latency benchmarks: median of an empty bracket (two clock reads), the part of each sample that is the sampling. */
  readonly samplingOverheadNs?: number;
  /** jsonl-format / jsonl-stringify: bytes of the lines written per event, newline included. */
  readonly bytesPerEvent?: number;
  /** jsonl-format: bytes of pino's line for the same fields (pino 10 defaults: level, time, pid, hostname). */
  readonly pinoBytesPerEvent?: number;
  /** Whether the check after timing passed; `check` says what it looked at. */
  readonly verified: boolean;
  readonly check: string;
  readonly verifyError?: string;
  /** Average cores other processes kept busy while this benchmark ran (Linux only). */
  readonly otherLoadCores?: number;
  readonly notes?: string;
}

export interface EventLogMachineInfo extends RunInfo {
  /** sha256 (first 12 hex digits) of the compiled log and ring modules that ran. */
  readonly logBuildHash: string;
  readonly ringBuildHash: string;
}

export interface EventLogReport {
  readonly results: EventLogBenchResult[];
  /** The drain thread's benchmarks (bench/eventlog/drain.ts): writers at full speed, the sink's throughput and the losses. */
  readonly drain: DrainBenchResult[];
  readonly targets: TargetResult[];
  readonly machine: EventLogMachineInfo;
}
