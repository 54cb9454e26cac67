import { describe, expect, it } from 'vitest';
import { runCli, isPositive, isCount } from './run-cli.js';

/**
 * Smoke test of `ringtrace bench patch --quick --json`: the command runs end to end in a
 * child process (the test's global setup has built dist/), prints exactly
 * { results, targets, machine }, every protocol is there at every size with its figures,
 * the protocols that must be safe show no fault, and every check passed. No timing
 * assertion: the figures of a quick run on a shared machine mean little.
 */

const PROTOCOLS = ['int3', 'int3-batch', 'stop-machine', 'redo', 'redo-nmi-wait'] as const;
const SAFE = new Set<string>(['int3', 'int3-batch', 'redo-nmi-wait']);
const SIZES = [100, 1_000, 20_000] as const;
/** Sync rounds one operation over n sites must take. */
const ROUNDS = (protocol: string, n: number): number => (protocol === 'int3' ? 3 * n : protocol === 'int3-batch' ? 3 : 0);

describe('ringtrace bench patch --quick --json', () => {
  it('prints { results, targets, machine } with every protocol at every size, checked', { timeout: 120_000 }, async () => {
    const run = await runCli(['bench', 'patch', '--quick', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(['machine', 'results', 'targets']);

    const results = report.results as Record<string, unknown>[];
    expect(Array.isArray(results)).toBe(true);
    const machine = report.machine as Record<string, unknown>;
    const notRun = machine.notRun as string[];
    expect(Array.isArray(notRun)).toBe(true);

    for (const protocol of PROTOCOLS) {
      for (const sites of SIZES) {
        const name = `patch-${protocol}-${sites}`;
        const r = results.find((x) => x.name === name);
        if (r === undefined) {
          // A quick run may leave out a benchmark it cannot afford, and must say so.
          expect(notRun.some((line) => line.startsWith(`${name}:`)), `result ${name} neither run nor listed in machine.notRun`).toBe(true);
          continue;
        }
        expect(isPositive(r.wallMsP50), `${name}.wallMsP50 = ${String(r.wallMsP50)}`).toBe(true);
        expect((r.wallMsMax as number) >= (r.wallMsP50 as number), `${name}: max >= p50`).toBe(true);
        expect(r.syncRounds, `${name}.syncRounds`).toBe(ROUNDS(protocol, sites));
        expect(isCount(r.faults), `${name}.faults = ${String(r.faults)}`).toBe(true);
        if (SAFE.has(protocol)) expect(r.faults, `${name}: a safe protocol faulted`).toBe(0);
        expect(r.faultsExpected).toBe(!SAFE.has(protocol));
        expect(r.verified, `${name}: ${String(r.verifyError)}`).toBe(true);
      }
    }
    // Only the per-site int3 run at 20,000 sites may be left out.
    expect(notRun.every((line) => line.startsWith('patch-int3-20000:'))).toBe(true);

    for (const mode of ['shared', 'percpu']) {
      const r = results.find((x) => x.name === `patch-int3-batch-20000-refcount-${mode}`);
      expect(r, `refcount ${mode}`).toBeDefined();
      expect(r?.refcount).toBe(mode);
      expect(r?.syncRounds).toBe(3);
      expect(r?.faults).toBe(0);
      expect(isPositive(r?.trapsP50), `refcount ${mode}: traps`).toBe(true);
      expect(isPositive(r?.breakpointHandlerMsP50), `refcount ${mode}: breakpointHandlerMs`).toBe(true);
      expect(r?.verified, `refcount ${mode}: ${String(r?.verifyError)}`).toBe(true);
    }
    const idle = results.find((x) => x.name === 'patch-int3-batch-20000-idle-cpus');
    expect(idle?.verified, String(idle?.verifyError)).toBe(true);
    expect(idle?.trapsP50).toBe(0);

    const targets = report.targets as Record<string, unknown>[];
    expect(targets.map((t) => t.name).sort()).toEqual(['int3-batch-20000-sync-rounds', 'int3-batch-20000-wall', 'int3-batch-vs-int3-20000']);
    for (const t of targets) {
      expect(typeof t.met).toBe('boolean');
      expect(isPositive(t.measured), `${String(t.name)}.measured`).toBe(true);
      expect(isPositive(t.required)).toBe(true);
      expect(typeof t.detail).toBe('string');
    }
    // In a quick run per-site int3 at 20,000 sites is extrapolated, and the target says so.
    const ratio = targets.find((t) => t.name === 'int3-batch-vs-int3-20000');
    if (notRun.length > 0) expect(String(ratio?.detail)).toMatch(/^EXTRAPOLATED/);

    expect(typeof machine.cpuModel).toBe('string');
    expect(isPositive(machine.cores)).toBe(true);
    expect(machine.node).toBe(process.version);
    expect(machine.runKind).toBe('quick');
    expect(typeof machine.patchBuildHash).toBe('string');
  });

  it('rejects an unknown option with exit code 2', async () => {
    const run = await runCli(['bench', 'patch', '--no-such-option']);
    expect(run.code).toBe(2);
  });
});
