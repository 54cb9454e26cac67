import { Command, CommanderError } from 'commander';
import { ExitCode, UsageError, takeVerdict } from './exit-codes.js';
import { registerStress } from './commands/stress.js';
import { registerBench } from './commands/bench.js';
import { registerMachine } from './commands/machine.js';
import { registerPatch } from './commands/patch.js';
import { registerExplore } from './commands/explore.js';
import { registerReport } from './commands/report.js';

/** Builds the command tree; each command module registers its own subcommands. */
export function buildProgram(): Command {
  const program = new Command('ringtrace')
    .description('The Linux kernel tracing core for Node.js worker threads: per-CPU lock-free ring buffers on SharedArrayBuffer.')
    .showHelpAfterError()
    .exitOverride();
  registerStress(program);
  registerMachine(program);
  registerPatch(program);
  registerExplore(program);
  registerReport(program);
  registerBench(program);
  return program;
}

/** Runs the CLI and returns the exit code: 0 success, 1 a failed check, 2 bad arguments. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  takeVerdict();
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other parse failure is bad arguments.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.badArguments;
    }
    if (err instanceof UsageError || err instanceof RangeError || err instanceof TypeError) {
      process.stderr.write(`ringtrace: ${err.message}\n`);
      return ExitCode.badArguments;
    }
    process.stderr.write(`ringtrace: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.checkFailed;
  }
  return takeVerdict();
}
