/**
 * The ring buffer under real threads: one writer thread per CPU buffer with nested
 * ("NMI") writes injected through the interrupt hook, one reader thread consuming
 * concurrently, then a drain. Every event is verified (payload, per-stream order, index
 * contiguity) and the totals must balance as in the kernel's ring buffer self-test:
 * written = read + overrun + dropped + unread, with nothing corrupt.
 */
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { runRingStress, type RingStressOptions, type RingStressResult } from '../../src/stress/ring-stress.js';
import { RECORD_HEADER_BYTES } from '../../src/ring/record.js';
import { testSeed } from '../seed.js';

function expectBalanced(r: RingStressResult): void {
  // On failure the message carries the seed and the first failed checks, so the run replays.
  const why = `SEED=${r.seed}\n${r.failures.join('\n')}`;
  expect(r.corrupt, why).toBe(0);
  expect(r.unaccounted, why).toBe(0);
  expect(r.unread, why).toBe(0);
  expect(r.written, why).toBe(r.read + r.overrun + r.dropped + r.unread);
  expect(r.lostToCorruption, why).toBe(0);
  for (const c of r.perCpu) expect(c.missing, why).toBe(c.overrun + c.dropped);
}

async function stress(name: string, options: RingStressOptions): Promise<RingStressResult> {
  const r = await runRingStress({ ...options, seed: testSeed(name) });
  console.log(
    `[stress] ${name}: ${(r.written / 1e6).toFixed(1)} M written, ${(r.read / 1e6).toFixed(1)} M read, ` +
      `${(r.readWhileWriting / 1e6).toFixed(2)} M of them while writing, ${r.overrun} overrun, ${r.dropped} dropped, ${r.nmis} nmis, nesting ${r.maxNesting}, ` +
      `${(r.eventsPerSec / 1e6).toFixed(1)} M events/s${r.oversubscribed ? ' (oversubscribed)' : ''}`,
  );
  return r;
}

const NMI_RATE = 20_000;

/**
 * The reader ran concurrently: what it delivered before the stop signal exceeds many times
 * over the most events the ring could hold (every page, the reader's included, full of
 * header-only records), so it cannot have come from one drain at the end.
 */
function expectReadConcurrently(r: RingStressResult, times: number): void {
  const capacity = (r.cpus * (r.pagesPerCpu + 1) * r.pageBytes) / RECORD_HEADER_BYTES;
  expect(r.readWhileWriting, `SEED=${r.seed}: read while writing vs ring capacity ${capacity}`).toBeGreaterThan(times * capacity);
}

describe('ring buffer with one writer thread per cpu and a concurrent reader', () => {
  // Small rings (4 pages of 1 KiB, ~40 events a page) so the loss paths run constantly.
  describe.each([
    ['overwrite', 'hrtime'],
    ['overwrite', 'counter'],
    ['overwrite', 'coarse'],
    ['discard', 'hrtime'],
    ['discard', 'counter'],
    ['discard', 'coarse'],
  ] as const)('%s mode, %s clock, small ring', (mode, clock) => {
    it('verifies every event, accounts for every loss, nests NMIs 4+ deep', async () => {
      const seconds = 1.5;
      const r = await stress(`ring-threads ${mode} ${clock} small`, {
        cpus: 2,
        seconds,
        nmiPerSecond: NMI_RATE,
        mode,
        clock,
        pagesPerCpu: 4,
        pageBytes: 1024,
      });
      expectBalanced(r);
      expect(r.written).toBeGreaterThan(1_000_000);
      expectReadConcurrently(r, 10);
      // The loss path of the mode actually ran.
      if (mode === 'overwrite') expect(r.overrun).toBeGreaterThan(0);
      else expect(r.dropped).toBeGreaterThan(0);
      expect(r.maxNesting).toBeGreaterThanOrEqual(4);
      // The injection schedule hits its rate (loosely: the machine is oversubscribed).
      const expected = NMI_RATE * r.elapsedSeconds * r.cpus;
      expect(r.nmis).toBeGreaterThan(0.5 * expected);
      expect(r.nmis).toBeLessThan(1.5 * expected);
      // Every hook point, the page-switch steps included, was interrupted.
      for (const [point, n] of Object.entries(r.nmisByPoint)) expect(n, point).toBeGreaterThan(0);
    });
  });

  it('keeps a default-sized ring balanced (overwrite, hrtime)', async () => {
    const r = await stress('ring-threads overwrite default', { cpus: 2, seconds: 2, nmiPerSecond: 10_000 });
    expectBalanced(r);
    expect(r.maxNesting).toBeGreaterThanOrEqual(4);
  });

  it('survives the smallest ring, where nested writes can overrun the commit (2 pages of 256 B)', async () => {
    const r = await stress('ring-threads overwrite tiny', {
      cpus: 2,
      seconds: 1,
      nmiPerSecond: 50_000,
      mode: 'overwrite',
      clock: 'counter',
      pagesPerCpu: 2,
      pageBytes: 256,
    });
    expectBalanced(r);
    expect(r.overrun).toBeGreaterThan(0);
    expectReadConcurrently(r, 10);
  });

  it('stays balanced with more writer threads than cores (discard, counter)', async () => {
    const cpus = availableParallelism() + 1;
    const r = await stress(`ring-threads discard ${cpus} cpus`, {
      cpus,
      seconds: 1,
      nmiPerSecond: NMI_RATE,
      mode: 'discard',
      clock: 'counter',
      pagesPerCpu: 8,
      pageBytes: 1024,
    });
    expectBalanced(r);
    expect(r.dropped).toBeGreaterThan(0);
    expect(r.cpus).toBeGreaterThan(r.availableParallelism);
    expectReadConcurrently(r, 10);
  });

  it('runs without a hook (no NMIs) and still balances', async () => {
    const r = await stress('ring-threads no nmi', { cpus: 2, seconds: 0.5, nmiPerSecond: 0, mode: 'discard', pagesPerCpu: 8 });
    expectBalanced(r);
    expect(r.nmis).toBe(0);
    expect(r.maxNesting).toBe(1);
  });
});
