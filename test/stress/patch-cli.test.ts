import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/ringtrace.js', import.meta.url));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ringtrace patch', () => {
  it('--json prints the totals and per-operation metrics, and a safe protocol exits 0', () => {
    const r = run(['patch', '--protocol', 'int3-batch', '--sites', '500', '--ops', '4', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const key of ['protocol', 'sites', 'ops', 'wallMsP50', 'wallMsMax', 'syncRounds', 'ipis', 'traps', 'faults', 'staleAfterDone']) {
      expect(out, key).toHaveProperty(key);
    }
    expect(out['syncRounds']).toBe(12);
    expect(out['faults']).toBe(0);
    expect(out['staleAfterDone']).toBe(0);
  });

  it('reports a hazard protocol\'s faults as results (exit 0), and rejects bad arguments with exit 2', () => {
    const r = run(['patch', '--protocol', 'stop-machine', '--sites', '4', '--ops', '4', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ protocol: 'stop-machine', mustBeSafe: false });
    expect(run(['patch', '--protocol', 'cmpxchg']).status).toBe(2);
    expect(run(['patch']).status).toBe(2);
    expect(run(['machine', '--cpus', '0']).status).toBe(2);
  });

  it("the README's hazard demo shows redo's faults (a race: up to 3 runs), and --nmi-calls is checked", () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const line = /^npx ringtrace (patch --protocol redo [^#\n]*?)\s+# the hazard/m.exec(readme);
    expect(line, 'the demo line in the README').not.toBeNull();
    const args = line![1]!.split(/\s+/);
    let faults = 0;
    for (let attempt = 0; attempt < 3 && faults === 0; attempt++) {
      const r = run([...args, '--json']);
      expect(r.status, r.stderr).toBe(0); // a hazard protocol's faults are its expected result
      const out = JSON.parse(r.stdout) as { faults: number; mustBeSafe: boolean };
      expect(out.mustBeSafe).toBe(false);
      faults = out.faults;
      console.log(`hazard demo, run ${attempt + 1}: ${faults} faults`);
    }
    expect(faults).toBeGreaterThan(0);
    const bad = run(['patch', '--protocol', 'redo', '--nmi-calls', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--nmi-calls <n>' argument '0' is invalid\. must be an integer between 1 and 10000/);
  });

  it('ringtrace machine --json balances', () => {
    const r = run(['machine', '--seconds', '0.5', '--sites', '1000', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, number>;
    for (const key of ['seed', 'cpus', 'seconds', 'events', 'read', 'overrun', 'dropped', 'unread', 'unaccounted', 'corrupt', 'faults', 'nmis', 'ipis', 'maxNesting', 'recursionSkipped']) {
      expect(out, key).toHaveProperty(key);
    }
    expect(out['unaccounted']).toBe(0);
    expect(out['corrupt']).toBe(0);
    expect(out['faults']).toBe(0);
    expect(out['events']).toBeGreaterThan(0);
  });
});
