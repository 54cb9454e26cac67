import type { AllocationFigures } from './eventlog/protocol.js';
import type { EventLogBenchResult, EventLogReport } from './eventlog/results.js';
import type { DrainBenchResult } from './eventlog/drain.js';
import type { MachineBenchResult, MachineSuiteReport } from './machine/results.js';
import type { PatchBenchResult, PatchSuiteReport } from './patch/results.js';
import type { BenchResult, RingReport } from './ring/results.js';
import type { TargetResult } from './targets.js';

/**
 * Every suite's reports: the human tables (`ringtrace bench <suite>`) and the Markdown
 * ones for docs/BENCHMARKS.md (bench/results/<suite>.md).
 */

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

/** Human output of a machine report: a results table, the targets met or missed, notes. */
export function formatMachineReport(report: MachineSuiteReport): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push(
    `ringtrace bench machine (${m.runKind} run, ${m.durationSeconds} s) on ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, ` +
      `load ${m.loadAverageStart.toFixed(2)} -> ${m.loadAverageEnd.toFixed(2)}`,
    '',
  );
  lines.push(...table(MACHINE_HEADER, report.results.map(machineRow), MACHINE_RIGHT));
  lines.push('', 'notes:');
  for (const r of report.results) {
    const rerun = r.disturbedP50Us ?? r.disturbedRoundsNsPerSite;
    lines.push(`  ${r.name}: ${r.notes ?? ''}`);
    if (r.roundsNsPerSite !== undefined && r.roundsNsPerSite.length > 1) {
      lines.push(`    ns/site per round: ${r.roundsNsPerSite.map((x) => x.toFixed(1)).join(', ')}`);
    }
    if (rerun !== undefined) lines.push(`    run again after a disturbance (figure of the disturbed run): ${rerun.map((x) => x.toFixed(1)).join(', ')}`);
  }
  lines.push(
    '',
    'p50/p99/mean: latency of one sync_core round to every CPU, µs. events/s: function-entry events per second per CPU (wall).',
    'ns/site: on-CPU time of the CPU threads per site executed (wall ns/site: wall x cpus / sites). other load: cores other',
    'processes kept busy meanwhile.',
  );
  if (report.results.some((r) => r.oversubscribed)) {
    lines.push(
      '',
      `* oversubscribed: more threads than the ${m.cores} cores (N CPU threads + the NMI source + the sync sender + the main`,
      '  thread, which runs the machine\'s reader); the OS and other processes share the cores too, so figures vary from run to run.',
    );
  }
  lines.push('', ...table(['target', 'measured', 'required', 'status'], report.targets.map(targetRow), [false, true, true, false]));
  for (const r of report.results.filter((x) => !x.verified)) lines.push('', `${r.name} FAILED its check: ${r.verifyError ?? ''}`);
  return lines.join('\n') + '\n';
}

/** The machine report's two tables in Markdown, for docs/BENCHMARKS.md. */
export function formatMachineMarkdown(report: MachineSuiteReport): string {
  const out: string[] = [];
  out.push(`| ${MACHINE_HEADER.join(' | ')} |`, `|${MACHINE_RIGHT.map((r) => (r ? '---:' : '---')).join('|')}|`);
  for (const r of report.results) out.push(`| ${machineRow(r).map((c, i) => (i === 0 ? `\`${c}\`` : c)).join(' | ')} |`);
  out.push('', '| target | measured | required | status |', '|---|---:|---:|---|');
  for (const t of report.targets) out.push(`| ${targetRow(t).join(' | ')} |`);
  return out.join('\n') + '\n';
}

/** Human output of a patch report: a results table, where the time went, the targets met or missed. */
export function formatPatchReport(report: PatchSuiteReport): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push(
    `ringtrace bench patch (${m.runKind} run, ${m.durationSeconds} s) on ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, ` +
      `load ${m.loadAverageStart.toFixed(2)} -> ${m.loadAverageEnd.toFixed(2)}`,
    '',
  );
  lines.push(...table(PATCH_HEADER, report.results.map(patchRow), PATCH_RIGHT));
  for (const line of m.notRun) lines.push(`  ${line}`);
  lines.push('', 'notes:');
  for (const r of report.results) {
    lines.push(`  ${r.name}: ${r.notes ?? ''}`);
    if (r.disturbedWallMsP50 !== undefined) {
      lines.push(`    run again after a disturbance (wall p50 of the disturbed run): ${r.disturbedWallMsP50.map((x) => x.toFixed(2)).join(', ')} ms`);
    }
  }
  const pair = report.results.find((r) => r.vsBaseline !== undefined);
  if (pair !== undefined) {
    const what = pair.baselineFigure === 'cpuNsPerSiteP50' ? 'the CPU threads\' on-CPU time per site executed' : 'the int3 handler time per trap';
    lines.push('', `${pair.name}: ${pair.vsBaseline!.toFixed(2)}x ${what} of ${pair.baseline ?? ''}`);
  }
  lines.push('', ...PATCH_LEGEND);
  if (report.results.some((r) => r.oversubscribed)) {
    lines.push(
      '',
      `* oversubscribed: more threads than the ${m.cores} cores (N CPU threads that never yield + the NMI source + the coordinator`,
      '  + the main thread, which runs the machine\'s reader); the OS and other processes share the cores too.',
    );
  }
  lines.push('', ...table(['target', 'measured', 'required', 'status'], report.targets.map(targetRow), [false, true, true, false]));
  for (const t of report.targets) lines.push(`  ${t.name}: ${t.detail}`);
  for (const r of report.results.filter((x) => !x.verified)) lines.push('', `${r.name} FAILED its check: ${r.verifyError ?? ''}`);
  return lines.join('\n') + '\n';
}

/** The patch report's two tables in Markdown, for docs/BENCHMARKS.md. */
export function formatPatchMarkdown(report: PatchSuiteReport): string {
  const out: string[] = [];
  out.push(`| ${PATCH_HEADER.join(' | ')} |`, `|${PATCH_RIGHT.map((r) => (r ? '---:' : '---')).join('|')}|`);
  for (const r of report.results) out.push(`| ${patchRow(r).map((c, i) => (i === 0 ? `\`${c}\`` : c)).join(' | ')} |`);
  for (const line of report.machine.notRun) out.push('', line);
  out.push('', '| target | measured | required | status |', '|---|---:|---:|---|');
  for (const t of report.targets) out.push(`| ${targetRow(t).join(' | ')} |`);
  return out.join('\n') + '\n';
}

/** Human output of an eventlog report: a results table, isolates, the allocation check, the targets. */
export function formatEventLogReport(report: EventLogReport): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push(
    `ringtrace bench eventlog (${m.runKind} run, ${m.durationSeconds} s) on ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, ` +
      `load ${m.loadAverageStart.toFixed(2)} -> ${m.loadAverageEnd.toFixed(2)}`,
    '',
  );
  lines.push(...table(EVENTLOG_HEADER, report.results.map(eventLogRow), EVENTLOG_RIGHT));
  lines.push('', 'isolates (ns/event of each fresh worker; the table shows their median):');
  for (const r of report.results) {
    if (r.isolatesNsPerEvent === undefined) continue;
    const rerun = r.disturbedIsolatesNsPerEvent ?? [];
    lines.push(
      `  ${r.name}: ${r.isolatesNsPerEvent.map((x) => x.toFixed(1)).join(', ')}` +
        (rerun.length === 0 ? '' : `; run again after a disturbance: ${rerun.map((x) => x.toFixed(1)).join(', ')}`),
    );
  }
  const alloc = report.results.find((r) => r.allocation !== undefined);
  if (alloc !== undefined) {
    lines.push('', `${alloc.name} (the first line is the check; the others are for comparison):`);
    lines.push(
      ...table(
        ALLOCATION_HEADER,
        (alloc.allocation ?? []).map(allocationRow),
        [false, true, true, true, true, true, true, true, false],
      ).map((l) => `  ${l}`),
    );
    lines.push(
      '  allocated: growth of heap used over the events, collections added back (v8.GCProfiler); retained: heap used after',
      '  full GCs, after minus before.',
    );
  }
  const latency = report.results.filter((r) => r.p50Ns !== undefined);
  if (latency.length > 0) {
    lines.push('', 'Per-call latency (sampled calls; each sample includes one clock read, the "sampling" column):');
    lines.push(...table(LATENCY_HEADER, latency.map(latencyRow), LATENCY_HEADER.map((_, i) => i > 0)).map((l) => `  ${l}`));
  }
  const jsonl = report.results.filter((r) => r.bytesPerEvent !== undefined);
  for (const r of jsonl) lines.push(`${r.name}: ${r.bytesPerEvent!.toFixed(1)} bytes per line (pino's line for the same fields: ${(r.pinoBytesPerEvent ?? NaN).toFixed(1)})`);
  lines.push('', 'other load: average cores other processes kept busy meanwhile (noise on a shared machine).');
  if (report.drain.length > 0) {
    lines.push('', 'the drain thread (writers at full speed for a fixed time; the file read back and checked after):');
    lines.push(...table(DRAIN_HEADER, report.drain.map(drainRow), DRAIN_HEADER.map((_, i) => i > 0 && i < DRAIN_HEADER.length - 1)).map((l) => `  ${l}`));
  }
  lines.push('', ...table(['target', 'measured', 'required', 'status'], report.targets.map(targetRow), [false, true, true, false]));
  for (const t of report.targets) lines.push(`  ${t.name}: ${t.detail}`);
  for (const r of report.results.filter((x) => !x.verified)) lines.push('', `${r.name} FAILED its check: ${r.verifyError ?? ''}`);
  return lines.join('\n') + '\n';
}

/** The eventlog report's tables in Markdown, for docs/BENCHMARKS.md. */
export function formatEventLogMarkdown(report: EventLogReport): string {
  const out: string[] = [];
  out.push(`| ${EVENTLOG_HEADER.join(' | ')} |`, `|${EVENTLOG_RIGHT.map((r) => (r ? '---:' : '---')).join('|')}|`);
  for (const r of report.results) out.push(`| ${eventLogRow(r).map((c, i) => (i === 0 ? `\`${c}\`` : c)).join(' | ')} |`);
  const alloc = report.results.find((r) => r.allocation !== undefined);
  if (alloc !== undefined) {
    out.push('', `\`${alloc.name}\`, every variant (the first is the check):`, '');
    out.push(`| ${ALLOCATION_HEADER.join(' | ')} |`, '|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const v of alloc.allocation ?? []) out.push(`| ${allocationRow(v).join(' | ')} |`);
  }
  const latency = report.results.filter((r) => r.p50Ns !== undefined);
  if (latency.length > 0) {
    out.push('', 'Per-call latency (sampled calls, one clock read included: "sampling ns"):', '');
    out.push(`| ${LATENCY_HEADER.join(' | ')} |`, `|---|${LATENCY_HEADER.slice(1).map(() => '---:').join('|')}|`);
    for (const r of latency) out.push(`| \`${r.name}\` | ${latencyRow(r).slice(1).join(' | ')} |`);
  }
  for (const r of report.results.filter((x) => x.bytesPerEvent !== undefined)) {
    out.push('', `\`${r.name}\`: ${r.bytesPerEvent!.toFixed(1)} bytes per line; pino's line for the same fields: ${(r.pinoBytesPerEvent ?? NaN).toFixed(1)} bytes.`);
  }
  if (report.drain.length > 0) {
    out.push('', 'The drain thread (writers at full speed for a fixed time; the file read back and checked after):', '');
    out.push(`| ${DRAIN_HEADER.join(' | ')} |`, `|---|${DRAIN_HEADER.slice(1).map(() => '---:').join('|')}|`);
    for (const d of report.drain) out.push(`| \`${d.name}\` | ${drainRow(d).slice(1).join(' | ')} |`);
  }
  out.push('', '| target | measured | required | status |', '|---|---:|---:|---|');
  for (const t of report.targets) out.push(`| ${targetRow(t).join(' | ')} |`);
  return out.join('\n') + '\n';
}

const DRAIN_HEADER = ['benchmark', 'threads', 'M events/s to sink', 'emitted', 'stored', 'lost', 'lost %', 'file MB', 'check'];

function drainRow(d: DrainBenchResult): string[] {
  return [
    d.name,
    String(d.threads),
    (d.eventsPerSec / 1e6).toFixed(2),
    String(d.emitted),
    String(d.stored),
    String(d.lost),
    (d.lossRate * 100).toFixed(1),
    (d.fileBytes / 1e6).toFixed(1),
    d.verified ? 'ok' : `FAILED: ${d.verifyError ?? ''}`,
  ];
}

const ALLOCATION_HEADER = ['variant', 'events', 'ns/event', 'minor GCs', 'other GCs', 'allocated B', 'B/event', 'retained B', 'check'];

function allocationRow(v: AllocationFigures): string[] {
  return [
    v.description,
    String(v.events),
    v.nsPerEvent.toFixed(1),
    String(v.minorGcs),
    String(v.majorGcs),
    String(v.allocatedBytes),
    v.bytesPerEvent.toFixed(2),
    String(v.retainedBytes),
    v.verifyError === '' ? 'ok' : 'FAILED',
  ];
}

const LATENCY_HEADER = ['benchmark', 'threads', 'p50 ns', 'p99 ns', 'p99.9 ns', 'samples', 'sampling ns'];

function latencyRow(r: EventLogBenchResult): string[] {
  return [r.name, String(r.threads), (r.p50Ns ?? NaN).toFixed(0), (r.p99Ns ?? NaN).toFixed(0), (r.p999Ns ?? NaN).toFixed(0), String(r.samples ?? ''), (r.samplingOverheadNs ?? NaN).toFixed(0)];
}

const EVENTLOG_HEADER = ['benchmark', 'threads', 'M events/s', 'ns/event', 'vs baseline', 'minor GCs', 'other load', 'check'];
const EVENTLOG_RIGHT = [false, true, true, true, false, true, true, false];

function eventLogRow(r: EventLogBenchResult): string[] {
  return [
    r.name,
    String(r.threads),
    (r.eventsPerSec / 1e6).toFixed(r.eventsPerSec < 1e6 ? 3 : 2),
    r.nsPerEvent.toFixed(1),
    r.vsBaseline === undefined ? '' : `${r.vsBaseline.toFixed(2)}x ${r.baseline ?? ''}`,
    r.minorGcs === undefined ? '' : String(r.minorGcs),
    r.otherLoadCores === undefined ? '' : r.otherLoadCores.toFixed(2),
    r.verified ? 'ok' : 'FAILED',
  ];
}

const PATCH_HEADER = [
  'benchmark',
  'ops',
  'wall p50 ms',
  'wall max ms',
  'sync rounds/op',
  'faults',
  'traps/op',
  'int3 ns/trap',
  'CPU ns/site',
  'coord. CPU ms',
  'coord. runq ms',
  'coord. asleep ms',
  'other load',
  'check',
];
const PATCH_RIGHT = [false, true, true, true, true, true, true, true, true, true, true, true, true, false];
const PATCH_LEGEND = [
  'wall: PatchReport.wallMs, the coordinator\'s own timing of the protocol\'s steps. faults: torn instructions or stray int3s',
  'executed, total († a hazard protocol: faults are its expected result, not a failure; "left torn": sites holding neither',
  'instruction once the operations were over). traps/op, int3 ns/trap: int3 traps',
  'per operation and int3 handler time per trap (p50). CPU ns/site: the CPU threads\' on-CPU time per site they executed during',
  'the operation (p50). coord. CPU / runq / asleep: the coordinator thread per operation (p50, schedstat): on a core, runnable',
  'waiting for one, asleep waiting for the CPUs. other load: cores other processes kept busy.',
];

function patchRow(r: PatchBenchResult): string[] {
  const ms = (x: number | undefined, d = 2): string => (x === undefined || !Number.isFinite(x) ? '' : x.toFixed(d));
  return [
    r.name,
    String(r.ops),
    ms(r.wallMsP50),
    ms(r.wallMsMax),
    r.syncRoundsRange === undefined ? String(r.syncRounds) : `${r.syncRoundsRange[0]}..${r.syncRoundsRange[1]}`,
    `${r.faults}${r.faultsExpected ? '†' : ''}${r.sitesLeftTorn > 0 ? ` (${r.sitesLeftTorn} left torn)` : ''}`,
    String(Math.round(r.trapsP50)),
    ms(r.nsPerTrapP50, 0),
    ms(r.cpuNsPerSiteP50, 0),
    ms(r.coordinatorOnCpuMsP50, 1),
    ms(r.coordinatorRunqueueMsP50, 1),
    ms(r.coordinatorAsleepMsP50, 1),
    r.otherLoadCores === undefined ? '' : r.otherLoadCores.toFixed(2),
    r.verified ? 'ok' : 'FAILED',
  ];
}

const MACHINE_HEADER = ['benchmark', 'cpus', 'p50 µs', 'p99 µs', 'mean µs', 'M events/s/cpu', 'ns/site', 'wall ns/site', 'vs baseline', 'other load', 'check'];
const MACHINE_RIGHT = [false, true, true, true, true, true, true, true, false, true, false];

function machineRow(r: MachineBenchResult): string[] {
  const us = (x: number | undefined): string => (x === undefined ? '' : x.toFixed(1));
  const vs =
    r.vsBaseline === undefined || r.extraNsPerSite === undefined
      ? ''
      : `${r.vsBaseline.toFixed(2)}x ${r.baseline ?? ''} (+${r.extraNsPerSite.toFixed(1)} ns)`;
  return [
    r.name,
    `${r.cpus}${r.oversubscribed ? '*' : ''}`,
    us(r.p50Us),
    us(r.p99Us),
    us(r.meanUs),
    r.eventsPerSec === undefined ? '' : (r.eventsPerSec / 1e6).toFixed(3),
    us(r.nsPerSite),
    us(r.nsPerSiteWall),
    vs,
    r.otherLoadCores === undefined ? '' : r.otherLoadCores.toFixed(2),
    r.verified ? 'ok' : 'FAILED',
  ];
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
  if (unit === 'sync rounds' || unit === 'minor GCs') return `${x} ${unit}`;
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
