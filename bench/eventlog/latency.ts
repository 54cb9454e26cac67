import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DrainThread } from '../../src/log/drain-thread.js';
import { EventLog, type LogEntry } from '../../src/log/event-log.js';
import { readTraceLog } from '../../src/log/trace-log.js';
import { BenchControl } from '../control.js';
import { loadDevDependency } from '../dev-deps.js';
import { PAGES_PER_CPU, PAGE_BYTES } from '../ring/config.js';
import { BenchVerifyError } from '../ring/verify.js';
import { WorkerFile, runWorkers } from '../spawn.js';
import { mean, percentile } from '../stats.js';
import type { EventLogLatencyOutcome, EventLogLatencyStart, LatencyPath } from './protocol.js';
import { REQUEST_PAYLOAD_BYTES, Request, bytesOf, microsOf, pathOf, statusOf, workerOf } from './request.js';
import type { EventLogBenchResult } from './results.js';
import { verifyLogSlots } from './verify.js';

/*
 * emit-latency-1w / emit-latency-2w / emit-record-latency-1w / pino-latency: what one call
 * costs the thread that makes it, as percentiles, the way native loggers publish theirs
 * (Quill, NanoLog: a timestamp counter read around each call).
 *
 *   N writer threads (1 or 2), each alone on its slot of one EventLog (N slots, 64 x 4 KiB
 *   pages each, overwrite, hrtime clock), started together on the control block's go:
 *
 *     for seq in warm-up .. warm-up + calls:
 *       every 16th call:  a = performance.now(); emit(Request, {...}) ; b = performance.now()  --> sample b - a
 *       the others:       emit(Request, {...})
 *     then as many empty brackets (a = now(); b = now()), the sampling's own cost
 *
 *   pino-latency: the same loop around pino's logger.info({ the same 5 fields }) to
 *   /dev/null (sync), one thread.
 *
 * A DrainThread runs beside the writers throughout, copying the log's pages to a binary log
 * (overwrite mode: a writer that laps the drain loses its oldest events, counted, as in
 * production); after timing, the file is read back and checked, slot by slot.
 * A sample is the whole bracket: the call plus one clock read (the empty bracket's
 * median), reported beside the percentiles, not subtracted. Checked after: every slot's
 * retained events read back in index order with their derived values.
 */

/** Every `SAMPLE_EVERY`-th call is timed (a power of two: the test is one mask). */
export const SAMPLE_EVERY = 16;

export interface LatencyPlan {
  readonly calls: number;
  readonly warmupCalls: number;
}

export interface LatencySpec {
  readonly name: 'emit-latency-1w' | 'emit-latency-2w' | 'emit-record-latency-1w' | 'pino-latency';
  readonly path: LatencyPath;
  readonly threads: 1 | 2;
  readonly topology: string;
}

export const LATENCY_SPECS: readonly LatencySpec[] = [
  { name: 'emit-latency-1w', path: 'emit', threads: 1, topology: '1 writer thread: LogWriter.emit(Request, { 5 values }), every 16th call timed; 1 slot x 64 x 4 KiB pages, overwrite, no consumer' },
  { name: 'emit-latency-2w', path: 'emit', threads: 2, topology: '2 writer threads at once, each LogWriter.emit into its own slot, every 16th call timed; 2 slots x 64 x 4 KiB pages, overwrite, no consumer' },
  {
    name: 'emit-record-latency-1w',
    path: 'emitRecord',
    threads: 1,
    topology: '1 writer thread: LogWriter.emitRecord(Request, record), every 16th call timed; 1 slot x 64 x 4 KiB pages, overwrite, no consumer',
  },
  { name: 'pino-latency', path: 'pino', threads: 1, topology: "1 thread: pino logger.info({ the same 5 fields }) to /dev/null (sync), every 16th call timed" },
];

/** Main thread: runs one latency benchmark (its writer threads at once) and checks what they wrote. */
export async function runLatency(spec: LatencySpec, plan: LatencyPlan): Promise<EventLogBenchResult> {
  const log = spec.path === 'pino' ? null : EventLog.create({ slots: spec.threads, pagesPerSlot: PAGES_PER_CPU, pageBytes: PAGE_BYTES, mode: 'overwrite', clock: 'hrtime' });
  try {
    const control = new BenchControl();
    const start: EventLogLatencyStart = {
      kind: 'eventlog-latency',
      path: spec.path,
      calls: plan.calls,
      warmupCalls: plan.warmupCalls,
      sampleEvery: SAMPLE_EVERY,
      log: log === null ? null : log.handle,
      control: control.sab,
    };
    const file = join(tmpdir(), `ringtrace-latency-${process.pid}.rtlog`);
    const drain = log === null ? null : await DrainThread.start(log, { sink: { kind: 'binary', path: file, flags: 'w' } });
    let outcomes: EventLogLatencyOutcome[];
    let drained: LogEntry[] | null = null;
    try {
      outcomes = await runWorkers<EventLogLatencyStart, EventLogLatencyOutcome>(
        Array.from({ length: spec.threads }, () => ({ file: WorkerFile.single, start })),
        control,
      );
      if (drain !== null) {
        await drain.close();
        drained = readTraceLog(file).entries;
      }
    } finally {
      await drain?.close().catch(() => undefined);
      rmSync(file, { force: true });
    }
    let verified = true;
    let check: string;
    let verifyError = '';
    const dropped = outcomes.reduce((n, o) => n + o.dropped, 0);
    try {
      if (dropped !== 0) throw new BenchVerifyError(`${dropped} calls returned false`);
      if (log === null) {
        check = `${outcomes[0]?.calls ?? 0} lines logged without a destination error`;
      } else {
        const perSlot = new Array<number>(spec.threads).fill(0);
        for (const o of outcomes) perSlot[o.slot] = plan.warmupCalls + o.calls;
        check = verifyLogSlots(log, perSlot, drained ?? undefined);
      }
    } catch (err) {
      if (!(err instanceof BenchVerifyError)) throw err;
      verified = false;
      check = 'every slot read back in index order with derived values';
      verifyError = err.message;
    }
    const samples = outcomes.flatMap((o) => Array.from(o.samplesNs)).sort((a, b) => a - b);
    const overhead = outcomes.flatMap((o) => Array.from(o.overheadNs)).sort((a, b) => a - b);
    const calls = outcomes.reduce((n, o) => n + o.calls, 0);
    const nsPerCall = mean(outcomes.map((o) => o.elapsedNs / o.calls));
    return {
      name: spec.name,
      topology: spec.topology,
      eventsPerSec: outcomes.reduce((r, o) => r + (o.calls * 1e9) / o.elapsedNs, 0),
      nsPerEvent: nsPerCall,
      threads: spec.threads,
      events: calls + plan.warmupCalls * spec.threads,
      ...(log === null ? {} : { payloadBytes: REQUEST_PAYLOAD_BYTES, clock: 'hrtime' as const, mode: 'overwrite' as const }),
      method:
        `every ${SAMPLE_EVERY}th of ${plan.calls} calls per thread (after ${plan.warmupCalls} warm-up calls) timed with two performance.now() reads; ` +
        `nearest-rank percentiles of the ${samples.length} samples of all threads; eventsPerSec: calls / wall time, summed over threads (sampling included)`,
      p50Ns: percentile(samples, 50),
      p99Ns: percentile(samples, 99),
      p999Ns: percentile(samples, 99.9),
      samples: samples.length,
      samplingOverheadNs: percentile(overhead, 50),
      verified,
      check,
      ...(verifyError === '' ? {} : { verifyError }),
      notes:
        `a sample includes one clock read: an empty bracket measures p50 ${percentile(overhead, 50).toFixed(0)} ns, p99 ${percentile(overhead, 99).toFixed(0)} ns; ` +
        (log === null ? 'pino writes synchronously to /dev/null' : 'a DrainThread copies the pages to a binary log beside the writers'),
    };
  } finally {
    await log?.close();
  }
}

/** Worker side: builds the writer (slot claimed, loop warmed up), then waits for go and measures. */
export async function prepareLatency(start: EventLogLatencyStart): Promise<() => Promise<EventLogLatencyOutcome>> {
  const control = new BenchControl(start.control);
  let slot = -1;
  let call: (seq: number) => boolean;
  if (start.path === 'pino') {
    const { pino } = await loadDevDependency('pino', () => import('pino'));
    const dest = pino.destination({ dest: '/dev/null', sync: true });
    let failed: unknown = null;
    dest.on('error', (err: unknown) => (failed = err));
    const logger = pino(dest);
    call = (s) => {
      logger.info({ status: statusOf(s), bytes: bytesOf(s), micros: microsOf(s), worker: workerOf(s), path: pathOf(s) });
      return failed === null;
    };
  } else {
    if (start.log === null) throw new Error('a latency worker of the log needs its handle');
    const writer = EventLog.attach(start.log).writer();
    slot = writer.slot;
    if (start.path === 'emit') {
      call = (s) => writer.emit(Request, { status: statusOf(s), bytes: bytesOf(s), micros: microsOf(s), worker: workerOf(s), path: pathOf(s) });
    } else {
      const rec = writer.record(Request);
      call = (s) => {
        rec.status = statusOf(s);
        rec.bytes = bytesOf(s);
        rec.micros = microsOf(s);
        rec.worker = workerOf(s);
        rec.path = pathOf(s);
        return writer.emitRecord(Request, rec);
      };
    }
  }
  const mask = start.sampleEvery - 1;
  if ((start.sampleEvery & mask) !== 0) throw new RangeError(`sampleEvery must be a power of two (got ${start.sampleEvery})`);
  const samplesNs = new Float64Array(Math.ceil(start.calls / start.sampleEvery));
  const overheadNs = new Float64Array(samplesNs.length);
  /** The measured loop: seq from `first` on, `n` calls; returns the calls that returned false. */
  const loop = (first: number, n: number, record: boolean): number => {
    let dropped = 0;
    let k = 0;
    for (let s = first; s < first + n; s++) {
      if (record && (s & mask) === 0 && k < samplesNs.length) {
        const a = performance.now();
        if (!call(s)) dropped++;
        const b = performance.now();
        samplesNs[k++] = (b - a) * 1e6;
      } else if (!call(s)) dropped++;
    }
    return dropped;
  };
  let dropped = loop(0, start.warmupCalls, false);
  return async () => {
    control.waitForGo();
    const t0 = process.hrtime.bigint();
    dropped += loop(start.warmupCalls, start.calls, true);
    const elapsedNs = Number(process.hrtime.bigint() - t0);
    for (let k = 0; k < overheadNs.length; k++) {
      const a = performance.now();
      const b = performance.now();
      overheadNs[k] = (b - a) * 1e6;
    }
    return { kind: 'eventlog-latency', samplesNs, overheadNs, calls: start.calls, elapsedNs, dropped, slot };
  };
}
