import { type RunInfo, otherLoadCores, sampleCpu, startRun } from './host.js';
import type { TargetResult } from './targets.js';

/**
 * The benchmark-case registry: a suite is a list of cases, each a name, a topology, and
 * three steps (setup, run, verify), plus the suite's targets computed from every case's
 * result; one runner and one report (text and Markdown) serve every suite.
 *
 *   setup()            memory, start messages: nothing timed
 *   run(context)       the timed part (threads time themselves)
 *   verify(context, m) checks made after timing; returns the case's result row
 *
 * A result row is the suite's own record type; the report prints the columns the suite
 * names. The runner adds the load other processes put on the host during each case.
 */

/** What every result row carries. */
export interface CaseResult {
  readonly name: string;
  readonly topology: string;
  readonly verified: boolean;
  /** The first failed check, when not verified. */
  readonly verifyError?: string;
  /** Cores other processes kept busy while the case ran (undefined: unknown). */
  readonly otherLoadCores?: number;
}

/** A case with its steps bound together (the context and measurement types stay inside). */
export interface BenchCase<R extends CaseResult> {
  readonly name: string;
  readonly topology: string;
  execute(): Promise<R>;
}

/** Binds a case's steps; `C` is what setup builds, `M` what run measures. */
export function benchCase<C, M, R extends CaseResult>(spec: {
  readonly name: string;
  readonly topology: string;
  setup(): C | Promise<C>;
  run(context: C): Promise<M>;
  verify(context: C, measured: M): R;
}): BenchCase<R> {
  return {
    name: spec.name,
    topology: spec.topology,
    execute: async () => {
      const context = await spec.setup();
      return spec.verify(context, await spec.run(context));
    },
  };
}

/** One column of the report: header and how to show a row's value. */
export interface Column<R> {
  readonly header: string;
  cell(row: R): string;
}

export interface Suite<R extends CaseResult> {
  readonly name: string;
  readonly cases: readonly BenchCase<R>[];
  /** The suite's targets, from the results of this run. */
  targets(results: readonly R[]): TargetResult[];
  readonly columns: readonly Column<R>[];
  /** Lines printed under the table (method, sampling cost, what the figures can show). */
  notes?(results: readonly R[]): string[];
}

export interface SuiteReport<R extends CaseResult> {
  readonly results: R[];
  readonly targets: TargetResult[];
  readonly machine: RunInfo;
}

export async function runSuite<R extends CaseResult>(
  suite: Suite<R>,
  options: { readonly quick: boolean; readonly progress?: (line: string) => void },
): Promise<SuiteReport<R>> {
  const finish = startRun(options.quick);
  const results: R[] = [];
  for (const [i, c] of suite.cases.entries()) {
    options.progress?.(`${suite.name} ${i + 1}/${suite.cases.length}: ${c.name} ...`);
    const before = sampleCpu();
    const row = await c.execute();
    const other = otherLoadCores(before, sampleCpu());
    results.push(other === undefined ? row : { ...row, otherLoadCores: Math.round(other * 100) / 100 });
  }
  return { results, targets: suite.targets(results), machine: finish() };
}

function table(headers: readonly string[], rows: readonly string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function targetLines(targets: readonly TargetResult[]): string[] {
  return targets.map(
    (t) => `${t.met ? 'met   ' : 'MISSED'} ${t.name}: ${fmt(t.measured)} ${t.unit} (${t.comparison} ${fmt(t.required)}) - ${t.detail}`,
  );
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

/** The human report: a table of every result, the targets, the notes, the host. */
export function formatSuiteReport<R extends CaseResult>(suite: Suite<R>, report: SuiteReport<R>): string {
  const headers = [...suite.columns.map((c) => c.header), 'check'];
  const rows = report.results.map((r) => [...suite.columns.map((c) => c.cell(r)), r.verified ? 'ok' : `FAILED: ${r.verifyError ?? ''}`]);
  const m = report.machine;
  return [
    `ringtrace bench ${suite.name} (${m.runKind} run, ${m.durationSeconds} s)`,
    '',
    ...table(headers, rows),
    '',
    ...targetLines(report.targets),
    ...(suite.notes === undefined ? [] : ['', ...suite.notes(report.results)]),
    '',
    `host: ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, load average ${m.loadAverageStart} -> ${m.loadAverageEnd}, ${m.date}`,
    '',
  ].join('\n');
}

/** The same report as Markdown tables (bench/results/<suite>.md, for docs/BENCHMARKS.md). */
export function formatSuiteMarkdown<R extends CaseResult>(suite: Suite<R>, report: SuiteReport<R>): string {
  const headers = [...suite.columns.map((c) => c.header), 'check'];
  const esc = (s: string): string => s.replaceAll('|', '\\|');
  const rows = report.results.map((r) => [...suite.columns.map((c) => c.cell(r)), r.verified ? 'ok' : `FAILED: ${r.verifyError ?? ''}`]);
  const m = report.machine;
  return [
    `| ${headers.map(esc).join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
    '',
    ...report.targets.map((t) => `- ${t.met ? 'met' : '**missed**'}: ${esc(t.name)}: ${fmt(t.measured)} ${t.unit} (${t.comparison} ${fmt(t.required)}); ${esc(t.detail)}`),
    ...(suite.notes === undefined ? [] : ['', ...suite.notes(report.results).map((n) => `- ${n}`)]),
    '',
    `Host: ${m.cpuModel}, ${m.cores} cores, Node ${m.node}; load average ${m.loadAverageStart} → ${m.loadAverageEnd}; ${m.date}; ${m.runKind} run, ${m.durationSeconds} s.`,
    '',
  ].join('\n');
}
