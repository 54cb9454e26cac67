/**
 * `npm run bench`: runs every benchmark suite (ring, machine, patch, eventlog, then contention), or the
 * ones named, prints each human report and writes the machine-readable one to
 * bench/results/<suite>.json (and the Markdown tables to bench/results/<suite>.md, for
 * docs/BENCHMARKS.md), and the suite's plots to bench/results/<plot>.svg.
 *
 *   node dist/bench/run.js [--quick] [ring] [machine] [patch] [eventlog] [contention]   (npm run bench -- patch)
 *   node dist/bench/run.js --plots-only     (the plots again, from the results files as they are)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CELL_MS, DEFAULT_NMI_PER_SECOND, DEFAULT_WRITERS, QUICK_CELL_MS, QUICK_WRITERS, contentionSuite } from './contention/suite.js';
import { writeSuitePlots } from './plot/plots.js';
import { formatSuiteMarkdown, formatSuiteReport, runSuite } from './registry.js';
import { runEventLogSuite } from './eventlog/suite.js';
import { runMachineSuite } from './machine/suite.js';
import { runPatchSuite } from './patch/suite.js';
import {
  formatEventLogMarkdown,
  formatEventLogReport,
  formatMachineMarkdown,
  formatMachineReport,
  formatPatchMarkdown,
  formatPatchReport,
  formatRingMarkdown,
  formatRingReport,
} from './report.js';
import { runRingSuite } from './ring/suite.js';

const SUITES = ['ring', 'machine', 'patch', 'eventlog', 'contention'] as const;
type Suite = (typeof SUITES)[number];
const usage = 'usage: node dist/bench/run.js [--quick] [ring] [machine] [patch] [eventlog] [contention] | --plots-only';
const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--quick' && a !== '--plots-only' && !(SUITES as readonly string[]).includes(a)) {
    process.stderr.write(`bench/run: unknown argument ${JSON.stringify(a)} (${usage})\n`);
    process.exit(2);
  }
}
const quick = args.includes('--quick');
const named = SUITES.filter((s) => args.includes(s));
const run = (suite: Suite): boolean => named.length === 0 || named.includes(suite);
const progress = (line: string): void => {
  process.stderr.write(`  ${line}\n`);
};

// dist/bench/run.js -> <repo>/bench/results/
const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });

async function write(suite: string, report: unknown, markdown: string): Promise<void> {
  writeFileSync(`${resultsDir}${suite}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${resultsDir}${suite}.md`, markdown);
  const plots = await writeSuitePlots(suite, report, resultsDir);
  process.stdout.write(`\nwrote ${resultsDir}${suite}.json and ${suite}.md${plots.map((p) => `, ${p.slice(resultsDir.length)}`).join('')}\n\n`);
}

if (args.includes('--plots-only')) {
  for (const suite of SUITES) {
    const file = `${resultsDir}${suite}.json`;
    if (!existsSync(file)) continue;
    for (const plot of await writeSuitePlots(suite, JSON.parse(readFileSync(file, 'utf8')), resultsDir)) process.stdout.write(`wrote ${plot}\n`);
  }
  process.exit(0);
}

let failed = false;
if (run('ring')) {
  const ring = await runRingSuite({ quick, progress });
  process.stdout.write(formatRingReport(ring));
  await write('ring', ring, formatRingMarkdown(ring));
  failed ||= ring.results.some((r) => !r.verified);
}
if (run('machine')) {
  const machine = await runMachineSuite({ quick, progress });
  process.stdout.write(formatMachineReport(machine));
  await write('machine', machine, formatMachineMarkdown(machine));
  failed ||= machine.results.some((r) => !r.verified);
}
if (run('patch')) {
  const patch = await runPatchSuite({ quick, progress });
  process.stdout.write(formatPatchReport(patch));
  await write('patch', patch, formatPatchMarkdown(patch));
  failed ||= patch.results.some((r) => !r.verified);
}
if (run('eventlog')) {
  const eventlog = await runEventLogSuite({ quick, progress });
  process.stdout.write(formatEventLogReport(eventlog));
  await write('eventlog', eventlog, formatEventLogMarkdown(eventlog));
  failed ||= eventlog.results.some((r) => !r.verified);
}
if (run('contention')) {
  const spec = contentionSuite({ writers: quick ? QUICK_WRITERS : DEFAULT_WRITERS, nmiPerSecond: DEFAULT_NMI_PER_SECOND, cellMs: quick ? QUICK_CELL_MS : DEFAULT_CELL_MS });
  const contention = await runSuite(spec, { quick, progress });
  process.stdout.write(formatSuiteReport(spec, contention));
  await write('contention', contention, formatSuiteMarkdown(spec, contention));
  failed ||= contention.results.some((r) => !r.verified);
}
if (failed) process.exitCode = 1;
