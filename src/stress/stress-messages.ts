/**
 * The wire protocol between the stress orchestrator and its worker threads: the start
 * message each worker gets as workerData, and the messages it posts back. Control during
 * the run goes through the control block (stress-control.ts), not messages: the workers
 * run busy loops and do not look at their ports.
 */
import type { StressWriterResult } from './stress-writer.js';
import type { VerifierSummary } from '../check/stream-verifier.js';
import type { EventLogHandle } from '../log/event-log.js';
import type { LogWriterResult } from './log-stress-writer.js';

export interface WriterStart {
  readonly kind: 'writer';
  /** The ring buffer's SharedArrayBuffer. */
  readonly ring: SharedArrayBuffer;
  /** The control block (stress-control.ts). */
  readonly control: SharedArrayBuffer;
  readonly cpu: number;
  readonly seed: number;
  readonly nmiPerSecond: number;
  readonly maxDepth: number;
  /** Bound on the wait for go, ms. */
  readonly startTimeoutMs: number;
  /** Bound on the run: past it without a stop signal the writer throws, ms. */
  readonly runTimeoutMs: number;
}

export interface ReaderStart {
  readonly kind: 'reader';
  readonly ring: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly startTimeoutMs: number;
  /** Bound on the wait for writers-done, ms. */
  readonly runTimeoutMs: number;
}

/** A writer thread of `ringtrace stress log`. */
export interface LogWriterStart {
  readonly kind: 'log-writer';
  readonly log: EventLogHandle;
  readonly control: SharedArrayBuffer;
  readonly thread: number;
  readonly seed: number;
  readonly startTimeoutMs: number;
  readonly runTimeoutMs: number;
}

export type StressStart = WriterStart | ReaderStart | LogWriterStart;

export type StressMessage =
  /** Views built, role claimed; waiting for go. */
  | { readonly type: 'ready' }
  /** The writer saw stop, closed its CPU buffer and reports its own counts. */
  | { readonly type: 'writer-done'; readonly result: StressWriterResult }
  /** The reader drained the ring after writers-done. */
  | { readonly type: 'reader-done'; readonly summary: VerifierSummary; readonly delivered: number; readonly readWhileWriting: number }
  /** A log writer saw stop, closed its writer and reports its own counts. */
  | { readonly type: 'log-writer-done'; readonly result: LogWriterResult };

export type StressMessageType = StressMessage['type'];
