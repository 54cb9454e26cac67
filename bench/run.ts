/**
 * `npm run bench`: runs every benchmark suite (for now the ring suite), prints the human
 * report and writes the machine-readable one to bench/results/<suite>.json (and the
 * Markdown tables to bench/results/<suite>.md, for docs/BENCHMARKS.md).
 *
 *   node dist/bench/run.js [--quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatRingMarkdown, formatRingReport } from './report.js';
import { runRingSuite } from './ring/suite.js';

const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--quick') {
    process.stderr.write(`bench/run: unknown argument ${JSON.stringify(a)} (usage: node dist/bench/run.js [--quick])\n`);
    process.exit(2);
  }
}
const quick = args.includes('--quick');

// dist/bench/run.js -> <repo>/bench/results/
const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));

const report = await runRingSuite({ quick, progress: (line) => process.stderr.write(`  ${line}\n`) });
process.stdout.write(formatRingReport(report));
mkdirSync(resultsDir, { recursive: true });
writeFileSync(`${resultsDir}ring.json`, JSON.stringify(report, null, 2) + '\n');
writeFileSync(`${resultsDir}ring.md`, formatRingMarkdown(report));
process.stdout.write(`\nwrote ${resultsDir}ring.json and ring.md\n`);
if (report.results.some((r) => !r.verified)) process.exitCode = 1;
