import type { Command } from 'commander';

/** `ringtrace bench ...` (filled in by the benchmark harness). */
export function registerBench(program: Command): void {
  program.command('bench').description('benchmarks');
}
