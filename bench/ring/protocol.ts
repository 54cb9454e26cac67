import type { SingleTiming } from '../single.js';
import { startChecker } from '../worker-port.js';

/**
 * The ring suite's start messages (each worker gets one as `workerData`) and outcomes,
 * tagged unions only. The ready / done / failed exchange around them is the shared one
 * of bench/worker-port.ts.
 */

export const SINGLE_BENCHES = [
  'ceiling-raw-stores',
  'clock-hrtime',
  'writer-counter',
  'writer-hrtime',
  'writer-counter-hook-noop',
  'writer-counter-hookless',
  'pino-devnull',
  'heap-growth-10M-writes',
] as const;
export type SingleBenchName = (typeof SINGLE_BENCHES)[number];

export type BenchStart =
  | {
      readonly kind: 'single';
      readonly bench: SingleBenchName;
      /** tinybench time budget per benchmark. */
      readonly timeMs: number;
      readonly warmupMs: number;
      /** Events written by heap-growth (10 M in every mode: the name promises it). */
      readonly heapWrites: number;
    }
  | {
      readonly kind: 'ring-writer';
      readonly ring: SharedArrayBuffer;
      readonly control: SharedArrayBuffer;
      readonly cpu: number;
      readonly events: number;
      /** Events written between two flow-control checks. */
      readonly burst: number;
      /** Flow control: unconsumed events allowed before a burst; 0 = none (no reader). */
      readonly roomEvents: number;
    }
  | {
      readonly kind: 'ring-reader';
      readonly ring: SharedArrayBuffer;
      readonly control: SharedArrayBuffer;
      /** Events expected from cpu 0 (the reader checks each one in order). */
      readonly events: number;
    }
  | {
      readonly kind: 'ceiling-thread';
      readonly control: SharedArrayBuffer;
      readonly events: number;
    }
  | {
      readonly kind: 'ringbufjs-producer';
      readonly storage: SharedArrayBuffer;
      readonly control: SharedArrayBuffer;
      readonly events: number;
      readonly burst: number;
    }
  | {
      readonly kind: 'ringbufjs-consumer';
      readonly storage: SharedArrayBuffer;
      readonly control: SharedArrayBuffer;
      readonly events: number;
    };

export type BenchStartKind = BenchStart['kind'];

/** What a single-thread benchmark measured (tinybench, in a fresh worker isolate; bench/single.ts). */
export interface SingleOutcome extends SingleTiming {
  readonly kind: 'single';
  readonly heapGrowthBytes?: number;
}

/** What one thread of a threaded benchmark did, timed with the process-wide hrtime clock. */
export interface ThreadOutcome {
  readonly kind: 'thread';
  readonly role: 'producer' | 'consumer';
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** Events written (producer) or delivered (consumer). */
  readonly events: number;
  /** Producer: writes that returned false. Consumer: events reported lost. */
  readonly dropped: number;
  /** Producer: times it waited for room before a burst. */
  readonly stalls: number;
  /** Consumer: events that failed the order / payload check. */
  readonly mismatches: number;
  readonly firstMismatch: string;
}

export type BenchOutcome = SingleOutcome | ThreadOutcome;

/** Worker side: checks that workerData is the start message this worker file expects. */
export const expectStart = startChecker<BenchStart>();
