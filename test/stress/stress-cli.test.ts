/** `ringtrace stress ring` as a user runs it: the compiled CLI in a child process. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testSeed } from '../seed.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function ringtrace(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/ringtrace.js'), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ringtrace stress ring', () => {
  it('--json prints exactly one JSON object and exits 0 on a clean run', () => {
    const seed = testSeed('stress-cli json');
    const r = ringtrace('stress', 'ring', '--cpus', '1', '--seconds', '0.5', '--nmi-rate', '10000', '--mode', 'discard', '--clock', 'counter', '--pages', '8', '--seed', String(seed), '--json');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!) as Record<string, unknown>;
    for (const key of ['seed', 'cpus', 'seconds', 'written', 'read', 'overrun', 'dropped', 'unread', 'corrupt', 'unaccounted', 'maxNesting', 'nmis', 'perCpu', 'eventsPerSec', 'oversubscribed']) {
      expect(out, key).toHaveProperty(key);
    }
    expect(out['seed']).toBe(seed);
    expect(out['cpus']).toBe(1);
    expect(out['corrupt']).toBe(0);
    expect(out['unaccounted']).toBe(0);
    expect(out['written']).toBeGreaterThan(0);
  });

  it('prints a table with the seed', () => {
    const r = ringtrace('stress', 'ring', '--cpus', '1', '--seconds', '0.2', '--mode', 'discard', '--seed', '42');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/seed 42/);
    expect(r.stdout).toMatch(/^all\s+[\d,]+/m);
    expect(r.stdout).toMatch(/check: corrupt 0, unaccounted 0: OK/);
  });

  it.each([
    [['--cpus', '0'], /--cpus.*must be an integer between 1 and 64/],
    [['--mode', 'sometimes'], /--mode.*must be one of overwrite, discard/],
    [['--page-bytes', '1000'], /--page-bytes.*must be a power of two/],
    [['--seconds', 'soon'], /--seconds.*must be a number/],
    [['--bogus'], /unknown option '--bogus'/],
  ])('exits 2 on a bad argument: %j', (args, message) => {
    const r = ringtrace('stress', 'ring', ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('--help exits 0 and documents the options', () => {
    const r = ringtrace('stress', 'ring', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--nmi-rate <r>/);
    expect(r.stdout).toMatch(/--page-bytes <b>/);
  });
});

describe('ringtrace stress log', () => {
  it('--json prints one JSON object and exits 0 on a clean run', () => {
    const seed = testSeed('stress-cli log');
    const r = ringtrace('stress', 'log', '--threads', '3', '--slots', '2', '--seconds', '0.5', '--pages', '8', '--seed', String(seed), '--json');
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!) as Record<string, unknown>;
    for (const key of ['seed', 'threads', 'slots', 'emitted', 'stored', 'refused', 'delivered', 'lostDropped', 'corrupt', 'outOfOrder', 'unaccounted', 'perThread']) {
      expect(out, key).toHaveProperty(key);
    }
    expect(out['seed']).toBe(seed);
    expect(out['corrupt']).toBe(0);
    expect(out['unaccounted']).toBe(0);
  });

  it('bad arguments exit 2 naming the option', () => {
    const r = ringtrace('stress', 'log', '--threads', '0');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--threads/);
  });
});
