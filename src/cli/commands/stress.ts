import type { Command } from 'commander';

/** `ringtrace stress ...` (filled in by the stress harness). */
export function registerStress(program: Command): void {
  program.command('stress').description('stress tests with real worker threads');
}
