import type { RunInfo } from '../host.js';
import type { TargetResult } from '../targets.js';

/**
 * The shape of `ringtrace bench machine --json` and of bench/results/machine.json:
 * exactly `{ results, targets, machine }`.
 */

/** One benchmark's figures, after its check. Sync rounds fill the *Us fields, site runs the others. */
export interface MachineBenchResult {
  readonly name: string;
  /** One line: which threads do what. The ASCII picture is in the benchmark's source. */
  readonly topology: string;
  /** Sync rounds: latency percentiles and mean over the measured rounds, µs. */
  readonly p50Us?: number;
  readonly p90Us?: number;
  readonly p99Us?: number;
  readonly meanUs?: number;
  readonly maxUs?: number;
  /** Sync rounds measured (after warm-up rounds that are not). */
  readonly rounds?: number;
  /** Sync rounds: p50 of each run that was done again because other processes disturbed it. */
  readonly disturbedP50Us?: readonly number[];
  /** Function-entry events per second per CPU (wall clock, over the measurement window). */
  readonly eventsPerSec?: number;
  /**
   * CPU time per site executed, ns: the on-CPU time of the CPU threads (Linux schedstat)
   * over the sites they executed in the window. Falls back to `nsPerSiteWall` where
   * per-thread CPU time is not available (`method` says which).
   */
  readonly nsPerSite?: number;
  /** window wall seconds x cpus / sites executed: charges the CPU threads for time they were preempted. */
  readonly nsPerSiteWall?: number;
  /** Site runs: nsPerSite of each round (the figure is their median), and the cores other processes kept busy during each. */
  readonly roundsNsPerSite?: readonly number[];
  readonly roundsOtherLoadCores?: readonly number[];
  /** Site runs: nsPerSite of each round that was done again because other processes disturbed it. */
  readonly disturbedRoundsNsPerSite?: readonly number[];
  /** The result this one is compared to, nsPerSite / its nsPerSite, and nsPerSite - its nsPerSite. */
  readonly baseline?: string;
  readonly vsBaseline?: number;
  readonly extraNsPerSite?: number;
  /** Simulated CPUs (one worker thread each). */
  readonly cpus: number;
  /** Threads that ran (CPUs, NMI source, sender, main thread with the reader), and whether that exceeds the cores. */
  readonly threads: string;
  readonly oversubscribed: boolean;
  /** The machine's configuration, as passed to Machine.start. */
  readonly config: string;
  readonly seeds: readonly number[];
  /** How the figures were taken. */
  readonly method: string;
  /** Whether the check after timing passed; `check` says what it looked at. */
  readonly verified: boolean;
  readonly check: string;
  readonly verifyError?: string;
  /** Average cores other processes kept busy meanwhile (Linux only): the noise the figures carry. */
  readonly otherLoadCores?: number;
  readonly notes?: string;
}

export interface MachineSuiteInfo extends RunInfo {
  /** sha256 (first 12 hex digits) of the compiled modules that ran (dist/src/machine/*.js, dist/src/ring/*.js). */
  readonly machineBuildHash: string;
  readonly ringBuildHash: string;
}

export interface MachineSuiteReport {
  readonly results: MachineBenchResult[];
  readonly targets: TargetResult[];
  readonly machine: MachineSuiteInfo;
}
