import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ExitCode, UsageError, setVerdict } from '../exit-codes.js';

interface BenchOptions {
  readonly json?: true;
  readonly quick?: true;
  readonly out?: string;
}

/** What a suite gives the command: its report, how to print it, and whether every check passed. */
interface SuiteRun {
  readonly report: unknown;
  readonly human: string;
  readonly verified: boolean;
}

/**
 * `ringtrace bench ring|machine|patch|eventlog [--json] [--quick] [--out <file>]`: a benchmark suite
 * (bench/<suite>/), figures side by side, and the targets met or missed. Exit
 * code 1 when a benchmark fails the check made after timing it; a missed target is
 * reported, not an error.
 */
export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks (see docs/BENCHMARKS.md)');
  const suite = (name: string, description: string, run: (quick: boolean, progress: (line: string) => void) => Promise<SuiteRun>): void => {
    bench
      .command(name)
      .description(description)
      .option('--json', 'print { results, targets, machine } as JSON instead of tables')
      .option('--quick', 'a short run (a few seconds) for smoke tests; figures are rough')
      .option('--out <file>', 'also write the JSON report to this file')
      .action(async (options: BenchOptions) => {
        const { report, human, verified } = await run(options.quick === true, (line) => process.stderr.write(`  ${line}\n`)).catch((err: unknown) => {
          // The published package ships no benchmarks (nor their dev dependencies).
          if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && /[\\/]bench[\\/]/.test(String((err as Error).message))) {
            throw new UsageError('the benchmarks run from a clone of the repository (npm ci, then npx ringtrace bench ...); the published package does not ship them');
          }
          throw err;
        });
        const json = JSON.stringify(report, null, 2) + '\n';
        if (options.out !== undefined) writeFileSync(options.out, json);
        process.stdout.write(options.json === true ? json : human);
        if (!verified) setVerdict(ExitCode.checkFailed);
      });
  };
  // Suites are loaded on demand: they and their devDependencies are not needed by other commands.
  suite('ring', 'ring buffer benchmarks: writer, clock, threads, ringbuf.js and pino peers, heap growth (about 1 minute)', async (quick, progress) => {
    const { runRingSuite } = await import('../../../bench/ring/suite.js');
    const { formatRingReport } = await import('../../../bench/report.js');
    const report = await runRingSuite({ quick, progress });
    return { report, human: formatRingReport(report), verified: report.results.every((r) => r.verified) };
  });
  suite('machine', 'simulated machine benchmarks: sync_core rounds to busy and idle CPUs, traced vs untraced sites (under a minute)', async (quick, progress) => {
    const { runMachineSuite } = await import('../../../bench/machine/suite.js');
    const { formatMachineReport } = await import('../../../bench/report.js');
    const report = await runMachineSuite({ quick, progress });
    return { report, human: formatMachineReport(report), verified: report.results.every((r) => r.verified) };
  });
  suite(
    'patch',
    'live-patching benchmarks: each protocol at 100, 1,000 and 20,000 sites on 2 busy CPUs with NMIs, int3-batch refcount shared vs per-CPU (under a minute)',
    async (quick, progress) => {
      const { runPatchSuite } = await import('../../../bench/patch/suite.js');
      const { formatPatchReport } = await import('../../../bench/report.js');
      const report = await runPatchSuite({ quick, progress });
      return { report, human: formatPatchReport(report), verified: report.results.every((r) => r.verified) };
    },
  );
  suite(
    'eventlog',
    'event log benchmarks: emit and emitRecord against the raw ring writer and pino on the same event, allocation of emitRecord (under a minute)',
    async (quick, progress) => {
      const { runEventLogSuite } = await import('../../../bench/eventlog/suite.js');
      const { formatEventLogReport } = await import('../../../bench/report.js');
      const report = await runEventLogSuite({ quick, progress });
      return { report, human: formatEventLogReport(report), verified: report.results.every((r) => r.verified) };
    },
  );
}
