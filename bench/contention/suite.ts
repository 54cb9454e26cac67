import { availableParallelism } from 'node:os';
import { reconcile } from '../../src/check/stream-verifier.js';
import { BenchControl } from '../control.js';
import { type CaseResult, type Suite, benchCase } from '../registry.js';
import { WorkerFile, runWorkers } from '../spawn.js';
import { median, percentile } from '../stats.js';
import { type TargetResult, judge } from '../targets.js';
import { DESIGN_NAMES, type DesignGeometry, type DesignName, type LostByCause } from './design.js';
import { DESIGNS } from './designs.js';
import type { ContentionOutcome, ContentionReaderOutcome, ContentionStart, ContentionWriterOutcome } from './protocol.js';

/**
 * `ringtrace bench contention`: the four designs side by side, as writers are added,
 * with and without simulated NMIs, a reader thread consuming throughout.
 *
 *   writer 0 ──write()──┐
 *   writer 1 ──write()──┼──> design's buffer(s) ──> reader thread: read(), every event
 *   ...                 │    (same bytes per writer)   checked as it arrives (StreamVerifier)
 *   writer n-1 ─write()─┘
 *      └─ NMI mode: a nested write from the interrupt hook, at nmiPerSecond per writer
 *
 * Each cell gets fresh memory and fresh workers; writers run for `cellMs` of their own
 * clock; the figures are stored events over the span from the first writer's start to the
 * last one's end. After timing, the reader's verifier, the writers' own counts and the
 * design's counters are reconciled (exact accounting, per-writer order, intact payloads).
 */

export const DEFAULT_WRITERS: readonly number[] = [1, 2, 3, 4, 6, 8];
/** `--quick`: the sweep's first two steps only. */
export const QUICK_WRITERS: readonly number[] = [1, 2];
export const DEFAULT_NMI_PER_SECOND = 10_000;
export const DEFAULT_CELL_MS = 300;
export const QUICK_CELL_MS = 100;
/**
 * Every design gets these bytes per writer: 4,096 pages of 4 KiB (16 MiB, ringtrace's most
 * pages per CPU). The reader checks every event and, on 2 cores shared with the writers,
 * cannot keep up with several of them; buffers this deep let it lag for a whole cell and
 * catch up afterwards, so the figures measure the writers (with the reader competing for
 * the cores and the memory) rather than the reader's speed. What still overflows is
 * counted as "full".
 */
export const GEOMETRY: DesignGeometry = { pagesPerWriter: 4096, pageBytes: 4096 };
/** One write in this many is timed (drawn at random). */
export const SAMPLE_ONE_IN = 64;

export interface ContentionOptions {
  readonly writers: readonly number[];
  /** Simulated NMIs per second per writer in the NMI cells; 0 runs only the cells without. */
  readonly nmiPerSecond: number;
  readonly cellMs: number;
  readonly designs?: readonly DesignName[];
}

export interface ContentionResult extends CaseResult {
  readonly design: DesignName;
  readonly writers: number;
  /** Simulated NMIs per second per writer (0: none). */
  readonly nmiRate: number;
  /** Stored events per second, all writers together. */
  readonly eventsPerSec: number;
  /** eventsPerSec / writers. */
  readonly perWriterEventsPerSec: number;
  /** Each writer's own stored events over its own span. */
  readonly writerEventsPerSec: number[];
  /**
   * Stored events per second of the writers' own time on a CPU (schedstat): what a write
   * costs, contention included (spinning and cache-line transfers are on-CPU time; sleeping
   * in the lock is not), whatever share of the cores other processes took. NaN: unknown.
   */
  readonly eventsPerCpuSec: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly p999Ns: number;
  readonly latencySamples: number;
  readonly lost: LostByCause;
  /** Write attempts (stored + lost), NMIs injected, events the reader delivered. */
  readonly attempts: number;
  readonly nmis: number;
  readonly read: number;
  readonly verified: boolean;
  /** More busy threads (writers + the reader) than cores. */
  readonly oversubscribed: boolean;
  /** performance.now() cost in the writers, ns (median): what each timed write pays twice. */
  readonly clockReadNs: number;
  readonly check: string;
}

interface Cell {
  readonly memory: SharedArrayBuffer;
  readonly control: BenchControl;
}

function cellCase(design: DesignName, writers: number, nmiPerSecond: number, cellMs: number, seed: number) {
  const name = `${design} ${writers}w${nmiPerSecond > 0 ? ` nmi ${nmiPerSecond}/s` : ''}`;
  return benchCase<Cell, ContentionOutcome[], ContentionResult>({
    name,
    topology: `${writers} writer thread(s) -> ${design} -> 1 reader thread${nmiPerSecond > 0 ? `; NMIs ${nmiPerSecond}/s per writer` : ''}`,
    setup: () => {
      const memory = DESIGNS[design].create(writers, GEOMETRY);
      prefault(memory);
      return { memory, control: new BenchControl() };
    },
    run: ({ memory, control }) => {
      const specs: { file: typeof WorkerFile.contention; start: ContentionStart }[] = [];
      for (let index = 0; index < writers; index++) {
        specs.push({
          file: WorkerFile.contention,
          start: { kind: 'contention-writer', design, memory, control: control.sab, index, durationMs: cellMs, nmiPerSecond, seed: seed + index, sampleOneIn: SAMPLE_ONE_IN },
        });
      }
      specs.push({ file: WorkerFile.contention, start: { kind: 'contention-reader', design, memory, control: control.sab, writers } });
      return runWorkers<ContentionStart, ContentionOutcome>(specs, control);
    },
    verify: ({ memory }, outcomes) => verifyCell(name, design, writers, nmiPerSecond, memory, outcomes),
  });
}

/** Touches every 4 KiB of the memory (a load and the same value stored) so no page fault lands in a timed write. */
function prefault(memory: SharedArrayBuffer): void {
  const i32 = new Int32Array(memory);
  for (let w = 0; w < i32.length; w += 1024) i32[w] = i32[w]!;
}

function verifyCell(
  name: string,
  design: DesignName,
  writers: number,
  nmiPerSecond: number,
  memory: SharedArrayBuffer,
  outcomes: readonly ContentionOutcome[],
): ContentionResult {
  const ws = outcomes.filter((o): o is ContentionWriterOutcome => o.kind === 'contention-writer');
  const reader = outcomes.find((o): o is ContentionReaderOutcome => o.kind === 'contention-reader');
  if (ws.length !== writers || reader === undefined) throw new Error(`${name}: ${ws.length} writer outcomes and ${reader === undefined ? 'no' : 'a'} reader outcome`);
  const { stats, lost } = DESIGNS[design].stats(memory, reader.summary.read);
  const rec = reconcile(reader.summary, ws.map((w) => w.counts), stats);
  const stored = ws.reduce((n, w) => n + w.counts.stored.reduce((a, b) => a + b, 0), 0);
  const attempts = ws.reduce((n, w) => n + w.counts.attempts.reduce((a, b) => a + b, 0), 0);
  const first = ws.reduce((a, w) => (w.startNs < a ? w.startNs : a), ws[0]!.startNs);
  const last = ws.reduce((a, w) => (w.endNs > a ? w.endNs : a), ws[0]!.endNs);
  const eventsPerSec = stored / (Number(last - first) / 1e9);
  const samples = new Float64Array(ws.reduce((n, w) => n + w.samples, 0));
  let at = 0;
  for (const w of ws) {
    samples.set(w.latencyNs.subarray(0, w.samples), at);
    at += w.samples;
  }
  samples.sort();
  const sorted = Array.from(samples);
  const read = reader.summary.read.reduce((a, b) => a + b, 0);
  const problems: string[] = [...rec.failureLog];
  if (rec.unaccounted !== 0) problems.push(`${rec.unaccounted} events unaccounted for`);
  if (lost.timeout !== 0) problems.push(`${lost.timeout} writes gave up on a lock or a reservation loop`);
  if (lost.other !== 0) problems.push(`${lost.other} events lost to commit overrun or damage`);
  if (read + lost.full + lost.nmiLock + lost.timeout + lost.other !== attempts) {
    problems.push(`read ${read} + lost ${lost.full + lost.nmiLock + lost.timeout + lost.other} != ${attempts} attempts`);
  }
  const verified = rec.failures === 0 && rec.corruptReports === 0 && problems.length === 0;
  return {
    name,
    topology: `${writers} writer thread(s) -> ${design} -> 1 reader thread`,
    design,
    writers,
    nmiRate: nmiPerSecond,
    eventsPerSec,
    perWriterEventsPerSec: eventsPerSec / writers,
    writerEventsPerSec: ws.map((w) => (w.counts.stored[0]! + w.counts.stored[1]!) / (Number(w.endNs - w.startNs) / 1e9)),
    eventsPerCpuSec: stored / (ws.reduce((n, w) => n + w.onCpuNs, 0) / 1e9),
    p50Ns: percentile(sorted, 50),
    p99Ns: percentile(sorted, 99),
    p999Ns: percentile(sorted, 99.9),
    latencySamples: sorted.length,
    lost,
    attempts,
    nmis: ws.reduce((n, w) => n + w.counts.nmis, 0),
    read,
    verified,
    ...(verified ? {} : { verifyError: problems[0] ?? `${rec.failures} failed checks, ${rec.corruptReports} corruption reports` }),
    oversubscribed: writers + 1 > availableParallelism(),
    clockReadNs: median(ws.map((w) => w.clockReadNs)),
    check:
      'every event read checked as it arrived (payload words agree, per-writer seqs increase, timestamps never go back); ' +
      'writers\' attempts == read + lost by cause, per writer; seqs missing == losses reported',
  };
}

export function contentionSuite(options: ContentionOptions): Suite<ContentionResult> {
  const designs = options.designs ?? DESIGN_NAMES;
  const rates = options.nmiPerSecond > 0 ? [0, options.nmiPerSecond] : [0];
  const cases = [];
  let seed = 1;
  for (const nmi of rates) {
    for (const writers of options.writers) {
      for (const design of designs) {
        cases.push(cellCase(design, writers, nmi, options.cellMs, (seed += 100)));
      }
    }
  }
  return {
    name: 'contention',
    cases,
    targets: contentionTargets,
    columns: [
      { header: 'design', cell: (r) => r.design },
      { header: 'writers', cell: (r) => `${r.writers}${r.oversubscribed ? '*' : ''}` },
      { header: 'NMI/s', cell: (r) => String(r.nmiRate) },
      { header: 'M ev/s', cell: (r) => (r.eventsPerSec / 1e6).toFixed(2) },
      { header: 'per writer', cell: (r) => (r.perWriterEventsPerSec / 1e6).toFixed(2) },
      { header: 'M ev/CPU-s', cell: (r) => (r.eventsPerCpuSec / 1e6).toFixed(2) },
      { header: 'p50 ns', cell: (r) => r.p50Ns.toFixed(0) },
      { header: 'p99 ns', cell: (r) => r.p99Ns.toFixed(0) },
      { header: 'p99.9 ns', cell: (r) => r.p999Ns.toFixed(0) },
      { header: 'lost full', cell: (r) => String(r.lost.full) },
      { header: 'lost NMI-lock', cell: (r) => String(r.lost.nmiLock) },
      { header: 'NMIs', cell: (r) => String(r.nmis) },
      { header: 'load', cell: (r) => (r.otherLoadCores === undefined ? '' : r.otherLoadCores.toFixed(2)) },
    ],
    notes: (results) => {
      const clock = median(results.map((r) => r.clockReadNs));
      return [
        `* more busy threads (writers + the reader) than the ${availableParallelism()} cores.`,
        `Latency: one write in ${SAMPLE_ONE_IN} (at random) is timed with performance.now() before and after; one read costs ` +
          `${clock.toFixed(1)} ns here, so a timed write carries about that much of the clock in its figure, and sampling adds ` +
          `about ${((2 * clock) / SAMPLE_ONE_IN).toFixed(1)} ns to the average write.`,
        'M ev/s counts stored events; "lost full" are events dropped because the reader had not freed room (discard mode); ' +
          '"lost NMI-lock" are nested writes that found their own thread holding the lock.',
        'M ev/CPU-s: stored events per second of the writer threads\' own time on a CPU (schedstat): the cost of a write, ' +
          'contention included (spinning, cache-line transfers), whatever share of the cores other processes took; time asleep waiting for a lock is not in it.',
        `load: cores other processes kept busy during the cell.`,
      ];
    },
  };
}

function contentionTargets(results: readonly ContentionResult[]): TargetResult[] {
  const at = (design: DesignName): ContentionResult | undefined => results.find((r) => r.design === design && r.writers === 2 && r.nmiRate === 0);
  const percpu = at('percpu');
  const targets: Omit<TargetResult, 'met'>[] = [];
  for (const [other, required] of [
    ['shared', 1.5],
    ['locked', 2],
  ] as const) {
    const o = at(other);
    if (percpu === undefined || o === undefined) continue;
    targets.push({
      name: `percpu-vs-${other}-2-writers`,
      description: `with 2 writers and no NMIs, percpu >= ${required}x ${other} (aggregate, same run)`,
      measured: percpu.eventsPerSec / o.eventsPerSec,
      required,
      comparison: '>=',
      unit: 'x',
      detail: `${(percpu.eventsPerSec / 1e6).toFixed(2)} / ${(o.eventsPerSec / 1e6).toFixed(2)} M events/s`,
    });
    // The same ratio per second of the writers' own CPU time: what it is when other
    // processes take an unknown share of the cores (shown beside the aggregate, same bound).
    targets.push({
      name: `percpu-vs-${other}-2-writers-on-cpu`,
      description: `with 2 writers and no NMIs, percpu >= ${required}x ${other} per second of writer CPU time (same run)`,
      measured: percpu.eventsPerCpuSec / o.eventsPerCpuSec,
      required,
      comparison: '>=',
      unit: 'x',
      detail: `${(percpu.eventsPerCpuSec / 1e6).toFixed(2)} / ${(o.eventsPerCpuSec / 1e6).toFixed(2)} M events per CPU-second`,
    });
  }
  return judge(targets);
}
