import type { RunInfo } from '../host.js';
import type { TargetResult } from '../targets.js';

/**
 * The shape of `ringtrace bench ring --json` and of bench/results/ring.json:
 * exactly `{ results, targets, machine }`.
 */

/** One benchmark's figure, after its check. */
export interface BenchResult {
  readonly name: string;
  /** One line: who writes what where. The ASCII picture is in the benchmark's source. */
  readonly topology: string;
  /** Events per second (aggregate over the threads of a threaded run). */
  readonly eventsPerSec: number;
  /** 1e9 / eventsPerSec. */
  readonly nsPerEvent: number;
  /** Busy threads while measuring. */
  readonly threads: number;
  /** Events measured (single-thread: during tinybench's timed and warm-up batches). */
  readonly events: number;
  readonly clock?: 'hrtime' | 'counter';
  readonly mode?: 'overwrite' | 'discard';
  /** Single-thread: how the figure was taken (tinybench median of per-batch latency). */
  readonly method: string;
  /** Single-thread (tinybench): relative margin of error of the mean within an isolate, percent (median over isolates). */
  readonly rmePercent?: number;
  /** Single-thread: the figure of each fresh worker (isolate); nsPerEvent is their median. */
  readonly isolatesNsPerEvent?: readonly number[];
  /** Threaded: the rate of every round; the reported figure is their median. */
  readonly roundsEventsPerSec?: readonly number[];
  /** Threaded: cores other processes kept busy during each of those rounds (-1: unknown). */
  readonly roundsOtherLoadCores?: readonly number[];
  /**
   * Threaded: rates of rounds that were run again because other processes kept more
   * than 0.3 cores busy meanwhile (at most `rounds` re-runs; past that they count).
   */
  readonly disturbedRoundsEventsPerSec?: readonly number[];
  /** The result this one is compared to on its row, and eventsPerSec / that result's. */
  readonly baseline?: string;
  readonly vsBaseline?: number;
  /** Whether the check after timing passed; `check` says what it looked at. */
  readonly verified: boolean;
  readonly check: string;
  readonly verifyError?: string;
  /** Threaded: busy threads >= cores, so the OS, the main thread and other processes preempt them. */
  readonly oversubscribed?: boolean;
  readonly dropped?: number;
  readonly heapGrowthBytes?: number;
  /**
   * Average cores other processes kept busy while this benchmark ran (Linux only): the
   * noise its figure carries. The machine is shared; compare before trusting a figure.
   */
  readonly otherLoadCores?: number;
  readonly notes?: string;
}

export interface MachineInfo extends RunInfo {
  /** sha256 (first 12 hex digits) of the compiled ring modules that ran (dist/src/ring/*.js). */
  readonly ringBuildHash: string;
}

export interface RingReport {
  readonly results: BenchResult[];
  readonly targets: TargetResult[];
  readonly machine: MachineInfo;
}
