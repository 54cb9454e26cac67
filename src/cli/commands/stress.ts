import { type Command, InvalidArgumentError } from 'commander';
import { ExitCode, setVerdict } from '../exit-codes.js';
import { integerIn, numberIn, oneOf } from '../parse.js';
import { count, millions, table } from '../format.js';
import { runRingStress, type RingStressResult } from '../../stress/ring-stress.js';
import { runLogStress, type LogStressResult } from '../../stress/log-stress.js';
import type { ClockName, ModeName } from '../../ring/layout.js';
import { MAX_PAGES_PER_CPU, MAX_PAGE_BYTES, MIN_PAGES_PER_CPU, MIN_PAGE_BYTES } from '../../ring/layout.js';

interface StressRingFlags {
  readonly cpus: number;
  readonly seconds: number;
  readonly nmiRate: number;
  readonly mode: ModeName;
  readonly clock: ClockName;
  readonly seed?: number;
  readonly pages: number;
  readonly pageBytes: number;
  readonly json?: boolean;
}

interface StressLogFlags {
  readonly threads: number;
  readonly slots: number;
  readonly seconds: number;
  readonly mode: ModeName;
  readonly clock: ClockName;
  readonly seed?: number;
  readonly pages: number;
  readonly pageBytes: number;
  readonly json?: boolean;
}

function powerOfTwoIn(min: number, max: number): (value: string) => number {
  const integer = integerIn(min, max);
  return (value) => {
    const n = integer(value);
    if ((n & (n - 1)) !== 0) throw new InvalidArgumentError(`must be a power of two between ${min} and ${max} (got ${value})`);
    return n;
  };
}

/** `ringtrace stress ...`: stress tests with real worker threads. */
export function registerStress(program: Command): void {
  const stress = program.command('stress').description('stress tests with real worker threads');
  stress
    .command('ring')
    .description(
      'One writer thread per CPU buffer writes as fast as it can, with nested (NMI-like) writes injected ' +
        'through the interrupt hook, while a reader thread consumes and verifies every event; then every ' +
        'count must balance. Exits 1 if any event is corrupt or unaccounted for.',
    )
    .option('--cpus <n>', 'CPU buffers, one writer thread each (plus one reader thread)', integerIn(1, 64), 2)
    .option('--seconds <s>', 'how long the writers run, in seconds', numberIn(0.01, 86_400), 5)
    .option('--nmi-rate <r>', 'nested writes injected per second on each CPU (0: none); the achieved rate is reported', numberIn(0, 1e7), 10_000)
    .option('--mode <mode>', 'overwrite (lose the oldest) or discard (lose the newest)', oneOf<ModeName>(['overwrite', 'discard']), 'overwrite')
    .option(
      '--clock <clock>',
      'hrtime (ns), counter (a global atomic ticket) or coarse (a ticker thread\'s µs clock)',
      oneOf<ClockName>(['hrtime', 'counter', 'coarse']),
      'hrtime',
    )
    .option('--seed <x>', 'seed of the injection schedules (default: random, printed)', integerIn(0, 2 ** 32 - 1))
    .option('--pages <p>', 'pages per CPU buffer', integerIn(MIN_PAGES_PER_CPU, MAX_PAGES_PER_CPU), 64)
    .option('--page-bytes <b>', 'bytes per page, a power of two', powerOfTwoIn(MIN_PAGE_BYTES, MAX_PAGE_BYTES), 4096)
    .option('--json', 'print one JSON object instead of the table')
    .action(async (flags: StressRingFlags) => {
      await runStressCommand({
        name: 'ring',
        json: flags.json === true,
        seed: flags.seed,
        header: (seed) =>
          `seed ${seed}: ${flags.cpus} cpus x ${flags.seconds} s, ${flags.mode}, ${flags.clock} clock, ` +
          `${flags.pages} pages x ${flags.pageBytes} B per cpu, ${flags.nmiRate} NMI/s per cpu`,
        run: (seed) =>
          runRingStress({
            cpus: flags.cpus,
            seconds: flags.seconds,
            nmiPerSecond: flags.nmiRate,
            mode: flags.mode,
            clock: flags.clock,
            pagesPerCpu: flags.pages,
            pageBytes: flags.pageBytes,
            seed,
          }),
        format: formatResult,
        failed: (r) => r.corrupt !== 0 || r.unaccounted !== 0 || r.releaseGaveUp !== 0,
      });
    });
  stress
    .command('log')
    .description(
      'Writer threads emit typed events into an EventLog as fast as they can (threads beyond the slots share ' +
        'the last one, under its lock; one emit in eight through the checked path, the rest allocation-free) ' +
        'while this thread consumes with events() and checks every event; then every count must balance. ' +
        'Exits 1 if any event is corrupt, out of order or unaccounted for.',
    )
    .option('--threads <n>', 'writer threads', integerIn(1, 64), 4)
    .option('--slots <n>', 'writer slots of the log', integerIn(1, 64), 2)
    .option('--seconds <s>', 'how long the writers run, in seconds', numberIn(0.01, 86_400), 5)
    .option('--mode <mode>', 'discard (lose the newest) or overwrite (lose the oldest)', oneOf<ModeName>(['overwrite', 'discard']), 'discard')
    .option('--clock <clock>', 'hrtime, counter or coarse', oneOf<ClockName>(['hrtime', 'counter', 'coarse']), 'hrtime')
    .option('--seed <x>', "seed of the writers' choice of emit path (default: random, printed)", integerIn(0, 2 ** 32 - 1))
    .option('--pages <p>', 'pages per slot', integerIn(MIN_PAGES_PER_CPU, MAX_PAGES_PER_CPU), 64)
    .option('--page-bytes <b>', 'bytes per page, a power of two', powerOfTwoIn(MIN_PAGE_BYTES, MAX_PAGE_BYTES), 4096)
    .option('--json', 'print one JSON object instead of the table')
    .action(async (flags: StressLogFlags) => {
      await runStressCommand({
        name: 'log',
        json: flags.json === true,
        seed: flags.seed,
        header: (seed) =>
          `seed ${seed}: ${flags.threads} threads on ${flags.slots} slots x ${flags.seconds} s, ${flags.mode}, ` +
          `${flags.clock} clock, ${flags.pages} pages x ${flags.pageBytes} B per slot`,
        run: (seed) =>
          runLogStress({
            threads: flags.threads,
            slots: flags.slots,
            seconds: flags.seconds,
            mode: flags.mode,
            clock: flags.clock,
            pagesPerSlot: flags.pages,
            pageBytes: flags.pageBytes,
            seed,
          }),
        format: formatLogResult,
        failed: (r) => r.corrupt !== 0 || r.outOfOrder !== 0 || r.unaccounted !== 0,
      });
    });
}

/**
 * What every `stress` command does around its run: draw or take the seed, print the header
 * (not with --json), name the seed if the run fails (it replays the schedule), print the
 * result as JSON or a table, and set exit code 1 if a check failed.
 */
async function runStressCommand<R>(c: {
  readonly name: string;
  readonly json: boolean;
  readonly seed: number | undefined;
  readonly header: (seed: number) => string;
  readonly run: (seed: number) => Promise<R>;
  readonly format: (result: R) => string;
  readonly failed: (result: R) => boolean;
}): Promise<void> {
  const seed = c.seed ?? (Math.random() * 2 ** 32) >>> 0;
  if (!c.json) process.stdout.write(`ringtrace stress ${c.name}, ${c.header(seed)}\n`);
  let result: R;
  try {
    result = await c.run(seed);
  } catch (err) {
    process.stderr.write(`ringtrace stress ${c.name}: the run with --seed ${seed} failed\n`);
    throw err;
  }
  process.stdout.write(c.json ? `${JSON.stringify(result)}\n` : c.format(result));
  if (c.failed(result)) setVerdict(ExitCode.checkFailed);
}

function formatLogResult(r: LogStressResult): string {
  const lines: string[] = [];
  if (r.oversubscribed) {
    lines.push(
      `oversubscribed: ${r.busyThreads} busy threads (${r.threads} writers + this consumer) on ${r.availableParallelism} cores ` +
        `(os.availableParallelism()); throughput is lower and noisier`,
    );
  }
  const rows: string[][] = [['thread', 'slot', 'emitted', 'stored', 'refused']];
  for (const t of r.perThread) rows.push([String(t.thread), String(t.slot), ...[t.emitted, t.stored, t.refused].map((n) => count.format(n))]);
  rows.push(['all', '', ...[r.emitted, r.stored, r.refused].map((n) => count.format(n))]);
  lines.push('', table(rows), '');
  lines.push(
    `consumed: ${count.format(r.delivered)} events; lost ${count.format(r.lostOverrun)} overrun, ${count.format(r.lostDropped)} dropped, ` +
      `${count.format(r.lostCorrupt)} to damage; ${count.format(r.lockTimeouts)} shared-lock timeouts; ${r.sharedThreads} threads shared a slot`,
  );
  lines.push(`throughput: ${millions(r.emittedPerSec)} emits/s, ${millions(r.deliveredPerSec)} events/s consumed over ${r.elapsedSeconds.toFixed(2)} s`);
  const ok = r.corrupt === 0 && r.outOfOrder === 0 && r.unaccounted === 0;
  lines.push(
    `check: corrupt ${count.format(r.corrupt)}, out of order ${count.format(r.outOfOrder)}, unaccounted ${count.format(r.unaccounted)}: ` +
      `${ok ? 'OK' : 'FAILED'} (seed ${r.seed})`,
  );
  for (const f of r.failures) lines.push(`  ${f}`);
  return `${lines.join('\n')}\n`;
}

function formatResult(r: RingStressResult): string {
  const lines: string[] = [];
  if (r.oversubscribed) {
    lines.push(
      `oversubscribed: ${r.threads} busy threads (${r.cpus} writers + 1 reader) on ${r.availableParallelism} cores ` +
        `(os.availableParallelism()); throughput is lower and noisier`,
    );
  }
  const header = ['cpu', 'written', 'read', 'overrun', 'dropped', 'unread', 'nmis', 'nesting', 'unaccounted'];
  const rows: string[][] = [header];
  for (const c of r.perCpu) {
    rows.push([String(c.cpu), ...[c.written, c.read, c.overrun, c.dropped, c.unread, c.nmis, c.maxNesting, c.unaccounted].map((n) => count.format(n))]);
  }
  rows.push(['all', ...[r.written, r.read, r.overrun, r.dropped, r.unread, r.nmis, r.maxNesting, r.unaccounted].map((n) => count.format(n))]);
  lines.push('', table(rows), '');
  lines.push(
    `throughput: ${millions(r.eventsPerSec)} events/s written, ${millions(r.readPerSec)} events/s read over ${r.elapsedSeconds.toFixed(2)} s; ` +
      `${count.format(r.nmisPerSecPerCpu)} NMI/s per cpu`,
  );
  lines.push(`NMIs by hook point: ${Object.entries(r.nmisByPoint).map(([k, v]) => `${k} ${count.format(v)}`).join(', ')}`);
  if (r.commitOverrun > 0) lines.push(`commit overruns: ${count.format(r.commitOverrun)} (counted as dropped)`);
  if (r.releaseGaveUp > 0) lines.push(`WARNING: a writer's commit loop gave up ${count.format(r.releaseGaveUp)} time(s): the commit lags the tail (FAILED)`);
  const ok = r.corrupt === 0 && r.unaccounted === 0;
  lines.push(`check: corrupt ${count.format(r.corrupt)}, unaccounted ${count.format(r.unaccounted)}: ${ok ? 'OK' : 'FAILED'} (seed ${r.seed})`);
  for (const f of r.failures) lines.push(`  ${f}`);
  return `${lines.join('\n')}\n`;
}
