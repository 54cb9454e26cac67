import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { RingBuffer } from '../../src/ring/ring-buffer.js';
import { HrtimeClock, createClock, hrtimeOriginNs } from '../../src/ring/clock.js';
import type { CpuWriter } from '../../src/ring/writer.js';
import type { ClockName } from '../../src/ring/layout.js';
import { pinoDevNullBench } from '../pino.js';
import { type SingleBench, exposeGc, measureSingle } from '../single.js';
import { PAGES_PER_CPU, PAGE_BYTES } from './config.js';
import { CeilingStores } from './ceiling.js';
import { EVENT_TYPE, payloadMismatch, word1, word2, word3 } from './payload.js';
import type { BenchStart, SingleBenchName, SingleOutcome } from './protocol.js';
import { BenchVerifyError, verifyRetained } from './verify.js';

/**
 * The single-thread benchmarks of the ring suite. Each runs alone in a fresh worker (its
 * own V8 isolate), timed as bench/single.ts times every suite's single-thread benchmarks.
 */

type SingleStart = Extract<BenchStart, { kind: 'single' }>;

/** Builds the benchmark's memory and code (the worker then says ready) and returns how to run it. */
export async function prepareSingle(start: SingleStart): Promise<() => Promise<SingleOutcome>> {
  if (start.bench === 'heap-growth-10M-writes') return () => Promise.resolve(heapGrowth(start.heapWrites));
  const bench = await makeBench(start.bench);
  return () => measure(start, bench);
}

async function makeBench(name: Exclude<SingleBenchName, 'heap-growth-10M-writes'>): Promise<SingleBench> {
  switch (name) {
    case 'ceiling-raw-stores':
      return ceilingRawStores();
    case 'clock-hrtime':
      return clockHrtime();
    case 'writer-counter':
      return writerBench('counter', 'none');
    case 'writer-hrtime':
      return writerBench('hrtime', 'none');
    case 'writer-counter-hook-noop':
      return writerBench('counter', 'noop');
    case 'writer-counter-hookless':
      return writerBench('counter', 'stripped');
    case 'pino-devnull':
      return pinoDevNull();
  }
}

async function measure(start: SingleStart, bench: SingleBench): Promise<SingleOutcome> {
  return { kind: 'single', ...(await measureSingle(start.bench, start, bench)) };
}

/*
 * ceiling-raw-stores: the limit, the same 24 bytes per event with no protocol.
 *
 *   one thread:  ticket = Atomics.add(counter, 1)          counter alone on its line
 *                6 plain Int32Array stores ----------------> 256 KiB SAB, records back to back,
 *                [header | ticket | w0 w1 w2 w3]             wrapping at the end
 */
function ceilingRawStores(): SingleBench {
  const ceiling = new CeilingStores();
  return {
    eventsPerBatch: 1 << 16,
    batch: (n) => ceiling.write(n),
    verify: () => ceiling.verify(),
  };
}

/*
 * clock-hrtime: one read of the ring's hrtime clock, alone.
 *
 *   one thread:  HrtimeClock.now() = round(performance.now() * 1e6 + offset)   (ns since the ring's origin)
 */
function clockHrtime(): SingleBench {
  const origin = hrtimeOriginNs();
  const clock = new HrtimeClock(origin);
  let sink = 0;
  return {
    eventsPerBatch: 1 << 14,
    batch(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += clock.now();
      sink += s;
    },
    verify() {
      if (!(sink > 0)) throw new BenchVerifyError(`clock readings summed to ${sink}`);
      let prev = clock.now();
      for (let i = 0; i < 100_000; i++) {
        const t = clock.now();
        if (t < prev) throw new BenchVerifyError(`clock went back from ${prev} to ${t}`);
        prev = t;
      }
      const skew = Math.abs(clock.now() - (Number(process.hrtime.bigint()) - origin));
      if (skew > 1e6) throw new BenchVerifyError(`clock is ${skew} ns away from process.hrtime`);
      return `100,000 further readings never decrease; within ${Math.round(skew)} ns of process.hrtime.bigint() (calibration error ${clock.calibrationErrorNs} ns)`;
    },
  };
}

type HookChoice = 'none' | 'noop' | 'stripped';

/*
 * writer-counter / writer-hrtime / writer-counter-hook-noop / writer-counter-hookless:
 * the real writer, one thread, no reader.
 *
 *   one thread:  write(type, w0..w3) --> CpuWriter(cpu 0) --> ring of 64 x 4 KiB pages, overwrite
 *                       |                                      (a page switch every 168 events; after
 *                       +-- clock: counter (Atomics.add          the first lap each switch overruns
 *                           on the global ticket line)           the oldest page)
 *                           or hrtime (performance.now)
 *   hook: none (production: `hook === null`), a no-op closure, or the hook branches
 *   stripped from the compiled writer (a baseline for what `hook === null` costs).
 */
async function writerBench(clock: ClockName, hook: HookChoice): Promise<SingleBench> {
  const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: PAGES_PER_CPU, pageBytes: PAGE_BYTES, mode: 'overwrite', clock });
  let writer: CpuWriter;
  let notes: string | undefined;
  if (hook === 'stripped') {
    const stripped = await loadHooklessWriter();
    writer = new stripped.module.CpuWriter(rb.view, 0, createClock(clock, rb.view.i32, rb.view.f64), () => {});
    notes = `writer.ts as compiled, with its ${stripped.removed} \`if (hook !== null) hook(...)\` statements removed at load time; not a production path, only the baseline for the cost of the hook checks`;
  } else {
    writer = rb.writer(0, hook === 'noop' ? { hook: () => {} } : {});
    if (hook === 'noop') notes = 'hook = () => {}: called at 5 points per event (entered, clockRead, reserved, filled, committed)';
  }
  let seq = 0;
  let dropped = 0;
  return {
    eventsPerBatch: 1 << 14,
    batch(n) {
      const w = writer;
      const end = seq + n;
      for (let s = seq; s < end; s++) {
        if (!w.write(EVENT_TYPE, s, word1(s), word2(s), word3(s))) dropped++;
      }
      seq = end;
    },
    verify() {
      if (dropped !== 0) throw new BenchVerifyError(`${dropped} writes returned false`);
      return verifyRetained(rb, seq);
    },
    ...(notes === undefined ? {} : { notes }),
  };
}

interface HooklessWriter {
  readonly module: typeof import('../../src/ring/writer.js');
  readonly removed: number;
}

/**
 * Loads a copy of the compiled writer with every hook statement removed: the same code
 * minus `if (hook !== null) hook(HookPoint.x);`, to measure what those checks cost when
 * `hook` is null. Fails loudly if the compiled code no longer has the expected shape.
 */
async function loadHooklessWriter(): Promise<HooklessWriter> {
  const ringDir = new URL('../../src/ring/', import.meta.url);
  const source = readFileSync(new URL('writer.js', ringDir), 'utf8');
  const calls = source.match(/\bhook\(HookPoint\.\w+\)/g)?.length ?? 0;
  let removed = 0;
  const stripped = source
    .replace(/if \(hook !== null\)\s*hook\(HookPoint\.\w+\);/g, () => {
      removed++;
      return '';
    })
    .replace(/from '(\.\.?\/[^']+)'/g, (_m, specifier: string) => `from '${new URL(specifier, ringDir).href}'`)
    .replace(/^\/\/# sourceMappingURL=.*$/m, '');
  if (calls === 0 || removed !== calls) {
    throw new Error(`writer.js no longer has the expected hook statements (${removed} of ${calls} removed); update loadHooklessWriter`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'ringtrace-bench-'));
  try {
    const file = join(dir, 'writer-hookless.mjs');
    writeFileSync(file, stripped);
    const module = (await import(pathToFileURL(file).href)) as typeof import('../../src/ring/writer.js');
    return { module, removed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/* pino-devnull: what a Node user would reach for (bench/pino.ts), with the ring's payload. */
function pinoDevNull(): Promise<SingleBench> {
  return pinoDevNullBench({
    fields: (s) => ({ type: EVENT_TYPE, w0: s, w1: word1(s), w2: word2(s), w3: word3(s) }),
    mismatch: (s, o) => (o.type !== EVENT_TYPE ? `type ${String(o.type)}` : payloadMismatch(s, Number(o.w0), Number(o.w1), Number(o.w2), Number(o.w3))),
    notes: "pino(pino.destination({ dest: '/dev/null', sync: true })), logger.info({ type, w0, w1, w2, w3 })",
  });
}

/*
 * heap-growth-10M-writes: does the write path allocate?
 *
 *   one thread:  1 M warm-up writes, full GC, heap used --> 10 M x write() --> full GC, heap used
 *                CpuWriter(cpu 0, hrtime clock, overwrite), 64 x 4 KiB pages
 *
 * Heap used is this worker's isolate (v8.getHeapStatistics().used_heap_size), after
 * two full collections. The GC is reached without the --expose-gc command-line flag:
 * v8.setFlagsFromString('--expose-gc') and then `gc` from a fresh vm context.
 */
function heapGrowth(writes: number): SingleOutcome {
  const gc = exposeGc();
  const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: PAGES_PER_CPU, pageBytes: PAGE_BYTES, mode: 'overwrite', clock: 'hrtime' });
  const writer = rb.writer(0);
  let seq = 0;
  let dropped = 0;
  const run = (n: number): void => {
    const end = seq + n;
    for (let s = seq; s < end; s++) if (!writer.write(EVENT_TYPE, s, word1(s), word2(s), word3(s))) dropped++;
    seq = end;
  };
  run(1_000_000);
  const collect = (): number => {
    gc?.();
    gc?.();
    return v8.getHeapStatistics().used_heap_size;
  };
  const before = collect();
  const t0 = process.hrtime.bigint();
  run(writes);
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  const after = collect();
  let verified = '';
  let verifyError = dropped === 0 ? '' : `${dropped} writes returned false`;
  if (verifyError === '') {
    try {
      verified = verifyRetained(rb, seq);
    } catch (err) {
      if (!(err instanceof BenchVerifyError)) throw err;
      verifyError = err.message;
    }
  }
  return {
    kind: 'single',
    nsPerEvent: elapsedNs / writes,
    meanNsPerEvent: elapsedNs / writes,
    rmePercent: 0,
    samples: 1,
    eventsPerBatch: writes,
    events: seq,
    verified,
    verifyError,
    heapGrowthBytes: after - before,
    notes:
      gc === null
        ? 'no GC function available: heap used measured without collecting first (an upper bound)'
        : `heap used after 2 full GCs: ${before} bytes before, ${after} after (gc via v8.setFlagsFromString('--expose-gc'), no command-line flag)`,
  };
}
