import { startChecker } from '../worker-port.js';

/**
 * The machine suite's start message and outcome (the ready / done / failed exchange
 * around them is the shared one of bench/worker-port.ts). Tagged unions only.
 */

export type MachineBenchStart = {
  readonly kind: 'sync-sender';
  /** The machine's memory (Machine.memory.sab); the sender attaches its own views. */
  readonly machine: SharedArrayBuffer;
  /** A bench control block (bench/control.ts): go and abort. */
  readonly control: SharedArrayBuffer;
  /** Rounds measured, after `warmupRounds` that are not. */
  readonly rounds: number;
  readonly warmupRounds: number;
  /** Pause before each round, ms (the sender sleeps in Atomics.wait on a private word). */
  readonly gapMs: number;
  /**
   * Before each round, wait (at most ASLEEP_TIMEOUT_MS) until every CPU has gone back to
   * sleep (hlt) since it acknowledged the previous round; rounds that had to go without
   * are counted in `notAsleep`.
   */
  readonly expectAsleep: boolean;
  /** Bound on one round, ms: a CPU that has not acknowledged by then is reported missing. */
  readonly roundTimeoutMs: number;
};

export type MachineBenchStartKind = MachineBenchStart['kind'];

/** What the sync_core sender measured and observed. */
export interface SyncSenderOutcome {
  readonly kind: 'sync-sender';
  /** Latency of each measured round, µs (`SyncResult.micros`), in round order. */
  readonly micros: number[];
  /** Rounds (warm-up included) in which some CPU did not acknowledge in time, and the first of them. */
  readonly timedOut: number;
  readonly firstTimeout: string;
  /** expectAsleep: measured rounds sent although some CPU had not gone back to sleep. */
  readonly notAsleep: number;
  /** Per CPU over all rounds (warm-up included): IPIs it took, and times it went to sleep (hlt). */
  readonly ipisTaken: number[];
  readonly sleeps: number[];
}

export type MachineBenchOutcome = SyncSenderOutcome;

/** Worker side: checks that workerData is the start message this worker file expects. */
export const expectStart = startChecker<MachineBenchStart>();
