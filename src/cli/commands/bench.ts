import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { ExitCode, UsageError, setVerdict } from '../exit-codes.js';
import { integerIn, numberIn } from '../parse.js';

interface BenchOptions {
  readonly json?: true;
  readonly quick?: true;
  readonly out?: string;
  readonly plot?: string;
  /** contention only */
  readonly writers?: number[];
  readonly nmiRate?: number;
  readonly cellMs?: number;
}

/** What a suite gives the command: its report, how to print it, and whether every check passed. */
interface SuiteRun {
  readonly report: unknown;
  readonly human: string;
  readonly verified: boolean;
}

/** `--writers 1,2,4`: a list of writer counts, each 1..64. */
function writerList(value: string): number[] {
  const one = integerIn(1, 64);
  const list = value.split(',').map((v) => one(v));
  if (list.length === 0 || list.length > 32) throw new InvalidArgumentError(`must list 1 to 32 writer counts (got ${JSON.stringify(value)})`);
  return list;
}

/**
 * `ringtrace bench ring|machine|patch|eventlog|contention [--json] [--quick] [--out <file>] [--plot <dir>]`:
 * a benchmark suite (bench/<suite>/), figures side by side, and the suite's targets met or
 * missed. Exit code 1 when a benchmark fails the check made after timing it; a missed
 * target is reported, not an error.
 */
export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmarks (see docs/BENCHMARKS.md)');
  const suite = (
    name: string,
    description: string,
    run: (quick: boolean, progress: (line: string) => void, options: BenchOptions) => Promise<SuiteRun>,
    configure: (command: Command) => Command = (command) => command,
  ): void => {
    configure(
      bench
        .command(name)
        .description(description)
        .option('--json', 'print { results, targets, machine } as JSON instead of tables')
        .option('--quick', 'a short run (a few seconds) for smoke tests; figures are rough')
        .option('--out <file>', 'also write the JSON report to this file')
        .option('--plot <dir>', 'also render the suite\'s plots (SVG) into this directory'),
    ).action(async (options: BenchOptions) => {
      const { report, human, verified } = await run(options.quick === true, (line) => process.stderr.write(`  ${line}\n`), options).catch((err: unknown) => {
        // The published package ships no benchmarks (nor their dev dependencies).
        if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && /[\\/]bench[\\/]/.test(String((err as Error).message))) {
          throw new UsageError('the benchmarks run from a clone of the repository (npm ci, then npx ringtrace bench ...); the published package does not ship them');
        }
        throw err;
      });
      const json = JSON.stringify(report, null, 2) + '\n';
      if (options.out !== undefined) writeFileSync(options.out, json);
      if (options.plot !== undefined) {
        const { writeSuitePlots } = await import('../../../bench/plot/plots.js');
        for (const file of await writeSuitePlots(name, report, options.plot)) process.stderr.write(`  wrote ${file}\n`);
      }
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
  suite(
    'contention',
    'the designs of the seed thread side by side: percpu (ringtrace), shared (compare-and-swap on one tail), locked-page, locked; a writer sweep with and without NMIs, a reader throughout (about a minute)',
    async (quick, progress, options) => {
      const { contentionSuite, DEFAULT_CELL_MS, DEFAULT_NMI_PER_SECOND, DEFAULT_WRITERS, QUICK_CELL_MS, QUICK_WRITERS } = await import('../../../bench/contention/suite.js');
      const { runSuite, formatSuiteReport } = await import('../../../bench/registry.js');
      const spec = contentionSuite({
        writers: options.writers ?? (quick ? QUICK_WRITERS : DEFAULT_WRITERS),
        nmiPerSecond: options.nmiRate ?? DEFAULT_NMI_PER_SECOND,
        cellMs: options.cellMs ?? (quick ? QUICK_CELL_MS : DEFAULT_CELL_MS),
      });
      const report = await runSuite(spec, { quick, progress });
      return { report, human: formatSuiteReport(spec, report), verified: report.results.every((r) => r.verified) };
    },
    (command) =>
      command
        .option('--writers <list>', 'writer counts to sweep, comma-separated, each 1..64 (default 1,2,3,4,6,8; --quick 1,2)', writerList)
        .option('--nmi-rate <perSecond>', 'simulated NMIs per second per writer in the NMI cells, at most one per 256 writes; 0: no NMI cells (default 10000)', numberIn(0, 1_000_000))
        .option('--cell-ms <ms>', 'how long the writers of each cell write (default 300; --quick 100)', integerIn(10, 60_000)),
  );
}
