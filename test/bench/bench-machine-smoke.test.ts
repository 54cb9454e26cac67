import { describe, expect, it } from 'vitest';
import { runCli, isPositive } from './run-cli.js';

/**
 * Smoke test of `ringtrace bench machine --quick --json`: the command runs end to end in
 * a child process (the test's global setup has built dist/), prints exactly
 * { results, targets, machine }, and every benchmark named by the issue is there with
 * positive figures and a passed check. No timing assertion: the figures of a quick run
 * on a shared machine mean little.
 */

/** Each result the issue names, with the figures it must carry. */
const EXPECTED = {
  'sync-round-busy': ['p50Us', 'p99Us', 'meanUs'],
  'sync-round-idle': ['p50Us', 'p99Us', 'meanUs'],
  'machine-trace-rate': ['eventsPerSec', 'nsPerSite', 'vsBaseline', 'extraNsPerSite'],
  'machine-untraced-nop5': ['nsPerSite'],
} as const;

describe('ringtrace bench machine --quick --json', () => {
  it('prints { results, targets, machine } with every named result, positive and verified', { timeout: 120_000 }, async () => {
    const run = await runCli(['bench', 'machine', '--quick', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(['machine', 'results', 'targets']);

    const results = report.results as Record<string, unknown>[];
    expect(Array.isArray(results)).toBe(true);
    for (const [name, fields] of Object.entries(EXPECTED)) {
      const r = results.find((x) => x.name === name);
      expect(r, `result ${name}`).toBeDefined();
      for (const field of fields) expect(isPositive(r?.[field]), `${name}.${field} = ${String(r?.[field])}`).toBe(true);
      expect(r?.verified, `${name}: ${String(r?.verifyError)}`).toBe(true);
    }
    const busy = results.find((x) => x.name === 'sync-round-busy');
    expect((busy?.p99Us as number) >= (busy?.p50Us as number)).toBe(true);

    const targets = report.targets as Record<string, unknown>[];
    expect(targets.map((t) => t.name).sort()).toEqual(['sync-round-busy-p50', 'sync-round-idle-p50']);
    for (const t of targets) {
      expect(typeof t.met).toBe('boolean');
      expect(isPositive(t.measured)).toBe(true);
      expect(isPositive(t.required)).toBe(true);
    }

    const machine = report.machine as Record<string, unknown>;
    expect(typeof machine.cpuModel).toBe('string');
    expect(isPositive(machine.cores)).toBe(true);
    expect(machine.node).toBe(process.version);
    expect(machine.runKind).toBe('quick');
    expect(typeof machine.machineBuildHash).toBe('string');
  });

  it('rejects an unknown option with exit code 2', async () => {
    const run = await runCli(['bench', 'machine', '--no-such-option']);
    expect(run.code).toBe(2);
  });
});
