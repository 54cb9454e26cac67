import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ExitCode, setVerdict } from '../exit-codes.js';

interface BenchRingOptions {
  readonly json?: true;
  readonly quick?: true;
  readonly out?: string;
}

/**
 * `ringtrace bench ring [--json] [--quick] [--out <file>]`: the ring buffer benchmarks
 * (bench/ring/), figures side by side with ratios, and the targets met or missed.
 * Exit code 1 when a benchmark fails the check made after timing it; a missed target is
 * reported, not an error.
 */
export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks (see docs/BENCHMARKS.md)');
  bench
    .command('ring')
    .description('ring buffer benchmarks: writer, clock, threads, ringbuf.js and pino peers, heap growth (about 1 minute)')
    .option('--json', 'print { results, targets, machine } as JSON instead of tables')
    .option('--quick', 'a short run (a few seconds) for smoke tests; figures are rough')
    .option('--out <file>', 'also write the JSON report to this file')
    .action(async (options: BenchRingOptions) => {
      // Loaded on demand: the suite and its devDependencies are not needed by other commands.
      const { runRingSuite } = await import('../../../bench/ring/suite.js');
      const { formatRingReport } = await import('../../../bench/report.js');
      const report = await runRingSuite({
        quick: options.quick === true,
        progress: (line) => process.stderr.write(`  ${line}\n`),
      });
      const json = JSON.stringify(report, null, 2) + '\n';
      if (options.out !== undefined) writeFileSync(options.out, json);
      process.stdout.write(options.json === true ? json : formatRingReport(report));
      if (report.results.some((r) => !r.verified)) setVerdict(ExitCode.checkFailed);
    });
}
