import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { loadDevDependency } from '../dev-deps.js';

/**
 * The benchmarks' plots: a Vega-Lite spec per plot, built from a suite's report (the
 * object `--json` prints and bench/results/<suite>.json holds), rendered to SVG headless
 * with vega (no canvas, no native code).
 *
 *   contention-throughput   aggregate events/s vs writers, one line per design, NMIs off / on
 *   contention-p999         write latency p99.9 vs writers, one line per design, NMIs off / on
 *   contention-cpu          stored events per second of writer CPU time vs writers, likewise
 *   patch-wall-time         patch wall time vs sites, one line per protocol (log-log)
 *   machine-sync-rounds     sync-round latency percentiles, busy vs idle CPUs
 *   ring-costs              the ring suite's cost breakdown, ns per event
 *
 * Reports are read loosely (fields checked, rows without them skipped), so a results file
 * of an older run still plots.
 */

export interface Plot {
  /** File name without extension. */
  readonly name: string;
  readonly spec: TopLevelSpec;
}

type Row = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 420;
const HEIGHT = 260;

function rows(report: unknown): Row[] {
  const results = (report as { results?: unknown } | null)?.results;
  return Array.isArray(results) ? results.filter((r): r is Row => typeof r === 'object' && r !== null) : [];
}

function num(r: Row, key: string): number | undefined {
  const v = r[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(r: Row, key: string): string | undefined {
  const v = r[key];
  return typeof v === 'string' ? v : undefined;
}

function nmiLabel(rate: number): string {
  return rate > 0 ? `${rate}/s per writer` : 'none';
}

/** Aggregate throughput and p99.9 write latency vs writers, per design, NMIs off and on. */
export function contentionPlots(report: unknown): Plot[] {
  const data = rows(report).flatMap((r) => {
    const design = str(r, 'design');
    const writers = num(r, 'writers');
    const rate = num(r, 'nmiRate');
    const eps = num(r, 'eventsPerSec');
    const p999 = num(r, 'p999Ns');
    const perCpu = num(r, 'eventsPerCpuSec');
    if (design === undefined || writers === undefined || rate === undefined || eps === undefined) return [];
    return [
      {
        design,
        writers,
        nmi: nmiLabel(rate),
        mEventsPerSec: eps / 1e6,
        mEventsPerCpuSec: perCpu === undefined ? null : perCpu / 1e6,
        p999Us: p999 === undefined ? null : p999 / 1000,
      },
    ];
  });
  const line = (field: string, title: string, log: boolean, name: string, heading: string): Plot => ({
    name,
    spec: {
      $schema: SCHEMA,
      title: heading,
      data: { values: data },
      width: WIDTH,
      height: HEIGHT,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'writers', type: 'quantitative', title: 'writer threads', axis: { tickMinStep: 1 } },
        y: { field, type: 'quantitative', title, ...(log ? { scale: { type: 'log' } } : {}) },
        color: { field: 'design', type: 'nominal', title: 'design' },
        // 'none' sorts last by name: descending makes it the solid line. The legend's symbols
        // show no dash, so its title says which is which.
        strokeDash: { field: 'nmi', type: 'nominal', title: 'NMIs (solid: none, dashed: on)', sort: 'descending', legend: { labelLimit: 400, titleLimit: 400 } },
      },
    },
  });
  return [
    line('mEventsPerSec', 'aggregate M events/s (stored)', false, 'contention-throughput', 'Aggregate throughput vs writers'),
    line('p999Us', 'write latency p99.9 (µs, log)', true, 'contention-p999', 'Write latency p99.9 vs writers'),
    line('mEventsPerCpuSec', 'M events per writer CPU-second', false, 'contention-cpu', 'Events per second of writer CPU time vs writers'),
  ];
}

/** Patch wall time (median operation) vs sites, one line per protocol, log-log. */
export function patchPlots(report: unknown): Plot[] {
  const data = rows(report).flatMap((r) => {
    const protocol = str(r, 'protocol');
    const sites = num(r, 'sites');
    const wall = num(r, 'wallMsP50');
    // The protocol sweep only: the refcount comparison rows are named otherwise.
    if (protocol === undefined || sites === undefined || wall === undefined || str(r, 'name') !== `patch-${protocol}-${sites}`) return [];
    return [{ protocol, sites, wallMs: wall }];
  });
  return [
    {
      name: 'patch-wall-time',
      spec: {
        $schema: SCHEMA,
        title: 'Patch wall time vs sites (median operation)',
        data: { values: data },
        width: WIDTH,
        height: HEIGHT,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'sites', type: 'quantitative', title: 'sites patched (log)', scale: { type: 'log' } },
          y: { field: 'wallMs', type: 'quantitative', title: 'wall time, ms (log)', scale: { type: 'log' } },
          color: { field: 'protocol', type: 'nominal', title: 'protocol' },
        },
      },
    },
  ];
}

/** Sync-round latency percentiles to busy and to idle CPUs. */
export function machinePlots(report: unknown): Plot[] {
  const marks = [
    ['p50', 'p50Us'],
    ['p90', 'p90Us'],
    ['p99', 'p99Us'],
    ['max', 'maxUs'],
  ] as const;
  const data = rows(report).flatMap((r) => {
    const name = str(r, 'name');
    if (name === undefined || !name.startsWith('sync-round-')) return [];
    const cpus = name.slice('sync-round-'.length);
    return marks.flatMap(([stat, key]) => {
      const us = num(r, key);
      return us === undefined ? [] : [{ cpus, stat, us }];
    });
  });
  return [
    {
      name: 'machine-sync-rounds',
      spec: {
        $schema: SCHEMA,
        title: 'sync_core round latency: busy vs idle CPUs',
        data: { values: data },
        width: WIDTH,
        height: HEIGHT,
        mark: 'bar',
        encoding: {
          x: { field: 'stat', type: 'ordinal', title: 'percentile', sort: marks.map(([s]) => s) },
          xOffset: { field: 'cpus', type: 'nominal' },
          // Bars on a log scale start at 1 µs (a bar from 0 has no length on a log axis).
          y: { field: 'us', type: 'quantitative', title: 'µs (log)', scale: { type: 'log' }, stack: null },
          y2: { datum: 1 },
          color: { field: 'cpus', type: 'nominal', title: 'CPUs' },
        },
      },
    },
  ];
}

/** The ring suite's cost breakdown: ns per event of each layer and of the peers. */
export function ringPlots(report: unknown): Plot[] {
  const parts: readonly [string, string][] = [
    ['ceiling-raw-stores', 'ceiling (raw stores)'],
    ['clock-hrtime', 'clock (hrtime)'],
    ['writer-counter', 'writer (counter clock)'],
    ['writer-hrtime', 'writer (hrtime clock)'],
    ['writer-reader-threads', 'writer → reader (threads)'],
    ['ringbufjs-threads', 'ringbuf.js threads'],
    ['pino-devnull', 'pino to /dev/null'],
  ];
  const byName = new Map(rows(report).map((r) => [str(r, 'name'), r]));
  const data = parts.flatMap(([name, label]) => {
    const r = byName.get(name);
    const ns = r === undefined ? undefined : num(r, 'nsPerEvent');
    return ns === undefined ? [] : [{ part: label, nsPerEvent: ns }];
  });
  return [
    {
      name: 'ring-costs',
      spec: {
        $schema: SCHEMA,
        title: 'Ring suite: cost per event',
        data: { values: data },
        width: WIDTH,
        height: HEIGHT,
        mark: 'bar',
        encoding: {
          y: { field: 'part', type: 'nominal', title: null, sort: parts.map(([, l]) => l), axis: { labelLimit: 300 } },
          // Bars on a log scale start at 1 ns (a bar from 0 has no length on a log axis).
          x: { field: 'nsPerEvent', type: 'quantitative', title: 'ns per event (log)', scale: { type: 'log' }, stack: null },
          x2: { datum: 1 },
          color: { field: 'part', type: 'nominal', legend: null },
        },
      },
    },
  ];
}

const BY_SUITE: Readonly<Record<string, (report: unknown) => Plot[]>> = {
  contention: contentionPlots,
  patch: patchPlots,
  machine: machinePlots,
  ring: ringPlots,
};

/** The plots of a suite (none for a suite without plots). */
export function suitePlots(suite: string, report: unknown): Plot[] {
  return BY_SUITE[suite]?.(report) ?? [];
}

/** Renders one spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const vega = await loadDevDependency('vega', () => import('vega'));
  const vl = await loadDevDependency('vega-lite', () => import('vega-lite'));
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Renders a suite's plots into `dir` as <name>.svg; returns the files written. */
export async function writeSuitePlots(suite: string, report: unknown, dir: string): Promise<string[]> {
  const plots = suitePlots(suite, report);
  if (plots.length > 0) mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const plot of plots) {
    const file = join(dir, `${plot.name}.svg`);
    writeFileSync(file, await renderSvg(plot.spec));
    files.push(file);
  }
  return files;
}
