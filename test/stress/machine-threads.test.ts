import { describe, expect, it } from 'vitest';
import { Machine, type MachineReport } from '../../src/machine/machine.js';
import { testSeed } from '../seed.js';

function expectClean(r: MachineReport): void {
  expect(r.failures).toEqual([]);
  expect(r.corrupt).toBe(0);
  expect(r.unaccounted).toBe(0);
  expect(r.faults).toBe(0);
  expect(r.unread).toBe(0);
  expect(r.read + r.overrun + r.dropped).toBe(r.events);
}

describe('the machine on worker threads', () => {
  it('traces with NMIs firing everywhere, and every event is read back intact and accounted for', async () => {
    const seed = testSeed('machine-threads nmis');
    // NMI handlers run traced sites, and NMIs land inside the tracer and inside ring writes.
    const m = await Machine.start({ cpus: 2, sites: 20_000, nmiPerSecond: 20_000, nmiSites: [100, 101, 102], seed });
    const r = await m.runFor(1.5);
    expectClean(r);
    expect(r.read).toBeGreaterThan(200_000);
    expect(r.nmis).toBeGreaterThan(1_000);
    expect(r.nmisAt['ringWrite']).toBeGreaterThan(0); // NMI writes that interrupted a write
    expect(r.nmisAt['tracer']).toBeGreaterThan(0);
    expect(r.maxNesting).toBe(2);
  });

  it.each(['overwrite', 'discard'] as const)('accounts exactly for losses in a small %s ring', async (mode) => {
    const seed = testSeed(`machine-threads small ${mode}`);
    const m = await Machine.start({ cpus: 2, sites: 2_000, nmiPerSecond: 5_000, seed, ring: { pagesPerCpu: 4, pageBytes: 1024, mode } });
    const r = await m.runFor(0.8);
    expectClean(r);
    if (mode === 'overwrite') expect(r.overrun).toBeGreaterThan(0);
    else expect(r.dropped).toBeGreaterThan(0);
  });

  it('completes sync_core rounds to busy CPUs and to sleeping ones', async () => {
    const seed = testSeed('machine-threads sync');
    for (const idleProbability of [0, 1]) {
      const m = await Machine.start({ cpus: 2, sites: 1_000, nmiPerSecond: 1_000, seed, idleProbability, idleMs: 50 });
      try {
        for (let i = 0; i < 20; i++) {
          const s = await m.syncCore();
          expect(s.missing, `round ${i}, idle ${idleProbability}`).toEqual([]);
        }
      } finally {
        const r = await m.stop();
        expectClean(r);
        expect(r.ipis).toBeGreaterThanOrEqual(40);
      }
    }
  });

  it('stops with an error naming the CPU that threw, and leaves no thread running', async () => {
    const seed = testSeed('machine-threads crash');
    const m = await Machine.start({ cpus: 2, sites: 1_000, seed, crash: { cpu: 1, afterSteps: 20_000 } });
    const t = performance.now();
    await expect(m.runFor(10)).rejects.toThrow(/cpu 1 failed: .*injected crash/);
    expect(performance.now() - t).toBeLessThan(5_000);
    expect(m.memory.running()).toBe(0);
  });

  it('rejects bad options with the option named', async () => {
    await expect(Machine.start({ cpus: 0 })).rejects.toThrow(/options\.cpus must be an integer between 1 and 64 \(got 0\)/);
    await expect(Machine.start({ traced: 2 })).rejects.toThrow(/options\.traced must be a number between 0 and 1/);
    await expect(Machine.start({ sites: 10, nmiSites: [10] })).rejects.toThrow(RangeError);
  });
});
