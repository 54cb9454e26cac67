import type { StreamFormat } from '../../src/check/stream-payload.js';
import { STREAM_WORDS_BYTES } from '../../src/check/stream-payload.js';
import type { StreamWriterCounts, VerifierSummary } from '../../src/check/stream-verifier.js';
import { startChecker } from '../worker-port.js';
import type { DesignName } from './design.js';

/**
 * The contention suite's start messages and outcomes (the ready / done / failed exchange
 * around them is bench/worker-port.ts's).
 */

/** Stream 0: the writer's own events; stream 1: events written by a simulated NMI nested in one. */
export const CONTENTION_FORMAT: StreamFormat = { typeBase: 0x4300, streams: 2, payloadBytes: STREAM_WORDS_BYTES };

export type ContentionStart =
  | {
      readonly kind: 'contention-writer';
      readonly design: DesignName;
      readonly memory: SharedArrayBuffer;
      readonly control: SharedArrayBuffer;
      readonly index: number;
      /** How long the writer writes after go, ms (its own clock). */
      readonly durationMs: number;
      /** Simulated NMIs per second on this writer's thread; 0 installs no hook. */
      readonly nmiPerSecond: number;
      readonly seed: number;
      /** One write in this many (on average, drawn at random) is timed. */
      readonly sampleOneIn: number;
    }
  | {
      readonly kind: 'contention-reader';
      readonly design: DesignName;
      readonly memory: SharedArrayBuffer;
      readonly control: SharedArrayBuffer;
      readonly writers: number;
    };

export interface ContentionWriterOutcome {
  readonly kind: 'contention-writer';
  readonly index: number;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly counts: StreamWriterCounts;
  /** Sampled write latencies, ns (the first `samples` entries). */
  readonly latencyNs: Float64Array;
  readonly samples: number;
  /** Cost of one read of the sampling clock (performance.now()), ns, measured in this thread. */
  readonly clockReadNs: number;
  /** The writer thread's time on a CPU while it wrote, ns (schedstat); NaN where unknown. */
  readonly onCpuNs: number;
  /** NMIs injected, by the hook point they interrupted (HookPoint order). */
  readonly nmisByPoint: number[];
}

export interface ContentionReaderOutcome {
  readonly kind: 'contention-reader';
  readonly summary: VerifierSummary;
  readonly events: number;
  /** Times the reader found nothing and slept. */
  readonly naps: number;
}

export type ContentionOutcome = ContentionWriterOutcome | ContentionReaderOutcome;

export const expectContentionStart = startChecker<ContentionStart>();
