import { Command, CommanderError } from 'commander';
import { ExitCode, UsageError, takeVerdict } from './exit-codes.js';
import { registerStress } from './commands/stress.js';
import { registerBench } from './commands/bench.js';
import { registerMachine } from './commands/machine.js';
import { registerPatch } from './commands/patch.js';
import { registerExplore } from './commands/explore.js';
import { registerReport } from './commands/report.js';
import { registerRun } from './commands/run.js';

/** Builds the command tree; each command module registers its own subcommands. */
export function buildProgram(): Command {
  const program = new Command('ringtrace')
    .description('The Linux kernel tracing core for Node.js worker threads: per-CPU lock-free ring buffers on SharedArrayBuffer.')
    // A parse error is reported by main() in one line that points to --help, not followed by the help text.
    .showHelpAfterError(false)
    .configureOutput({ outputError: () => undefined })
    .exitOverride();
  registerRun(program);
  registerStress(program);
  registerMachine(program);
  registerPatch(program);
  registerExplore(program);
  registerReport(program);
  registerBench(program);
  return program;
}

/** `ringtrace stress ring`: the command the arguments name (as far as they name one). */
function commandPath(program: Command, argv: readonly string[]): string {
  const names = [program.name()];
  let command = program;
  for (const arg of argv) {
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub === undefined) break;
    names.push(sub.name());
    command = sub;
  }
  return names.join(' ');
}

/** Bad arguments, in one line: what was wrong, and where the usage is. */
function badArguments(program: Command, argv: readonly string[], message: string): number {
  const what = message
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ')
    .replace('(Did you mean', '(did you mean');
  const path = commandPath(program, argv);
  process.stderr.write(`${path}: ${what}; see '${path} --help'\n`);
  return ExitCode.badArguments;
}

/** Runs the CLI and returns the exit code: 0 success, 1 a failed check, 2 bad arguments. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  takeVerdict();
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; a missing command has printed the help (commander.help);
      // every other parse failure is bad arguments, reported in one line.
      if (err.exitCode === 0) return ExitCode.ok;
      if (err.code === 'commander.help') return ExitCode.badArguments;
      return badArguments(program, argv, err.message);
    }
    if (err instanceof UsageError || err instanceof RangeError || err instanceof TypeError) {
      return badArguments(program, argv, err.message);
    }
    process.stderr.write(`ringtrace: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.checkFailed;
  }
  return takeVerdict();
}
