import { readFileSync } from 'node:fs';
import { payloadHash, streamTag } from '../../src/check/stream-payload.js';
import { StreamVerifier } from '../../src/check/stream-verifier.js';
import { HOOK_POINT_COUNT, type HookPoint } from '../../src/ring/interrupt.js';
import { prng } from '../../src/prng.js';
import { BenchControl, PEER_TIMEOUT_MS } from '../control.js';
import type { ContentionWriter, Design } from './design.js';
import { designNamed } from './designs.js';
import { CONTENTION_FORMAT, type ContentionReaderOutcome, type ContentionStart, type ContentionWriterOutcome } from './protocol.js';

/**
 * The loops the contention suite's workers run (workers/bench-contention-*.ts are their
 * entries). Each `prepare*` warms its code up on private memory, then returns the
 * measured run, which waits for go.
 */

/** Writes between two looks at the clock (stop time, NMI pacing). */
const BATCH = 256;
/** Latency samples a writer keeps at most. */
const MAX_SAMPLES = 1 << 18;
/** Events written (and read) on private memory before ready. */
const WARMUP_EVENTS = 100_000;
/** The reader's sleep when it found nothing committed, ms. */
const NAP_MS = 0.05;
/** Events the reader takes per read() call. */
const READ_BATCH = 4096;
const TYPE_WRITE = CONTENTION_FORMAT.typeBase;
const TYPE_NMI = CONTENTION_FORMAT.typeBase + 1;

type Start<K extends ContentionStart['kind']> = Extract<ContentionStart, { kind: K }>;

/**
 * One writer thread's work: stream 0 from the loop, stream 1 from a simulated NMI (a
 * nested write run from the interrupt hook, on the same thread, inside a write).
 */
export class WriterLoop {
  private readonly writer: ContentionWriter;
  private readonly index: number;
  private readonly tag0: number;
  private readonly tag1: number;
  private readonly rand: () => number;
  private readonly sampleOneIn: number;
  readonly latencyNs: Float64Array;
  samples = 0;
  seq0 = 0;
  seq1 = 0;
  stored0 = 0;
  stored1 = 0;
  nmis = 0;
  readonly nmisByPoint = new Array<number>(HOOK_POINT_COUNT).fill(0);
  private sampleIn: number;
  private xs: number;
  /** Hook calls left before the armed NMI fires; 0: none armed. */
  private countdown = 0;
  private hookCalls = 0;
  private readonly hook: (point: HookPoint) => void;

  constructor(writer: ContentionWriter, index: number, seed: number, sampleOneIn: number, maxSamples = MAX_SAMPLES) {
    this.writer = writer;
    this.index = index;
    this.tag0 = streamTag(index, 0);
    this.tag1 = streamTag(index, 1);
    this.rand = prng(seed);
    this.sampleOneIn = sampleOneIn;
    this.latencyNs = new Float64Array(maxSamples);
    this.xs = (seed ^ 0x2545f491) | 1;
    this.sampleIn = this.nextSample();
    this.hook = (point: HookPoint): void => {
      this.hookCalls++;
      if (this.countdown === 0 || --this.countdown !== 0) return;
      // The NMI: a whole write of stream 1, nested in the write at `point`. The
      // countdown is 0 now, so the nested write's own hook calls do not fire again.
      this.nmis++;
      this.nmisByPoint[point]!++;
      const s = this.seq1++;
      if (this.writer.write(TYPE_NMI, s, this.tag1, payloadHash(s, this.tag1), ~s)) this.stored1++;
    };
  }

  /** Installs the NMI hook (or none). */
  nmiMode(on: boolean): void {
    this.writer.hook = on ? this.hook : null;
  }

  /** A random gap to the next timed write, mean sampleOneIn (xorshift32: no allocation). */
  private nextSample(): number {
    let x = this.xs;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.xs = x;
    return 1 + ((x >>> 0) % (2 * this.sampleOneIn - 1));
  }

  /** Writes BATCH events of stream 0, timing the sampled ones. */
  batch(): void {
    const writer = this.writer;
    const tag = this.tag0;
    for (let i = 0; i < BATCH; i++) {
      const s = this.seq0++;
      const h = payloadHash(s, tag);
      let ok: boolean;
      if (--this.sampleIn === 0) {
        const t0 = performance.now();
        ok = writer.write(TYPE_WRITE, s, tag, h, ~s);
        const ns = (performance.now() - t0) * 1e6;
        if (this.samples < this.latencyNs.length) this.latencyNs[this.samples++] = ns;
        this.sampleIn = this.nextSample();
      } else {
        ok = writer.write(TYPE_WRITE, s, tag, h, ~s);
      }
      if (ok) this.stored0++;
    }
  }

  /**
   * Arms one NMI somewhere among the next batch's hook calls when the schedule is behind
   * `nmiPerSecond` (at most one per batch). Uniform over hook calls approximates an
   * interrupt uniform in time: each program point is hit in proportion to how often the
   * write path passes it, so the page-switch points are hit as rarely as they run.
   */
  pace(nmiPerSecond: number, elapsedMs: number, lastBatchHookCalls: number): void {
    if (nmiPerSecond <= 0 || this.countdown !== 0) return;
    if (this.nmis + 1 <= (nmiPerSecond * elapsedMs) / 1000) {
      this.countdown = 1 + Math.floor(this.rand() * Math.max(1, lastBatchHookCalls));
    }
  }

  /** Runs until `durationMs` has passed; returns when it stopped (hrtime ns). */
  run(durationMs: number, nmiPerSecond: number, control: BenchControl | null): { startNs: bigint; endNs: bigint } {
    this.nmiMode(nmiPerSecond > 0);
    const startNs = process.hrtime.bigint();
    const t0 = performance.now();
    let hooksBefore = 0;
    for (let batches = 0; ; batches++) {
      const elapsed = performance.now() - t0;
      if (elapsed >= durationMs) break;
      if ((batches & 63) === 0 && control !== null && control.aborted) throw new Error(`writer ${this.index}: a peer aborted the run`);
      this.pace(nmiPerSecond, elapsed, this.hookCalls - hooksBefore);
      hooksBefore = this.hookCalls;
      this.batch();
    }
    const endNs = process.hrtime.bigint();
    this.nmiMode(false);
    return { startNs, endNs };
  }
}

/**
 * Cost of one performance.now() in this thread, ns: the sampling's own price. The best of
 * several short runs, so a run the scheduler interrupted does not count.
 */
function clockReadNs(): number {
  const n = 2_000;
  let best = Infinity;
  let sink = 0;
  for (let run = 0; run < 25; run++) {
    const a = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += performance.now();
    best = Math.min(best, Number(process.hrtime.bigint() - a) / n);
  }
  if (sink === -1) throw new Error('unreachable');
  return best;
}

/** Runs the design's write and read paths (with and without the hook) on private memory. */
function warmUp(design: Design, nmi: boolean): void {
  const sab = design.create(1, { pagesPerWriter: 16, pageBytes: 4096 });
  const loop = new WriterLoop(design.writer(sab, 0), 0, 1, 64, 1024);
  const reader = design.reader(sab);
  const verifier = new StreamVerifier(1, CONTENTION_FORMAT);
  for (let written = 0; written < WARMUP_EVENTS; written += BATCH) {
    loop.nmiMode(nmi && (written & 1024) === 0);
    loop.pace(nmi ? 1e9 : 0, 1, BATCH * 5);
    loop.batch();
    reader.read(verifier, READ_BATCH);
  }
  loop.nmiMode(false);
}

/**
 * This thread's time on a CPU so far, ns (Linux /proc/thread-self/schedstat, the
 * scheduler's own accounting); NaN where there is no such file.
 */
function threadOnCpuNs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ', 1)[0]);
  } catch {
    return Number.NaN;
  }
}

export function prepareContentionWriter(start: Start<'contention-writer'>): () => Promise<ContentionWriterOutcome> {
  const control = new BenchControl(start.control);
  const design = designNamed(start.design);
  warmUp(design, start.nmiPerSecond > 0);
  const costNs = clockReadNs();
  const writer = design.writer(start.memory, start.index);
  const loop = new WriterLoop(writer, start.index, start.seed, start.sampleOneIn);
  return async () => {
    control.waitForGo();
    let span: { startNs: bigint; endNs: bigint };
    const cpuBefore = threadOnCpuNs();
    let onCpuNs = Number.NaN;
    try {
      span = loop.run(start.durationMs, start.nmiPerSecond, control);
      onCpuNs = threadOnCpuNs() - cpuBefore;
    } finally {
      writer.close();
      control.producerDone();
    }
    return {
      kind: 'contention-writer',
      index: start.index,
      ...span,
      counts: { cpu: start.index, attempts: [loop.seq0, loop.seq1], stored: [loop.stored0, loop.stored1], nmis: loop.nmis },
      latencyNs: loop.latencyNs.slice(0, loop.samples),
      samples: loop.samples,
      clockReadNs: costNs,
      onCpuNs,
      nmisByPoint: loop.nmisByPoint,
    };
  };
}

export function prepareContentionReader(start: Start<'contention-reader'>): () => Promise<ContentionReaderOutcome> {
  const control = new BenchControl(start.control);
  const design = designNamed(start.design);
  warmUp(design, false);
  const reader = design.reader(start.memory);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  return async () => {
    const verifier = new StreamVerifier(start.writers, CONTENTION_FORMAT);
    control.waitForGo();
    const deadline = Date.now() + PEER_TIMEOUT_MS;
    let events = 0;
    let naps = 0;
    for (let polls = 0; ; polls++) {
      const n = reader.read(verifier, READ_BATCH);
      if (n > 0) {
        events += n;
        continue;
      }
      // Pairs with each writer's Atomics.add in producerDone(), made after its close().
      if (control.producersDone >= start.writers) {
        events += reader.finish(verifier);
        break;
      }
      if (control.aborted) throw new Error('contention reader: a peer aborted the run');
      if (Date.now() > deadline) throw new Error(`contention reader: writers not done within ${PEER_TIMEOUT_MS} ms`);
      naps++;
      Atomics.wait(nap, 0, 0, NAP_MS);
    }
    return { kind: 'contention-reader', summary: verifier.summary(), events, naps };
  };
}
