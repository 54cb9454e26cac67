import type { BenchResult, RingReport, TargetResult } from './ring/results.js';

/** Human output of a ring report: a results table with ratios, a targets table, notes. */
export function formatRingReport(report: RingReport): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push(
    `ringtrace bench ring (${m.runKind} run, ${m.durationSeconds} s) on ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, ` +
      `load ${m.loadAverageStart.toFixed(2)} -> ${m.loadAverageEnd.toFixed(2)}`,
    '',
  );
  lines.push(
    ...table(
      ['benchmark', 'threads', 'M events/s', 'ns/event', 'vs', 'baseline', 'other load', 'check'],
      report.results.map((r) => [
        r.name,
        `${r.threads}${r.oversubscribed === true ? '*' : ''}`,
        fmtRate(r),
        r.nsPerEvent.toFixed(1),
        r.vsBaseline === undefined ? '' : `${r.vsBaseline.toFixed(2)}x`,
        r.baseline ?? '',
        fmtLoad(r),
        r.verified ? 'ok' : 'FAILED',
      ]),
      [false, true, true, true, true, false, true, false],
    ),
  );
  const isolated = report.results.filter((r) => (r.isolatesNsPerEvent?.length ?? 0) > 1);
  if (isolated.length > 0) {
    lines.push('', 'single-thread isolates (ns/event of each fresh worker; the table shows their median):');
    for (const r of isolated) lines.push(`  ${r.name}: ${(r.isolatesNsPerEvent ?? []).map((x) => x.toFixed(1)).join(', ')}`);
  }
  const threaded = report.results.filter((r) => r.roundsEventsPerSec !== undefined);
  if (threaded.length > 0) {
    lines.push('', 'threaded rounds (M events/s; other load in cores):');
    for (const r of threaded) {
      const rounds = (r.roundsEventsPerSec ?? []).map((x, i) => `${(x / 1e6).toFixed(2)} (${fmtCores(r.roundsOtherLoadCores?.[i])})`);
      const rerun = r.disturbedRoundsEventsPerSec ?? [];
      lines.push(
        `  ${r.name}: ${rounds.join(', ')}` +
          (rerun.length === 0 ? '' : `; re-run after a disturbance: ${rerun.map((x) => (x / 1e6).toFixed(2)).join(', ')}`),
      );
      if (r.notes !== undefined) lines.push(`    ${r.notes}`);
    }
  }
  const heap = report.results.find((r) => r.heapGrowthBytes !== undefined);
  if (heap !== undefined) lines.push('', `${heap.name}: heap grew by ${heap.heapGrowthBytes} bytes`);
  lines.push('', 'other load: average cores other processes kept busy meanwhile (noise on a shared machine).');
  if (report.results.some((r) => r.oversubscribed === true)) {
    lines.push(
      '',
      `* oversubscribed: as many busy threads as cores (${m.cores}); the OS, the main thread and other processes share them,`,
      '  so threaded figures vary from run to run (see each round in --json).',
    );
  }
  lines.push('', ...table(['target', 'measured', 'required', 'status'], report.targets.map(targetRow), [false, true, true, false]));
  const failed = report.results.filter((r) => !r.verified);
  for (const r of failed) lines.push('', `${r.name} FAILED its check: ${r.verifyError ?? ''}`);
  return lines.join('\n') + '\n';
}

/** The same two tables in Markdown, for docs/BENCHMARKS.md. */
export function formatRingMarkdown(report: RingReport): string {
  const out: string[] = [];
  out.push('| benchmark | threads | M events/s | ns/event | vs baseline | other load | check |', '|---|---:|---:|---:|---|---:|---|');
  for (const r of report.results) {
    const vs = r.vsBaseline === undefined ? '' : `${r.vsBaseline.toFixed(2)}x ${r.baseline ?? ''}`;
    const extra = r.heapGrowthBytes === undefined ? '' : ` (heap ${r.heapGrowthBytes >= 0 ? '+' : ''}${r.heapGrowthBytes} B)`;
    out.push(
      `| \`${r.name}\` | ${r.threads}${r.oversubscribed === true ? '*' : ''} | ${fmtRate(r)} | ${r.nsPerEvent.toFixed(1)}${extra} | ${vs} | ${fmtLoad(r)} | ${r.verified ? 'ok' : 'FAILED'} |`,
    );
  }
  out.push('', '| target | measured | required | status |', '|---|---:|---:|---|');
  for (const t of report.targets) {
    const [name, measured, required, status] = targetRow(t);
    out.push(`| ${name} | ${measured} | ${required} | ${status} |`);
  }
  return out.join('\n') + '\n';
}

function fmtRate(r: BenchResult): string {
  return (r.eventsPerSec / 1e6).toFixed(r.eventsPerSec < 1e6 ? 3 : 2);
}

function fmtLoad(r: BenchResult): string {
  return r.otherLoadCores === undefined ? '' : r.otherLoadCores.toFixed(2);
}

function fmtCores(x: number | undefined): string {
  return x === undefined || x < 0 ? '?' : x.toFixed(2);
}

function fmtNumber(x: number, unit: string): string {
  if (unit === 'bytes') return `${Math.round(x)} B`;
  return `${x.toFixed(2)} ${unit}`;
}

function targetRow(t: TargetResult): [string, string, string, string] {
  return [t.description, fmtNumber(t.measured, t.unit), `${t.comparison} ${fmtNumber(t.required, t.unit)}`, t.met ? 'met' : 'MISSED'];
}

function table(header: string[], rows: string[][], rightAlign: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (rightAlign[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}
