/**
 * ringtrace: the Linux kernel's tracing core for Node.js worker threads.
 * The public surface, listed explicitly.
 */
export { RingBuffer } from './ring/ring-buffer.js';
export type { CpuStats, RingPlacement, Snapshot, SnapshotEvent, WriterOptions } from './ring/ring-buffer.js';
export { CpuWriter, ReserveFailure, MAX_NESTING } from './ring/writer.js';
export { RingReader, EventView } from './ring/reader.js';
export type { LossCause, LostEvents, CorruptionReport, ReadVisitor, ReadOptions } from './ring/reader.js';
export type { RingOptions, RingConfig } from './ring/options.js';
export { HookPoint, hookPointNames } from './ring/interrupt.js';
export type { InterruptHook } from './ring/interrupt.js';
export { RingError, RingLayoutError, RingOwnershipError, RingCorruptError } from './ring/errors.js';
export type { TraceClock } from './ring/clock.js';
