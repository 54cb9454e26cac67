import { type Command, InvalidArgumentError } from 'commander';
import { availableParallelism } from 'node:os';
import { ExitCode, setVerdict } from '../exit-codes.js';
import { integerIn, numberIn, oneOf } from '../parse.js';
import { count, millions } from '../format.js';
import { Machine, type MachineReport } from '../../machine/machine.js';
import type { ClockName, ModeName } from '../../ring/layout.js';

interface MachineFlags {
  readonly cpus: number;
  readonly seconds: number;
  readonly nmiRate: number;
  readonly traced: 'all' | 'none' | number;
  readonly sites: number;
  readonly seed?: number;
  readonly mode: ModeName;
  readonly clock: ClockName;
  readonly json?: boolean;
}

function tracedChoice(value: string): 'all' | 'none' | number {
  if (value === 'all' || value === 'none') return value;
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) {
    throw new InvalidArgumentError(`must be all, none, or a fraction between 0 and 1 (got ${JSON.stringify(value)})`);
  }
  return n;
}

/** `ringtrace machine`: boot the simulated machine, trace, drain, check every event. */
export function registerMachine(program: Command): void {
  program
    .command('machine')
    .description(
      'Boots the simulated machine: one worker thread per CPU executing a seeded workload over a code page of ' +
        'call sites (the chosen ones CALL the function tracer), random NMIs whose handlers run traced sites too, ' +
        'and a reader checking every event. Exits 1 if any event is corrupt or unaccounted for, or a CPU faulted.',
    )
    .option('--cpus <n>', 'CPUs, one worker thread each', integerIn(1, 64), 2)
    .option('--seconds <s>', 'how long the CPUs run', numberIn(0.01, 86_400), 3)
    .option('--nmi-rate <r>', 'NMIs per second on each CPU', numberIn(0, 1e6), 10_000)
    .option('--traced <which>', 'sites set to CALL at boot: all, none, or a fraction', tracedChoice, 'all')
    .option('--sites <n>', 'call sites in the code page', integerIn(1, 1_000_000), 20_000)
    .option('--seed <x>', 'seed of workloads, NMIs and the fetch model (default: random, printed)', integerIn(0, 2 ** 32 - 1))
    .option('--mode <mode>', 'ring mode: overwrite or discard', oneOf<ModeName>(['overwrite', 'discard']), 'overwrite')
    .option('--clock <clock>', 'ring clock: hrtime, counter or coarse', oneOf<ClockName>(['hrtime', 'counter', 'coarse']), 'hrtime')
    .option('--json', 'print one JSON object instead of text')
    .action(async (flags: MachineFlags) => {
      const seed = flags.seed ?? (Math.random() * 2 ** 32) >>> 0;
      if (flags.json !== true) {
        process.stdout.write(
          `ringtrace machine, seed ${seed}: ${flags.cpus} cpus x ${flags.seconds} s, ${count.format(flags.sites)} sites ` +
            `(traced: ${flags.traced}), ${count.format(flags.nmiRate)} NMI/s per cpu, ${flags.mode} ring, ${flags.clock} clock\n`,
        );
      }
      let report: MachineReport;
      try {
        const machine = await Machine.start({
          cpus: flags.cpus,
          sites: flags.sites,
          traced: flags.traced,
          nmiPerSecond: flags.nmiRate,
          seed,
          ring: { mode: flags.mode, clock: flags.clock },
        });
        report = await machine.runFor(flags.seconds);
      } catch (err) {
        process.stderr.write(`ringtrace machine: the run with --seed ${seed} failed\n`);
        throw err;
      }
      if (flags.json === true) {
        const { faultLog, ...rest } = report;
        process.stdout.write(`${JSON.stringify({ ...rest, faultLog: faultLog.slice(0, 20) })}\n`);
      } else {
        process.stdout.write(formatReport(report));
      }
      if (report.unaccounted !== 0 || report.corrupt !== 0 || report.faults !== 0) setVerdict(ExitCode.checkFailed);
    });
}

function formatReport(r: MachineReport): string {
  const lines: string[] = [];
  const threads = r.cpus + 1;
  if (threads > availableParallelism()) {
    lines.push(`oversubscribed: ${threads} busy threads (${r.cpus} CPUs + the NMI source) and the reader on ${availableParallelism()} cores`);
  }
  lines.push(
    `executed ${count.format(r.sitesExecuted)} sites in ${r.seconds.toFixed(2)} s; traced ${count.format(r.events)} events ` +
      `(${millions(r.events / r.seconds)}/s); read ${count.format(r.read)}, overrun ${count.format(r.overrun)}, ` +
      `dropped ${count.format(r.dropped)}, unread ${count.format(r.unread)}`,
  );
  lines.push(
    `NMIs: ${count.format(r.nmisRaised)} raised (${count.format(r.nmisCoalesced)} more coalesced), ${count.format(r.nmis)} taken — by point: ` +
      Object.entries(r.nmisAt)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${count.format(n)}`)
        .join(', '),
  );
  lines.push(`IPIs taken ${count.format(r.ipis)}; ring nesting up to ${r.maxNesting}; recursion skipped ${count.format(r.recursionSkipped)}`);
  for (const f of r.faultLog.slice(0, 10)) lines.push(`  fault: cpu ${f.cpu} site ${f.site} bytes ${f.bytes} (${f.context}): ${f.reason}`);
  const ok = r.unaccounted === 0 && r.corrupt === 0 && r.faults === 0;
  lines.push(
    `check: unaccounted ${count.format(r.unaccounted)}, corrupt ${count.format(r.corrupt)}, faults ${count.format(r.faults)}: ${ok ? 'OK' : 'FAILED'} (seed ${r.seed})`,
  );
  for (const f of r.failures) lines.push(`  ${f}`);
  return `${lines.join('\n')}\n`;
}
