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
export { RingError, RingLayoutError, RingOwnershipError, RingCorruptError, RingClosedError, RingUnpairedError, RingBlockOnReaderError } from './ring/errors.js';
export type { TraceClock } from './ring/clock.js';

// The simulated machine.
export { Machine, layoutCodePage } from './machine/machine.js';
export type { MachineOptions, MachineReport } from './machine/machine.js';
export { NmiEntryMode } from './machine/patch-area.js';
export type { FaultRecord } from './machine/cpu.js';
export type { FetchModelOptions } from './machine/fetch-model.js';

// Live patching and the interleaving explorer.
export { Patcher } from './patch/patcher.js';
export type { PatcherRequest } from './patch/patcher.js';
export type { PatchReport, PatchRequest, SiteFilter } from './patch/coordinator.js';
export { protocolNames } from './patch/protocols/index.js';
export type { ProtocolName } from './patch/protocols/index.js';
export type { PatchStep, PatchEntry } from './patch/protocol.js';
export { explore, formatCounterexample } from './explore/explorer.js';
export type { ExploreOptions, ExploreResult, ExploreStep } from './explore/explorer.js';

// The event log.
export { BadEvent, EventLog, LogWriter } from './log/event-log.js';
export type { EventLogOptions, EventLogHandle, LogEntry, LogStats } from './log/event-log.js';
export { defineEvent, schemaFromJson, schemaToJson } from './log/event-schema.js';
export type { EventDescriptor, EventOptions, EventValues, FieldSpec, FieldType } from './log/event-schema.js';
export type { EventRecord } from './log/payload-codec.js';
export { BinaryLogSink, JsonLinesSink, installFlightRecorder, loadDump, pipeLog, readBinaryLog, writeDump } from './log/sinks.js';
export type { JsonLinesSinkOptions, LogSink } from './log/sinks.js';
export { JsonLineFormat } from './log/json-lines.js';
export type { JsonLineFormatOptions } from './log/json-lines.js';
export { DrainThread } from './log/drain-thread.js';
export type { DrainThreadOptions, DrainSink, DrainStats } from './log/drain-thread.js';
export { readTraceLog } from './log/trace-log.js';

// The drain and the trace file: committed pages out of a ring into a file, and back.
export { PageDrain } from './trace/page-drain.js';
export { TraceFileWriter } from './trace/trace-file.js';
export type { SegmentInfo, TraceFileWriterOptions } from './trace/trace-file.js';
export { TraceFileReader } from './trace/trace-reader.js';
export type { TraceSegment, TraceVisitor, TraceReadTotals } from './trace/trace-reader.js';
export type { PageCopyVisitor, CopyOptions } from './ring/reader.js';

// Exports of log entries to other tools' formats.
export { toChromeTrace } from './export/chrome-trace.js';
export type { ChromeTrace, ChromeTraceEvent, ChromeTraceOptions } from './export/chrome-trace.js';
export { writeCtf } from './export/ctf.js';
export type { CtfTrace } from './export/ctf.js';
export { PerfettoExport, writePerfetto } from './export/perfetto.js';
export type { PerfettoOptions, PerfettoStats } from './export/perfetto.js';
