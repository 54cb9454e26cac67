/**
 * `npm run bench`: runs every benchmark suite (ring, machine, patch, then eventlog), or the ones named,
 * prints each human report and writes the machine-readable one to
 * bench/results/<suite>.json (and the Markdown tables to bench/results/<suite>.md, for
 * docs/BENCHMARKS.md).
 *
 *   node dist/bench/run.js [--quick] [ring] [machine] [patch] [eventlog]      (npm run bench -- patch)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

const SUITES = ['ring', 'machine', 'patch', 'eventlog'] as const;
type Suite = (typeof SUITES)[number];
const usage = 'usage: node dist/bench/run.js [--quick] [ring] [machine] [patch] [eventlog]';
const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--quick' && !(SUITES as readonly string[]).includes(a)) {
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

function write(suite: string, report: unknown, markdown: string): void {
  writeFileSync(`${resultsDir}${suite}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${resultsDir}${suite}.md`, markdown);
  process.stdout.write(`\nwrote ${resultsDir}${suite}.json and ${suite}.md\n\n`);
}

let failed = false;
if (run('ring')) {
  const ring = await runRingSuite({ quick, progress });
  process.stdout.write(formatRingReport(ring));
  write('ring', ring, formatRingMarkdown(ring));
  failed ||= ring.results.some((r) => !r.verified);
}
if (run('machine')) {
  const machine = await runMachineSuite({ quick, progress });
  process.stdout.write(formatMachineReport(machine));
  write('machine', machine, formatMachineMarkdown(machine));
  failed ||= machine.results.some((r) => !r.verified);
}
if (run('patch')) {
  const patch = await runPatchSuite({ quick, progress });
  process.stdout.write(formatPatchReport(patch));
  write('patch', patch, formatPatchMarkdown(patch));
  failed ||= patch.results.some((r) => !r.verified);
}
if (run('eventlog')) {
  const eventlog = await runEventLogSuite({ quick, progress });
  process.stdout.write(formatEventLogReport(eventlog));
  write('eventlog', eventlog, formatEventLogMarkdown(eventlog));
  failed ||= eventlog.results.some((r) => !r.verified);
}
if (failed) process.exitCode = 1;
