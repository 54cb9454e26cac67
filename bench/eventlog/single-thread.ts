import v8 from 'node:v8';
import { EventLog, type LogEntry, type LogWriter } from '../../src/log/event-log.js';
import { TYPE_BASE } from '../../src/log/schema-registry.js';
import type { ClockName } from '../../src/ring/layout.js';
import { RingBuffer } from '../../src/ring/ring-buffer.js';
import type { CpuWriter } from '../../src/ring/writer.js';
import { pinoDevNullBench } from '../pino.js';
import { PAGES_PER_CPU, PAGE_BYTES } from '../ring/config.js';
import { BenchVerifyError } from '../ring/verify.js';
import { type SingleBench, exposeGc, measureSingle } from '../single.js';
import { ALLOCATION_VARIANTS, type AllocationVariant, type EventLogBenchName, type EventLogBenchStart, type EventLogOutcome } from './protocol.js';
import {
  AT_BYTES,
  AT_FLAGS,
  AT_MICROS,
  AT_PATH,
  AT_PATH_LENGTH,
  AT_STATUS,
  AT_WORKER,
  Request,
  assertHandLayout,
  bytesOf,
  microsOf,
  pathOf,
  requestMismatch,
  statusOf,
  workerOf,
} from './request.js';
import { verifyHandWritten, verifyLog } from './verify.js';
import { jsonlFormatBench, jsonlStringifyBench } from './jsonl.js';

/**
 * The eventlog suite's benchmarks. Each runs alone in a fresh worker (its own V8 isolate),
 * timed as bench/single.ts times every suite's single-thread benchmarks. Every one writes
 * the same Request event (bench/eventlog/request.ts), one thread, into the same geometry:
 * one slot (cpu buffer) of 64 x 4 KiB pages, overwrite mode, so the writer laps the ring
 * and page switches and overruns happen throughout, as in the ring suite.
 */

/** The event type of the hand-written events: the type an EventLog gives its first schema. */
const HAND_TYPE = TYPE_BASE;
/** Events written before the allocation check's window (the code is optimised by then). */
const ALLOCATION_WARMUP_EVENTS = 500_000;

/** Builds the benchmark's memory and code (the worker then says ready) and returns how to run it. */
export async function prepareEventLogSingle(start: EventLogBenchStart): Promise<() => Promise<EventLogOutcome>> {
  assertHandLayout();
  if (start.bench === 'eventlog-alloc-free-1M-emits') return () => allocationCheck(start.allocVariant, start.allocEvents);
  const bench = await makeBench(start.bench);
  return async () => ({ kind: 'eventlog-single', ...(await measureSingle(start.bench, start, bench)) });
}

async function makeBench(name: Exclude<EventLogBenchName, 'eventlog-alloc-free-1M-emits'>): Promise<SingleBench> {
  switch (name) {
    case 'eventlog-emit':
      return logBench('emit', 'hrtime');
    case 'eventlog-emit-alloc-free':
      return logBench('emitRecord', 'hrtime');
    case 'eventlog-emit-drain':
      return emitDrainBench();
    case 'ring-writer-write':
      return ringWriterWrite('hrtime');
    case 'pino-same-fields':
      return pinoSameFields();
    case 'jsonl-format':
      return jsonlFormatBench();
    case 'jsonl-stringify':
      return jsonlStringifyBench();
  }
}

function createLog(clock: ClockName): EventLog {
  return EventLog.create({ slots: 1, pagesPerSlot: PAGES_PER_CPU, pageBytes: PAGE_BYTES, mode: 'overwrite', clock });
}

type LogPath = 'emit' | 'emitRecord';

/** `n` events from `seq` on through one of the log's write paths; returns how many returned false. */
function logLoop(path: LogPath, writer: LogWriter): (seq: number, n: number) => number {
  if (path === 'emit') {
    return (seq, n) => {
      let dropped = 0;
      const end = seq + n;
      for (let s = seq; s < end; s++) {
        if (!writer.emit(Request, { status: statusOf(s), bytes: bytesOf(s), micros: microsOf(s), worker: workerOf(s), path: pathOf(s) })) dropped++;
      }
      return dropped;
    };
  }
  const rec = writer.record(Request);
  return (seq, n) => {
    let dropped = 0;
    const end = seq + n;
    for (let s = seq; s < end; s++) {
      rec.status = statusOf(s);
      rec.bytes = bytesOf(s);
      rec.micros = microsOf(s);
      rec.worker = workerOf(s);
      rec.path = pathOf(s);
      if (!writer.emitRecord(Request, rec)) dropped++;
    }
    return dropped;
  };
}

/*
 * eventlog-emit / eventlog-emit-alloc-free: the EventLog's two write paths, one thread, no reader.
 *
 *   one thread:  emit(Request, { status, bytes, micros, worker, path })   a fresh object per event,
 *                  |   every value checked (type, integer range, string     as a caller writes it
 *                  |   length), then encoded into the reservation
 *            or  rec.status = ...; ...; emitRecord(Request, rec)          one record, refilled
 *                  |   JS types checked, encoded by the schema's
 *                  v   generated encoder
 *                EventLog (1 slot, 64 x 4 KiB pages, overwrite, hrtime) --> 8 + 40 bytes per event
 */
function logBench(path: LogPath, clock: ClockName): SingleBench {
  const log = createLog(clock);
  const loop = logLoop(path, log.writer());
  let seq = 0;
  let dropped = 0;
  return {
    eventsPerBatch: 1 << 14,
    batch(n) {
      dropped += loop(seq, n);
      seq += n;
    },
    verify() {
      if (dropped !== 0) throw new BenchVerifyError(`${dropped} ${path}() calls returned false`);
      return verifyLog(log, seq);
    },
    notes:
      path === 'emit'
        ? 'writer.emit(Request, { status, bytes, micros, worker, path }): a fresh values object per event, every value checked'
        : 'one record from writer.record(Request), its 5 fields refilled per event, writer.emitRecord(Request, record)',
  };
}

/** Events written and drained at a time: they fit the ring (64 x 4 KiB pages hold ~5,400), so none is dropped. */
const DRAIN_CHUNK = 1024;

/*
 * eventlog-emit-drain: the consumer's side. Writes events as eventlog-emit-alloc-free does,
 * a chunk at a time, and drains each chunk with EventLog.drain: every event decoded into
 * an entry object and handed to a callback. Its baseline is eventlog-emit-alloc-free, so
 * the difference is what consuming one event costs.
 *
 *   one thread:  emitRecord x 1024 --> EventLog (1 slot, 64 x 4 KiB pages, discard, hrtime)
 *                  --> drain(entry => sum three of its fields) x 1024, repeat
 */
function emitDrainBench(): SingleBench {
  const log = EventLog.create({ slots: 1, pagesPerSlot: PAGES_PER_CPU, pageBytes: PAGE_BYTES, mode: 'discard', clock: 'hrtime' });
  const loop = logLoop('emitRecord', log.writer());
  let seq = 0;
  let dropped = 0;
  // Events, other entries, and a checksum of three decoded fields (typed memory: no boxing).
  const got = new Float64Array(3);
  const take = (e: LogEntry): void => {
    if (e.kind !== 'event') {
      got[1]! += 1;
      return;
    }
    got[0]! += 1;
    got[2]! += (e.values['bytes'] as number) + (e.values['status'] as number) + (e.values['path'] as string).length;
  };
  return {
    eventsPerBatch: DRAIN_CHUNK * 16,
    batch(n) {
      for (let done = 0; done < n; done += DRAIN_CHUNK) {
        const k = Math.min(DRAIN_CHUNK, n - done);
        dropped += loop(seq, k);
        seq += k;
        log.drain(take);
      }
    },
    verify() {
      if (dropped !== 0) throw new BenchVerifyError(`${dropped} emitRecord() calls returned false`);
      if (got[1] !== 0) throw new BenchVerifyError(`${got[1]} lost or corrupt entries`);
      if (got[0] !== seq) throw new BenchVerifyError(`drained ${got[0]} events of ${seq}`);
      let want = 0;
      for (let s = 0; s < seq; s++) want += bytesOf(s) + statusOf(s) + pathOf(s).length;
      if (got[2] !== want) throw new BenchVerifyError(`checksum of the decoded fields ${got[2]}, expected ${want}`);
      return `${seq} events written and drained, none lost; the bytes + status + path length of every decoded event sum as written`;
    },
    notes: 'emitRecord x 1024 then EventLog.drain(callback) of those 1024 (each decoded into an entry object), repeated; minus the baseline = the consumer',
  };
}

/** `n` events from `seq` on, the Request payload written by hand between reserve and commit; returns how many reservations failed. */
function ringLoop(writer: CpuWriter, type: number): (seq: number, n: number) => number {
  const u8 = writer.u8;
  const i32 = writer.i32;
  const f64 = writer.f64;
  return (seq, n) => {
    let dropped = 0;
    const end = seq + n;
    for (let s = seq; s < end; s++) {
      const path = pathOf(s);
      const length = path.length; // ASCII (assertHandLayout): one byte per character
      const at = writer.reserve(type, AT_PATH + length);
      if (at < 0) {
        dropped++;
        continue;
      }
      // The payload is 8-byte aligned: the f64 and u32 fields are whole words.
      f64[(at + AT_MICROS) >> 3] = microsOf(s);
      i32[(at + AT_BYTES) >> 2] = bytesOf(s);
      i32[(at + AT_WORKER) >> 2] = workerOf(s);
      const status = statusOf(s);
      u8[at + AT_STATUS] = status;
      u8[at + AT_STATUS + 1] = status >> 8;
      u8[at + AT_FLAGS] = 0;
      u8[at + AT_PATH_LENGTH] = length;
      u8[at + AT_PATH_LENGTH + 1] = length >> 8;
      for (let i = 0; i < length; i++) u8[at + AT_PATH + i] = path.charCodeAt(i);
      writer.commit();
    }
    return dropped;
  };
}

/*
 * ring-writer-write: the same event through the raw ring writer, the bytes written by hand.
 *
 *   one thread:  at = CpuWriter.reserve(type, 34) --> f64 / i32 stores, 7 byte stores, 13 charCodeAt
 *                  bytes of the path, at the codec's offsets (request.ts) --> commit()
 *                RingBuffer (1 cpu, 64 x 4 KiB pages, overwrite, hrtime) --> 8 + 40 bytes per event
 *   No schema, no checks: what the EventLog's paths cost above is theirs.
 */
function ringWriterWrite(clock: ClockName): SingleBench {
  const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: PAGES_PER_CPU, pageBytes: PAGE_BYTES, mode: 'overwrite', clock });
  const type = HAND_TYPE;
  const loop = ringLoop(rb.writer(0), type);
  let seq = 0;
  let dropped = 0;
  return {
    eventsPerBatch: 1 << 14,
    batch(n) {
      dropped += loop(seq, n);
      seq += n;
    },
    verify() {
      if (dropped !== 0) throw new BenchVerifyError(`${dropped} reservations failed`);
      return verifyHandWritten(rb, type, seq);
    },
    notes: 'CpuWriter.reserve(type, 34), the Request payload stored by hand at the codec\'s offsets (f64, 2 x i32, bytes), commit()',
  };
}

/* pino-same-fields: pino (bench/pino.ts) logging the Request event's fields. */
function pinoSameFields(): Promise<SingleBench> {
  return pinoDevNullBench({
    fields: (s) => ({ status: statusOf(s), bytes: bytesOf(s), micros: microsOf(s), worker: workerOf(s), path: pathOf(s) }),
    mismatch: (s, o) => requestMismatch(s, o),
    notes: "pino(pino.destination({ dest: '/dev/null', sync: true })), logger.info({ status, bytes, micros, worker, path }) (as the ring suite's pino-devnull)",
  });
}

/*
 * eventlog-alloc-free-1M-emits: does the allocation-free path allocate?
 *
 *   one fresh isolate per variant:
 *     500 k warm-up events --> 2 full GCs, heap used --> v8.GCProfiler on --> 1 M events (timed)
 *     --> heap used, profiler off --> 2 full GCs, heap used
 *   variants: emitRecord + hrtime (the path and clock of eventlog-emit-alloc-free: the check),
 *             emitRecord + counter (the same without performance.now()), the ring writer by
 *             hand + hrtime (ring-writer-write), emit + hrtime (the checked path)
 *
 * Bytes allocated = growth of heap used from the start to the first collection, between
 * collections (each one's before minus the previous one's after) and from the last to the
 * end: what the events put on the heap, whatever the collector freed meanwhile.
 */
async function allocationCheck(variant: AllocationVariant, events: number): Promise<EventLogOutcome> {
  const gc = exposeGc();
  const clock = variant === 'emitRecord-counter' ? 'counter' : 'hrtime';
  let loop: (seq: number, n: number) => number;
  let verify: (written: number) => string;
  if (variant === 'ring-hrtime') {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: PAGES_PER_CPU, pageBytes: PAGE_BYTES, mode: 'overwrite', clock });
    loop = ringLoop(rb.writer(0), HAND_TYPE);
    verify = (n) => verifyHandWritten(rb, HAND_TYPE, n);
  } else {
    const log = createLog(clock);
    loop = logLoop(variant === 'emit-hrtime' ? 'emit' : 'emitRecord', log.writer());
    verify = (n) => verifyLog(log, n);
  }
  let dropped = loop(0, ALLOCATION_WARMUP_EVENTS);
  const used = (): number => v8.getHeapStatistics().used_heap_size;
  const collect = (): number => {
    gc?.();
    gc?.();
    return used();
  };
  const before = collect();
  const profiler = new v8.GCProfiler();
  profiler.start();
  const t0 = process.hrtime.bigint();
  dropped += loop(ALLOCATION_WARMUP_EVENTS, events);
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  const end = used();
  const collections = profiler.stop()?.statistics ?? [];
  const retainedBytes = collect() - before;
  let allocatedBytes = 0;
  let last = before;
  let minorGcs = 0;
  for (const c of collections) {
    allocatedBytes += Math.max(0, c.beforeGC.heapStatistics.usedHeapSize - last);
    last = c.afterGC.heapStatistics.usedHeapSize;
    if (c.gcType === 'Scavenge' || c.gcType.startsWith('Minor')) minorGcs++;
  }
  allocatedBytes += Math.max(0, end - last);
  let verified = '';
  let verifyError = dropped === 0 ? '' : `${dropped} writes returned false`;
  if (verifyError === '') {
    try {
      verified = verify(ALLOCATION_WARMUP_EVENTS + events);
    } catch (err) {
      if (!(err instanceof BenchVerifyError)) throw err;
      verifyError = err.message;
    }
  }
  return {
    kind: 'eventlog-allocation',
    gcAvailable: gc !== null,
    figures: {
      variant,
      description: ALLOCATION_VARIANTS[variant],
      clock,
      events,
      nsPerEvent: elapsedNs / events,
      minorGcs,
      majorGcs: collections.length - minorGcs,
      allocatedBytes,
      bytesPerEvent: allocatedBytes / events,
      retainedBytes,
      verified,
      verifyError,
    },
  };
}
