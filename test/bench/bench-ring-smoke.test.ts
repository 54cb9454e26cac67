import { describe, expect, it } from 'vitest';
import { runCli, isPositive } from './run-cli.js';

/**
 * Smoke test of `ringtrace bench ring --quick --json`: the command runs end to end in a
 * child process (the test's global setup has built dist/), prints exactly
 * { results, targets, machine }, and every benchmark named by the issue is there with
 * positive figures and a passed check. No timing assertion: the figures of a quick run
 * on a shared machine mean little.
 */

const NAMES = [
  'ceiling-raw-stores',
  'clock-hrtime',
  'writer-counter',
  'writer-hrtime',
  'writer-counter-hook-noop',
  'writer-reader-threads',
  'ringbufjs-threads',
  'pino-devnull',
  'two-writers-per-cpu',
  'two-writers-counter',
  'heap-growth-10M-writes',
] as const;

describe('ringtrace bench ring --quick --json', () => {
  it('prints { results, targets, machine } with every named result, positive and verified', { timeout: 180_000 }, async () => {
    const run = await runCli(['bench', 'ring', '--quick', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(['machine', 'results', 'targets']);

    const results = report.results as Record<string, unknown>[];
    expect(Array.isArray(results)).toBe(true);
    for (const name of NAMES) {
      const r = results.find((x) => x.name === name);
      expect(r, `result ${name}`).toBeDefined();
      expect(isPositive(r?.eventsPerSec), `${name}.eventsPerSec = ${String(r?.eventsPerSec)}`).toBe(true);
      expect(isPositive(r?.nsPerEvent), `${name}.nsPerEvent = ${String(r?.nsPerEvent)}`).toBe(true);
      expect(r?.verified, `${name}: ${String(r?.verifyError)}`).toBe(true);
    }
    const heap = results.find((x) => x.name === 'heap-growth-10M-writes');
    expect(typeof heap?.heapGrowthBytes === 'number' && Number.isFinite(heap.heapGrowthBytes)).toBe(true);

    const targets = report.targets as Record<string, unknown>[];
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) {
      expect(typeof t.name).toBe('string');
      expect(typeof t.met).toBe('boolean');
      expect(typeof t.measured).toBe('number');
      expect(typeof t.required).toBe('number');
    }

    const machine = report.machine as Record<string, unknown>;
    expect(typeof machine.cpuModel).toBe('string');
    expect(isPositive(machine.cores)).toBe(true);
    expect(machine.node).toBe(process.version);
  });

  it('rejects an unknown option with exit code 2', async () => {
    const run = await runCli(['bench', 'ring', '--no-such-option']);
    expect(run.code).toBe(2);
  });
});
