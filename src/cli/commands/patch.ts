import type { Command } from 'commander';
import { ExitCode, setVerdict } from '../exit-codes.js';
import { integerIn, numberIn, oneOf } from '../parse.js';
import { count, table } from '../format.js';
import { Machine } from '../../machine/machine.js';
import type { BypassName, RefcountName } from '../../machine/patch-area.js';
import { Patcher } from '../../patch/patcher.js';
import type { PatchReport } from '../../patch/coordinator.js';
import { protocolNames, protocols, type ProtocolName } from '../../patch/protocols/index.js';

interface PatchFlags {
  readonly protocol: ProtocolName;
  readonly sites: number;
  readonly cpus: number;
  readonly nmiRate: number;
  readonly ops: number;
  readonly bypass: BypassName;
  readonly refcount: RefcountName;
  readonly nmi: boolean;
  readonly notraceNmi?: boolean;
  readonly pokeCostNs: number;
  readonly nmiCalls: number;
  readonly seed?: number;
  readonly json?: boolean;
}

export interface PatchRunSummary {
  readonly protocol: ProtocolName;
  readonly sites: number;
  readonly ops: number;
  readonly wallMsP50: number;
  readonly wallMsMax: number;
  readonly syncRounds: number;
  readonly ipis: number;
  readonly traps: number;
  readonly faults: number;
  readonly staleAfterDone: number;
  readonly faultsPerOp: number;
  readonly mustBeSafe: boolean;
  readonly seed: number;
  readonly perOp: PatchReport[];
}

/** The protocols that must be safe, and the NMI settings that make them so, in words (from the protocols' own conditions). */
function safeList(): string {
  const settings = [
    { flag: '', conditions: { nmisMasked: false, notraceNmi: false } },
    { flag: '--no-nmi', conditions: { nmisMasked: true, notraceNmi: false } },
    { flag: '--notrace-nmi', conditions: { nmisMasked: false, notraceNmi: true } },
  ];
  return protocolNames
    .map((name) => {
      const when = settings.filter((s) => protocols[name].safeWhen(s.conditions));
      if (when.length === 0) return '';
      return when[0]!.flag === '' ? name : `${name} with ${when.map((s) => s.flag).join(' or ')}`;
    })
    .filter((text) => text !== '')
    .join(', ');
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** `ringtrace patch`: K alternating disable/enable operations over N sites on a running machine. */
export function registerPatch(program: Command): void {
  program
    .command('patch')
    .description(
      'Boots the machine with every site traced, then runs --ops alternating disable/enable operations over ' +
        '--sites sites with the chosen protocol while the CPUs trace and NMIs fire (NMI handlers run the first ' +
        'four sites, which every operation patches, --nmi-calls times in all). Prints each operation\'s metrics and the totals. Exits 1 ' +
        `if a protocol that must be safe under the NMI settings given (${safeList()}) shows a fault or a stale execution.`,
    )
    .requiredOption('--protocol <p>', protocolNames.join(' | '), oneOf<ProtocolName>(protocolNames))
    .option('--sites <n>', 'sites patched per operation (the first n of the code page)', integerIn(1, 1_000_000), 1_000)
    .option('--cpus <n>', 'CPUs', integerIn(1, 64), 2)
    .option('--nmi-rate <r>', 'NMIs per second on each CPU', numberIn(0, 1e6), 10_000)
    .option('--ops <k>', 'patch operations', integerIn(1, 100_000), 10)
    .option('--bypass <b>', 'int3 bypass: old (run the old instruction) or new (emulate the new)', oneOf<BypassName>(['old', 'new']), 'new')
    .option('--refcount <r>', 'int3-batch handler refcount: shared or percpu', oneOf<RefcountName>(['shared', 'percpu']), 'percpu')
    .option('--no-nmi', 'stop-machine: mask NMIs while the machine is stopped')
    .option('--notrace-nmi', 'mark every site the NMI handler runs notrace (never patched)')
    .option('--poke-cost-ns <ns>', 'busy time per byte written (text_poke cost); widens race windows', numberIn(0, 1e7), 0)
    .option('--nmi-calls <n>', 'calls each NMI handler makes, cycling over the first four sites; a longer handler widens the windows of the races NMIs take part in', integerIn(1, 10_000), 4)
    .option('--seed <x>', 'seed (default: random, printed)', integerIn(0, 2 ** 32 - 1))
    .option('--json', 'print one JSON object')
    .action(async (flags: PatchFlags) => {
      const seed = flags.seed ?? (Math.random() * 2 ** 32) >>> 0;
      const nmiOff = flags.nmi === false;
      const summary = await runPatch(flags, seed, nmiOff);
      if (flags.json === true) {
        const { perOp, ...totals } = summary;
        process.stdout.write(`${JSON.stringify({ ...totals, perOp })}\n`);
      } else {
        process.stdout.write(formatSummary(summary));
      }
      if (summary.mustBeSafe && (summary.faults > 0 || summary.staleAfterDone > 0)) setVerdict(ExitCode.checkFailed);
    });
}

async function runPatch(flags: PatchFlags, seed: number, nmiOff: boolean): Promise<PatchRunSummary> {
  const sites = Math.max(flags.sites, 4);
  const machine = await Machine.start({
    cpus: flags.cpus,
    sites,
    seed,
    nmiPerSecond: flags.nmiRate,
    nmiSites: Array.from({ length: flags.nmiCalls }, (_, i) => i % 4),
    notraceFraction: 0,
    notraceNmiSites: flags.notraceNmi === true,
    nmiEntry: protocols[flags.protocol].nmiEntry,
  });
  const perOp: PatchReport[] = [];
  let patcher: Patcher | null = null;
  try {
    patcher = await Patcher.start(machine);
    const request = {
      protocol: flags.protocol,
      filter: { from: 0, to: flags.sites - 1 },
      bypass: flags.bypass,
      refcount: flags.refcount,
      nmi: nmiOff ? ('off' as const) : ('on' as const),
      pokeCostNs: flags.pokeCostNs,
    };
    for (let op = 0; op < flags.ops; op++) perOp.push(await patcher.patch({ ...request, action: op % 2 === 0 ? 'disable' : 'enable' }));
    // An empty operation afterwards collects the stale executions after the last one.
    const tail = await patcher.patch({ ...request, action: 'enable', filter: { sites: [] } });
    perOp.push({ ...tail });
  } finally {
    await patcher?.close();
    await machine.stop();
  }
  const ops = perOp.slice(0, -1);
  const walls = ops.map((r) => r.wallMs).sort((a, b) => a - b);
  const sum = (f: (r: PatchReport) => number, list: readonly PatchReport[] = ops): number => list.reduce((a, r) => a + f(r), 0);
  const faults = sum((r) => r.faults, perOp);
  return {
    protocol: flags.protocol,
    sites: flags.sites,
    ops: ops.length,
    wallMsP50: percentile(walls, 0.5),
    wallMsMax: walls.at(-1) ?? 0,
    syncRounds: sum((r) => r.syncRounds),
    ipis: sum((r) => r.ipis),
    traps: sum((r) => r.traps),
    faults,
    staleAfterDone: sum((r) => r.staleAfterPrevious, perOp),
    faultsPerOp: faults / Math.max(1, ops.length),
    mustBeSafe: protocols[flags.protocol].safeWhen({ nmisMasked: nmiOff, notraceNmi: flags.notraceNmi === true }),
    seed,
    perOp: ops,
  };
}

function formatSummary(s: PatchRunSummary): string {
  const rows: string[][] = [['op', 'action', 'sites', 'wall ms', 'syncs', 'IPIs', 'traps', 'stopped ms', 'IPI ms', 'int3 ms', 'faults']];
  s.perOp.forEach((r, i) =>
    rows.push([
      String(i),
      r.action,
      count.format(r.sites),
      r.wallMs.toFixed(2),
      count.format(r.syncRounds),
      count.format(r.ipis),
      count.format(r.traps),
      r.stoppedMs.toFixed(2),
      r.ipiHandlerMs.toFixed(2),
      r.breakpointHandlerMs.toFixed(2),
      count.format(r.faults),
    ]),
  );
  const verdict = s.mustBeSafe ? (s.faults === 0 && s.staleAfterDone === 0 ? 'OK (must be safe)' : 'FAILED (must be safe)') : 'hazard protocol: faults are the expected result';
  return (
    `ringtrace patch --protocol ${s.protocol}, seed ${s.seed}\n\n${table(rows)}\n\n` +
    `wall p50 ${s.wallMsP50.toFixed(2)} ms, max ${s.wallMsMax.toFixed(2)} ms; ${count.format(s.syncRounds)} sync rounds, ` +
    `${count.format(s.ipis)} IPIs, ${count.format(s.traps)} traps; faults ${count.format(s.faults)} (${s.faultsPerOp.toFixed(2)} per operation), ` +
    `stale after done ${count.format(s.staleAfterDone)}: ${verdict}\n`
  );
}
