import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DrainThread, type DrainSink } from '../../src/log/drain-thread.js';
import { EventLog, logEntryOf } from '../../src/log/event-log.js';
import { TraceFileReader } from '../../src/trace/trace-reader.js';
import { PageDrain } from '../../src/trace/page-drain.js';
import { TraceFileWriter } from '../../src/trace/trace-file.js';
import { schemaToJson } from '../../src/log/event-schema.js';
import { compiledWorkerPath } from '../../src/worker-path.js';
import { DrainSeq, GO, READY, STOP, type DrainWriterResult, type DrainWriterStart } from './drain-writer.js';

/**
 * The drain benchmarks: 1 or 2 writer threads emit with `emitRecord` as fast as they can
 * for a fixed time into a discard-mode EventLog while a DrainThread writes the sink; the
 * figure is the events that reached the sink per second (from go until `close()` has
 * written the last one), with what the writers tried and what was dropped beside it.
 *
 * ```
 *   writer 1 --emitRecord--> slot 0 --+
 *                                     +--> drain thread --pages--> trace file (binary)
 *   writer 2 --emitRecord--> slot 1 --+                  --JSON--> file (jsonl)
 * ```
 *
 * After timing, the file is read back: every writer's events in order with no gap but the
 * drops, and the drops announced in the file equal what the writers were refused.
 */
export interface DrainBenchResult {
  readonly name: 'drain-binary-1w' | 'drain-binary-2w' | 'drain-jsonl-1w' | 'drain-binary-capacity';
  readonly topology: string;
  /** Events written to the sink per second. */
  readonly eventsPerSec: number;
  /** Events the writers tried to emit. */
  readonly emitted: number;
  /** Events the writers stored (the rest were dropped: the ring was full). */
  readonly stored: number;
  /** Events lost: dropped at the writers (discard mode), announced in the sink. */
  readonly lost: number;
  /** lost / emitted. */
  readonly lossRate: number;
  /** Busy threads: the writers and the drain thread. */
  readonly threads: number;
  readonly fileBytes: number;
  readonly verified: boolean;
  readonly check: string;
  readonly verifyError?: string;
}

const SPECS = [
  { name: 'drain-binary-1w', writers: 1, sink: 'binary' },
  { name: 'drain-binary-2w', writers: 2, sink: 'binary' },
  { name: 'drain-jsonl-1w', writers: 1, sink: 'jsonl' },
] as const;

export async function runDrainBenchmarks(durationMs: number, progress: (line: string) => void): Promise<DrainBenchResult[]> {
  const out: DrainBenchResult[] = [];
  for (const spec of SPECS) {
    progress(`${spec.name} ...`);
    out.push(await runOne(spec.name, spec.writers, spec.sink, durationMs));
  }
  progress('drain-binary-capacity ...');
  out.push(capacity());
  return out;
}

/**
 * drain-binary-capacity: what the drain path itself can take, with nothing competing for
 * the core. One thread fills a 4 MiB slot until it is full, then one `PageDrain.pass()`
 * copies it to the file (and the file is written); 20 rounds; the figure is the events
 * copied per second of drain time. The file is checked as the other drain benchmarks'.
 */
function capacity(): DrainBenchResult {
  const path = join(tmpdir(), `ringtrace-bench-${process.pid}-capacity.rtlog`);
  const log = EventLog.create({ slots: 1, pagesPerSlot: 512, pageBytes: 8192, mode: 'discard' });
  try {
    const w = log.writer();
    const rec = w.record(DrainSeq);
    rec.writer = 0;
    rec.path = '/items/42?page=7';
    const drain = new PageDrain(log.ring, log.ring.reader(), TraceFileWriter.open(path, { flags: 'w' }), { bench: 'drain-binary-capacity' });
    drain.file.schema(log.registry.typeOf(DrainSeq), JSON.stringify(schemaToJson(DrainSeq)));
    let seq = 0;
    let stored = 0;
    let ms = 0;
    for (let round = 0; round < 20; round++) {
      for (;;) {
        rec.seq = seq++;
        if (!w.emitRecord(DrainSeq, rec)) break;
        stored++;
      }
      const t0 = performance.now();
      drain.pass();
      drain.file.flush();
      ms += performance.now() - t0;
    }
    drain.finish();
    drain.file.close();
    const check = verify(path, 'binary', [{ emitted: seq, stored }]);
    return {
      name: 'drain-binary-capacity',
      topology: '1 thread: fill a slot of 512 x 8 KiB pages until full, then one PageDrain.pass() to a binary log and its write; 20 rounds; drain time only',
      eventsPerSec: (drain.events / ms) * 1000,
      emitted: seq,
      stored,
      lost: seq - stored,
      lossRate: (seq - stored) / seq,
      threads: 1,
      fileBytes: drain.file.written,
      verified: check.error === '',
      check: `${check.what} (the one refusal per round that ends it is counted)`,
      ...(check.error === '' ? {} : { verifyError: check.error }),
    };
  } finally {
    rmSync(path, { force: true });
    void log.close();
  }
}

async function runOne(name: DrainBenchResult['name'], writers: number, kind: 'binary' | 'jsonl', durationMs: number): Promise<DrainBenchResult> {
  const path = join(tmpdir(), `ringtrace-bench-${process.pid}-${name}.${kind === 'binary' ? 'rtlog' : 'jsonl'}`);
  rmSync(path, { force: true });
  // 4 MiB per writer: a few ms of full-speed writing for the drain to be late by.
  const log = EventLog.create({ slots: writers, pagesPerSlot: 512, pageBytes: 8192, mode: 'discard' });
  const sink: DrainSink = kind === 'binary' ? { kind, path, flags: 'w' } : { kind, path };
  const drain = await DrainThread.start(log, { sink });
  const control = new SharedArrayBuffer(12);
  const ctl = new Int32Array(control);
  const threads = Array.from({ length: writers }, (_, writer) => {
    const start: DrainWriterStart = { kind: 'drain-writer', log: log.handle, control, writer };
    return new Worker(compiledWorkerPath('bench-drain-writer'), { workerData: start, execArgv: [] });
  });
  try {
    const results = threads.map(
      (w) =>
        new Promise<DrainWriterResult>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`${name}: a writer exited (${code}) before reporting`)));
        }),
    );
    // Every writer attached, its slot claimed, parked on the go word.
    for (const deadline = performance.now() + 60_000; Atomics.load(ctl, READY) < writers; ) {
      if (performance.now() > deadline) throw new Error(`${name}: the writers were not ready within 60 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = performance.now();
    Atomics.store(ctl, GO, 1);
    Atomics.notify(ctl, GO);
    await new Promise((r) => setTimeout(r, durationMs));
    Atomics.store(ctl, STOP, 1);
    const done = await Promise.all(results);
    const totals = await drain.close();
    const seconds = (performance.now() - t0) / 1000;
    const emitted = done.reduce((n, r) => n + r.emitted, 0);
    const stored = done.reduce((n, r) => n + r.stored, 0);
    const check = verify(path, kind, done);
    return {
      name,
      topology: `${writers} writer thread(s) emitRecord as fast as they can for ${durationMs} ms; EventLog of ${writers} slot(s) x 512 x 8 KiB pages, discard; DrainThread to ${kind === 'binary' ? 'a binary log (pages copied)' : 'JSON lines (decoded and formatted in the drain thread)'}`,
      eventsPerSec: totals.events / seconds,
      emitted,
      stored,
      lost: emitted - stored,
      lossRate: (emitted - stored) / emitted,
      threads: writers + 1,
      fileBytes: totals.bytes,
      verified: check.error === '',
      check: check.what,
      ...(check.error === '' ? {} : { verifyError: check.error }),
    };
  } finally {
    await Promise.all(threads.map((w) => w.terminate()));
    await drain.close().catch(() => undefined);
    await log.close();
    rmSync(path, { force: true });
  }
}

/** Every writer's stored events, in order, each once; the drops announced equal the refusals. */
function verify(path: string, kind: 'binary' | 'jsonl', done: readonly DrainWriterResult[]): { what: string; error: string } {
  const next = done.map(() => -1);
  const count = done.map(() => 0);
  let dropped = 0;
  let error = '';
  const seen = (writer: number, seq: number): void => {
    if (error !== '') return;
    if (!(seq > next[writer]!)) error = `writer ${writer}: seq ${seq} after ${next[writer]}`;
    next[writer] = seq;
    count[writer]!++;
  };
  if (kind === 'binary') {
    const reader = TraceFileReader.open(path);
    const flags = { truncated: false };
    reader.read({
      event: (v) => {
        const e = logEntryOf(DrainSeq, undefined, v.type, v.cpu, v.index, v.timestamp, v.u8, v.offset, v.length, flags);
        if (e.kind === 'event') seen(e.values['writer'] as number, e.values['seq'] as number);
        else error ||= `event ${v.index} of slot ${v.cpu} does not decode`;
      },
      lost: (l) => {
        if (l.cause === 'dropped') dropped += l.count;
        else error ||= `${l.count} events lost (${l.cause})`;
      },
      corrupt: (r) => (error ||= `damage: ${r.reason}`),
    });
  } else {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line === '') continue;
      const e = JSON.parse(line) as { event?: string; writer?: number; seq?: number; lost?: number; cause?: string };
      if (e.event === 'drain_seq' && e.writer !== undefined && e.seq !== undefined) seen(e.writer, e.seq);
      else if (e.lost !== undefined && e.cause === 'dropped') dropped += e.lost;
      else error ||= `unexpected line ${line.slice(0, 80)}`;
    }
  }
  done.forEach((r, w) => {
    if (error === '' && count[w] !== r.stored) error = `writer ${w}: ${count[w]} events in the file, ${r.stored} stored`;
  });
  const refused = done.reduce((n, r) => n + r.emitted - r.stored, 0);
  if (error === '' && dropped !== refused) error = `${dropped} drops announced, ${refused} refused`;
  return { what: 'every stored event in the file once, in each writer\'s order; announced drops == refusals', error };
}
