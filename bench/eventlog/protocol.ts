import type { EventLogHandle } from '../../src/log/event-log.js';
import type { SingleTiming } from '../single.js';
import { startChecker } from '../worker-port.js';

/**
 * The eventlog suite's start message and outcome, tagged unions only. Its benchmarks run
 * in the single-thread bench worker (workers/bench-single.ts), one fresh isolate each,
 * with the ready / done / failed exchange of bench/worker-port.ts.
 */

export const EVENTLOG_BENCHES = [
  'eventlog-emit',
  'eventlog-emit-alloc-free',
  'eventlog-emit-drain',
  'ring-writer-write',
  'pino-same-fields',
  'eventlog-alloc-free-1M-emits',
  'jsonl-format',
  'jsonl-stringify',
] as const;
export type EventLogBenchName = (typeof EVENTLOG_BENCHES)[number];

/**
 * The allocation check's variants, one fresh isolate each (so each starts from the same
 * heap configuration): the check itself (emitRecord, hrtime clock, as eventlog-emit-alloc-free)
 * and three for comparison.
 */
export const ALLOCATION_VARIANTS = {
  'emitRecord-hrtime': 'emitRecord, hrtime clock',
  'emitRecord-counter': 'emitRecord, counter clock',
  'ring-hrtime': 'ring writer by hand, hrtime clock',
  'emit-hrtime': 'emit, hrtime clock',
} as const;
export type AllocationVariant = keyof typeof ALLOCATION_VARIANTS;

export type EventLogBenchStart = {
  readonly kind: 'eventlog-single';
  readonly bench: EventLogBenchName;
  /** tinybench time budget per benchmark. */
  readonly timeMs: number;
  readonly warmupMs: number;
  /** eventlog-alloc-free-1M-emits: the variant this isolate measures. */
  readonly allocVariant: AllocationVariant;
  /** eventlog-alloc-free-1M-emits: events measured (1 M in every mode: the name promises it). */
  readonly allocEvents: number;
};

/** One write path's allocation over `events` events after a warm-up (the allocation check). */
export interface AllocationFigures {
  readonly variant: AllocationVariant;
  /** What was measured, e.g. 'emitRecord, hrtime clock'. */
  readonly description: string;
  readonly clock: 'hrtime' | 'counter';
  readonly events: number;
  readonly nsPerEvent: number;
  /** Scavenges (young-generation collections) during the events (v8.GCProfiler). */
  readonly minorGcs: number;
  /** Every other collection (mark-compact, incremental marking steps, ...) during the events. */
  readonly majorGcs: number;
  /**
   * Bytes allocated during the events: the growth of used_heap_size between the start, each
   * collection (before minus the previous after) and the end, so collections do not hide it.
   */
  readonly allocatedBytes: number;
  /** allocatedBytes / events. */
  readonly bytesPerEvent: number;
  /** used_heap_size after two full collections minus before (after two too): what stayed. */
  readonly retainedBytes: number;
  readonly verified: string;
  readonly verifyError: string;
}

export type EventLogOutcome =
  | ({ readonly kind: 'eventlog-single' } & SingleTiming)
  | {
      readonly kind: 'eventlog-allocation';
      readonly figures: AllocationFigures;
      /** Whether collections were forced (gc reached); without it retainedBytes is an upper bound. */
      readonly gcAvailable: boolean;
    };

/** The write path whose per-call latency a latency worker samples. */
export type LatencyPath = 'emit' | 'emitRecord' | 'pino';

/**
 * One writer thread of a latency benchmark (bench/eventlog/latency.ts): `calls` calls of
 * `path`, every `sampleEvery`-th one timed; into its own slot of the shared log (`log`),
 * or pino to /dev/null. Starts on the control block's go, with its peers.
 */
export type EventLogLatencyStart = {
  readonly kind: 'eventlog-latency';
  readonly path: LatencyPath;
  readonly calls: number;
  readonly warmupCalls: number;
  readonly sampleEvery: number;
  readonly log: EventLogHandle | null;
  /** bench/control.ts's block. */
  readonly control: SharedArrayBuffer;
};

/** What one latency worker measured. */
export type EventLogLatencyOutcome = {
  readonly kind: 'eventlog-latency';
  /** The sampled calls' durations, ns, clock reads included (what `overheadNs` measures). */
  readonly samplesNs: Float64Array;
  /** Empty brackets (two clock reads, nothing between), sampled the same way: the sampling's own cost. */
  readonly overheadNs: Float64Array;
  /** Calls measured (warm-up excluded) and their wall time, sampling included. */
  readonly calls: number;
  readonly elapsedNs: number;
  /** Calls that returned false (dropped). */
  readonly dropped: number;
  /** The log slot written (-1 for pino). */
  readonly slot: number;
};

/** Worker side: checks that workerData is an eventlog start message. */
export const expectEventLogStart = startChecker<EventLogBenchStart>();
