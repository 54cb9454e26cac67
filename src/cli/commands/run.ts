import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { Presets, SingleBar } from 'cli-progress';
import { ExitCode, UsageError, setVerdict } from '../exit-codes.js';
import { integerIn, numberIn, oneOf } from '../parse.js';
import { count, table } from '../format.js';
import { Machine, type MachineReport } from '../../machine/machine.js';
import { Symbols, globRegExp } from '../../machine/trace-events.js';
import { Patcher } from '../../patch/patcher.js';
import type { PatchReport } from '../../patch/coordinator.js';
import { protocolNames, protocols, type ProtocolName } from '../../patch/protocols/index.js';
import type { ClockName, ModeName } from '../../ring/layout.js';

interface RunFlags {
  readonly cpus: number;
  readonly seconds: number;
  readonly sites: number;
  readonly nmiRate: number;
  readonly protocol: ProtocolName;
  readonly filter: string;
  readonly notrace?: string;
  readonly mode: ModeName;
  readonly clock: ClockName;
  readonly bufferKb: number;
  readonly seed?: number;
  readonly out: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
}

/** One patch operation of the run, as the summary shows it. */
export interface RunPatchOp {
  readonly op: string;
  readonly protocol: ProtocolName;
  readonly sites: number;
  readonly wallMs: number;
  readonly syncRounds: number;
  readonly traps: number;
  readonly faults: number;
  readonly staleAfterPrevious: number;
}

export interface RunSummary {
  readonly seed: number;
  readonly cpus: number;
  readonly seconds: number;
  readonly sites: number;
  readonly protocol: ProtocolName;
  readonly mustBeSafe: boolean;
  readonly events: number;
  readonly read: number;
  readonly overrun: number;
  readonly dropped: number;
  readonly unread: number;
  readonly unaccounted: number;
  readonly corrupt: number;
  readonly faults: number;
  readonly staleAfterDone: number;
  readonly nmis: number;
  readonly maxNesting: number;
  readonly file: string;
  readonly fileBytes: number;
  readonly perCpu: MachineReport['perCpu'];
  readonly patchOps: RunPatchOp[];
  readonly failures: string[];
}

/** `ringtrace run`: the main job. Boots the machine, records its trace to a file while the coordinator patches it. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'Boots the machine (every site NOP5), records its trace into --out through the drain thread, and meanwhile patches ' +
        'it with --protocol: enables the tracer on every site, records, keeps only the --filter sites, records, disables ' +
        'everything, enables everything again. Prints per CPU events, losses, NMIs and nesting, each patch operation, ' +
        'faults, and the file. Exits 1 on an unaccounted or corrupt event, or a fault or stale execution under a protocol ' +
        'that must be safe.',
    )
    .option('--cpus <n>', 'CPUs (default: the cores available)', integerIn(1, 64), Math.min(64, availableParallelism()))
    .option('--seconds <s>', 'how long the machine runs', numberIn(0.2, 3600), 10)
    .option('--sites <n>', 'call sites in the code page', integerIn(8, 1_000_000), 50_000)
    .option('--nmi-rate <r>', 'NMIs per second on each CPU', numberIn(0, 1e6), 10_000)
    .option('--protocol <p>', protocolNames.join(' | '), oneOf<ProtocolName>(protocolNames), 'int3-batch')
    .option('--filter <globs>', "the functions the filter keeps traced, like set_ftrace_filter (comma-separated globs of *, ?)", 'sched_*,vfs_*')
    .option('--notrace <globs>', 'functions never traced, like set_ftrace_notrace (comma-separated globs)')
    .option('--mode <m>', 'ring mode: overwrite (lose the oldest) or discard (drop the newest)', oneOf<ModeName>(['overwrite', 'discard']), 'overwrite')
    .option('--buffer-kb <n>', 'ring buffer per CPU, KiB (4 KiB pages), like trace-cmd -b', integerIn(8, 1 << 20), 2048)
    .option('--clock <c>', 'trace clock', oneOf<ClockName>(['hrtime', 'counter', 'coarse']), 'hrtime')
    .option('--seed <x>', 'seed of everything random (default: random, printed)', integerIn(0, 2 ** 32 - 1))
    .option('--out <file>', 'the trace file written', 'ringtrace.dat')
    .option('--json', 'print one JSON object')
    .option('--quiet', 'print the summary only (no progress lines)')
    .action(async (flags: RunFlags) => {
      // The globs are checked before anything starts: bad input is a usage error.
      globRegExp(flags.filter);
      if (flags.notrace !== undefined) globRegExp(flags.notrace);
      if (flags.out === '') throw new UsageError('--out must name a file');
      const summary = await runMachine(flags);
      if (flags.json === true) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(formatRun(summary));
      const checkFailed = summary.unaccounted > 0 || summary.corrupt > 0 || summary.failures.length > 0;
      const unsafe = summary.mustBeSafe && (summary.faults > 0 || summary.staleAfterDone > 0);
      if (checkFailed || unsafe) setVerdict(ExitCode.checkFailed);
    });
}

async function runMachine(flags: RunFlags): Promise<RunSummary> {
  const seed = flags.seed ?? (Math.random() * 2 ** 32) >>> 0;
  const quiet = flags.quiet === true || flags.json === true;
  // A bar on a terminal; plain lines otherwise (a log, a pipe); nothing with --quiet or --json.
  let bar: SingleBar | null = null;
  let phase = 'booting';
  const progress = (line: string): void => {
    if (quiet) return;
    if (bar !== null) phase = line.trim();
    else process.stderr.write(`${line}\n`);
  };
  const machine = await Machine.start({
    cpus: flags.cpus,
    sites: flags.sites,
    traced: 'none',
    seed,
    nmiPerSecond: flags.nmiRate,
    nmiEntry: protocols[flags.protocol].nmiEntry,
    ...(flags.notrace === undefined ? {} : { notrace: flags.notrace }),
    ring: { mode: flags.mode, clock: flags.clock, pagesPerCpu: Math.floor(flags.bufferKb / 4), pageBytes: 4096 },
    record: { path: flags.out },
  });
  const booted = performance.now();
  let ranMs = 0;
  progress(`ringtrace run: ${flags.cpus} CPUs, ${count.format(flags.sites)} sites, seed ${seed}, recording to ${flags.out}`);
  let ticker: NodeJS.Timeout | null = null;
  if (!quiet && process.stderr.isTTY === true) {
    // No colours in the format, so NO_COLOR holds as it is.
    const activeBar = new SingleBar({ format: '{bar} {value}/{total} s | {events} events, {mb} MB | {phase}', hideCursor: true, clearOnComplete: true, stream: process.stderr }, Presets.legacy);
    bar = activeBar;
    activeBar.start(Math.round(flags.seconds * 10) / 10, 0, { events: '0', mb: '0.0', phase });
    ticker = setInterval(() => {
      const r = machine.recording();
      activeBar.update(Math.min(flags.seconds, Math.round((performance.now() - booted) / 100) / 10), { events: count.format(r?.events ?? 0), mb: ((r?.bytes ?? 0) / 1e6).toFixed(1), phase });
    }, 200);
  }
  const symbols = new Symbols(machine.symbols);
  const keep = globRegExp(flags.filter);
  const outside = new Set(symbols.matching('*').filter((s) => !keep.test(symbols.name(s))));
  const ops: RunPatchOp[] = [];
  let report: MachineReport;
  let patcher: Patcher | null = null;
  try {
    patcher = await Patcher.start(machine);
    const p = patcher;
    const started = booted;
    const until = async (fraction: number): Promise<void> => {
      const wait = started + fraction * flags.seconds * 1000 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    };
    const patch = async (op: string, action: 'enable' | 'disable', filter?: (site: number) => boolean): Promise<void> => {
      const r: PatchReport = await p.patch({ protocol: flags.protocol, action, ...(filter === undefined ? {} : { filter }) });
      ops.push({ op, protocol: flags.protocol, sites: r.sites, wallMs: r.wallMs, syncRounds: r.syncRounds, traps: r.traps, faults: r.faults, staleAfterPrevious: r.staleAfterPrevious });
      progress(`  ${op}: ${count.format(r.sites)} sites in ${r.wallMs.toFixed(1)} ms, ${r.syncRounds} sync rounds, ${count.format(r.traps)} traps`);
    };
    await patch('enable all', 'enable');
    await until(0.4);
    await patch(`filter ${flags.filter}`, 'disable', (site) => outside.has(site));
    await until(0.8);
    await patch('disable all', 'disable');
    await until(0.9);
    await patch('enable all again', 'enable');
    await until(1);
    // An empty operation collects the stale executions after the last one.
    const tail = await p.patch({ protocol: flags.protocol, action: 'enable', filter: { sites: [] } });
    ops.push({ op: 'after the last', protocol: flags.protocol, sites: 0, wallMs: tail.wallMs, syncRounds: tail.syncRounds, traps: tail.traps, faults: tail.faults, staleAfterPrevious: tail.staleAfterPrevious });
  } finally {
    if (ticker !== null) clearInterval(ticker);
    bar?.stop();
    await patcher?.close();
    ranMs = performance.now() - booted;
    report = await machine.stop();
  }
  const patchOps = ops.slice(0, -1);
  return {
    seed,
    cpus: report.cpus,
    seconds: ranMs / 1000,
    sites: report.sites,
    protocol: flags.protocol,
    mustBeSafe: protocols[flags.protocol].safeWhen({ nmisMasked: false, notraceNmi: false }),
    events: report.events,
    read: report.read,
    overrun: report.overrun,
    dropped: report.dropped,
    unread: report.unread,
    unaccounted: report.unaccounted,
    corrupt: report.corrupt,
    faults: report.faults,
    staleAfterDone: ops.reduce((a, o) => a + o.staleAfterPrevious, 0),
    nmis: report.nmis,
    maxNesting: report.maxNesting,
    file: flags.out,
    fileBytes: report.recorded?.bytes ?? 0,
    perCpu: report.perCpu,
    patchOps,
    failures: report.failures,
  };
}

function formatRun(s: RunSummary): string {
  const cpus: string[][] = [['cpu', 'events', 'read', 'overrun', 'dropped', 'NMIs', 'nesting']];
  for (const c of s.perCpu) {
    cpus.push([c.cpu === s.cpus ? 'coordinator' : String(c.cpu), count.format(c.events), count.format(c.read), count.format(c.overrun), count.format(c.dropped), count.format(c.nmis), String(c.maxNesting)]);
  }
  const ops: string[][] = [['operation', 'sites', 'wall ms', 'syncs', 'traps', 'faults']];
  for (const o of s.patchOps) ops.push([o.op, count.format(o.sites), o.wallMs.toFixed(2), String(o.syncRounds), count.format(o.traps), count.format(o.faults)]);
  const ok = s.unaccounted === 0 && s.corrupt === 0 && s.failures.length === 0 && (!s.mustBeSafe || (s.faults === 0 && s.staleAfterDone === 0));
  return (
    `ringtrace run --protocol ${s.protocol}, seed ${s.seed}: ${s.cpus} CPUs, ${count.format(s.sites)} sites, ${s.seconds.toFixed(1)} s\n\n` +
    `${table(cpus)}\n\n${table(ops)}\n\n` +
    `events ${count.format(s.events)}: read ${count.format(s.read)}, overrun ${count.format(s.overrun)}, dropped ${count.format(s.dropped)}, ` +
    `unread ${count.format(s.unread)}, unaccounted ${count.format(s.unaccounted)}, corrupt ${count.format(s.corrupt)}; ` +
    `NMIs ${count.format(s.nmis)}, deepest nesting ${s.maxNesting}; faults ${count.format(s.faults)}, stale after done ${count.format(s.staleAfterDone)}: ` +
    `${ok ? 'OK' : 'FAILED'}${s.failures.length > 0 ? `\n  ${s.failures.slice(0, 5).join('\n  ')}` : ''}\n\n` +
    `wrote ${s.file} (${count.format(s.fileBytes)} bytes): ringtrace report ${s.file} | less, or ringtrace report ${s.file} --stats\n`
  );
}
