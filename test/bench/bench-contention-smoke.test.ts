import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isCount, isPositive, runCli } from './run-cli.js';

/**
 * Smoke test of `ringtrace bench contention` with tiny settings (2 writers, 50 ms cells):
 * every design with and without NMIs runs through the CLI in a child process, every cell
 * verifies, the JSON has the promised shape, and --plot writes the SVGs. No timing
 * assertion: the figures of such a run on a shared machine mean little.
 */

const DESIGNS = ['percpu', 'shared', 'locked-page', 'locked'];
const dir = mkdtempSync(join(tmpdir(), 'ringtrace-contention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ringtrace bench contention', () => {
  it('prints { results, targets, machine }: a verified cell per design and NMI mode', { timeout: 120_000 }, async () => {
    const run = await runCli(['bench', 'contention', '--writers', '2', '--cell-ms', '50', '--nmi-rate', '20000', '--json', '--plot', dir]);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(['machine', 'results', 'targets']);
    const results = report.results as Record<string, unknown>[];
    expect(results.length).toBe(DESIGNS.length * 2);
    for (const design of DESIGNS) {
      for (const nmiRate of [0, 20000]) {
        const r = results.find((x) => x.design === design && x.nmiRate === nmiRate);
        expect(r, `${design} at ${nmiRate} NMIs/s`).toBeDefined();
        expect(r?.verified, `${design} ${nmiRate}: ${String(r?.verifyError)}`).toBe(true);
        expect(r?.writers).toBe(2);
        for (const key of ['eventsPerSec', 'perWriterEventsPerSec', 'eventsPerCpuSec', 'p50Ns', 'p99Ns', 'p999Ns']) {
          expect(isPositive(r?.[key]), `${design}.${key} = ${String(r?.[key])}`).toBe(true);
        }
        expect(typeof r?.oversubscribed).toBe('boolean');
        const lost = r?.lost as Record<string, unknown>;
        for (const cause of ['full', 'nmiLock', 'timeout', 'other']) expect(isCount(lost[cause]), `${design}.lost.${cause}`).toBe(true);
        expect(lost.timeout).toBe(0);
        if (nmiRate > 0) expect(r?.nmis as number).toBeGreaterThan(0);
        if (design === 'percpu' || design === 'shared') expect(lost.nmiLock).toBe(0);
      }
    }
    // The lock around every write shows its NMI failure mode in numbers.
    const lockedNmi = results.find((x) => x.design === 'locked' && x.nmiRate === 20000)?.lost as Record<string, number>;
    expect(lockedNmi.nmiLock).toBeGreaterThan(0);
    const targets = report.targets as Record<string, unknown>[];
    expect(targets.map((t) => t.name).sort()).toEqual([
      'percpu-vs-locked-2-writers',
      'percpu-vs-locked-2-writers-on-cpu',
      'percpu-vs-shared-2-writers',
      'percpu-vs-shared-2-writers-on-cpu',
    ]);
    const machine = report.machine as Record<string, unknown>;
    expect(isPositive(machine.cores)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['contention-cpu.svg', 'contention-p999.svg', 'contention-throughput.svg']);
  });

  it('rejects a bad writer list, a bad NMI rate and an unknown option with exit code 2', async () => {
    for (const args of [['--writers', '0'], ['--writers', '2,x'], ['--nmi-rate', '-1'], ['--cell-ms', '5'], ['--no-such-option']]) {
      const run = await runCli(['bench', 'contention', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      // One line naming the problem and pointing to --help.
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr).toMatch(/^ringtrace bench contention: .*see 'ringtrace bench contention --help'/);
    }
  });
});
