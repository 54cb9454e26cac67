import type { Command } from 'commander';
import { ExitCode, setVerdict } from '../exit-codes.js';
import { integerIn, oneOf } from '../parse.js';
import { count } from '../format.js';
import { explore, formatCounterexample } from '../../explore/explorer.js';
import type { BypassName, RefcountName } from '../../machine/patch-area.js';
import { protocolNames, type ProtocolName } from '../../patch/protocols/index.js';

interface ExploreFlags {
  readonly protocol: ProtocolName;
  readonly cpus: number;
  readonly sites: number;
  readonly bound: number;
  readonly nmis: number;
  readonly execs: number;
  readonly skipSync: number;
  readonly nmi: boolean;
  readonly notraceNmi?: boolean;
  readonly bypass: BypassName;
  readonly refcount: RefcountName;
  readonly json?: boolean;
}

/** `ringtrace explore`: every interleaving of a protocol against CPUs with NMIs, up to a bound. */
export function registerExplore(program: Command): void {
  program
    .command('explore')
    .description(
      'Runs a patching protocol\'s own steps against CPUs with NMIs under a deterministic scheduler and ' +
        'enumerates every interleaving up to the bound (state hashing prunes repeats; where the fetch model ' +
        'may take a stale or a current byte, both are explored). Prints a counterexample as a diagram, one ' +
        'column per actor, and exits 1; exits 0 when none exists within the bound. Deterministic, so it takes no ' +
        '--seed: the same options explore the same states and print the same result every time.',
    )
    .requiredOption('--protocol <p>', protocolNames.join(' | '), oneOf<ProtocolName>(protocolNames))
    .option('--cpus <n>', 'CPUs executing the sites', integerIn(1, 3), 2)
    .option('--sites <n>', 'sites patched (besides an unpatched neighbour)', integerIn(1, 2), 1)
    .option('--bound <k>', 'longest interleaving explored, in moves', integerIn(1, 1000), 60)
    .option('--nmis <n>', 'NMIs each CPU may take', integerIn(0, 3), 1)
    .option('--execs <n>', 'function calls each CPU makes in normal context', integerIn(0, 4), 2)
    .option('--skip-sync <n>', 'test-only: leave out int3 sync round 1, 2 or 3', integerIn(0, 3), 0)
    .option('--no-nmi', 'stop-machine: NMIs masked while stopped')
    .option('--notrace-nmi', 'the NMI handler runs only notrace code')
    .option('--bypass <b>', 'int3 bypass: old or new', oneOf<BypassName>(['old', 'new']), 'new')
    .option('--refcount <r>', 'int3-batch refcount: shared or percpu', oneOf<RefcountName>(['shared', 'percpu']), 'percpu')
    .option('--json', 'print one JSON object')
    .action((flags: ExploreFlags) => {
      const started = performance.now();
      const result = explore({
        protocol: flags.protocol,
        cpus: flags.cpus,
        sites: flags.sites,
        bound: flags.bound,
        nmisPerCpu: flags.nmis,
        execsPerCpu: flags.execs,
        skipSync: flags.skipSync as 0 | 1 | 2 | 3,
        nmi: flags.nmi === false ? 'off' : 'on',
        notraceNmi: flags.notraceNmi === true,
        bypass: flags.bypass,
        refcount: flags.refcount,
      });
      const seconds = (performance.now() - started) / 1000;
      if (flags.json === true) {
        process.stdout.write(
          `${JSON.stringify({
            protocol: result.protocol,
            statesExplored: result.statesExplored,
            // Exact, and past 2^53: a string, as JSON numbers are doubles.
            interleavings: result.interleavings.toString(),
            transitions: result.transitions,
            counterexample: result.counterexample,
            failure: result.failure,
            boundReached: result.boundReached,
            incomplete: result.incomplete,
            seconds,
          })}\n`,
        );
      } else {
        const lines = [
          `ringtrace explore --protocol ${flags.protocol}: ${flags.cpus} cpus, ${flags.sites} site(s), bound ${flags.bound}, ` +
            `${flags.nmis} NMI(s) and ${flags.execs} call(s) per cpu`,
          `explored ${count.format(result.statesExplored)} states, ${count.format(result.transitions)} transitions` +
            (result.counterexample === null ? `, ${count.format(result.interleavings)} complete interleavings` : '') +
            ` in ${seconds.toFixed(1)} s${result.boundReached ? ' (some paths cut at the bound)' : ''}${result.incomplete ? ' — INCOMPLETE: state cap reached' : ''}`,
        ];
        if (result.counterexample !== null && result.failure !== null) {
          lines.push('', 'counterexample:', '', formatCounterexample(result.counterexample, result.failure));
        } else {
          lines.push('no counterexample within the bound');
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (result.counterexample !== null) setVerdict(ExitCode.checkFailed);
    });
}
