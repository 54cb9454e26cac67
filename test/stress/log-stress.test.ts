import { describe, expect, it } from 'vitest';
import { runLogStress, type LogStressResult } from '../../src/stress/log-stress.js';
import { testSeed } from '../seed.js';

function expectBalanced(r: LogStressResult): void {
  expect(r.failures).toEqual([]);
  expect(r.corrupt).toBe(0);
  expect(r.outOfOrder).toBe(0);
  expect(r.unaccounted).toBe(0);
  // The writers count stored and refused each on its own; the rings and the shared slot's
  // lock count them again: every attempt reached a ring or timed out on the lock, and every
  // refusal is a ring's drop or a lock timeout.
  expect(r.emitted).toBe(r.stored + r.refused);
  expect(r.emitted).toBe(r.ringWritten + r.lockTimeouts);
  expect(r.refused).toBe(r.ringDropped + r.lockTimeouts);
  expect(r.perThread.every((t) => t.emitted > 0)).toBe(true);
}

describe('EventLog stress on worker threads (ringtrace stress log)', () => {
  it.each(['discard', 'overwrite'] as const)(
    '%s: six threads on three slots (four sharing one), consumed concurrently, every event checked and every loss counted',
    async (mode) => {
      const seed = testSeed(`log-stress ${mode}`);
      // A small ring, so the loss path of the mode runs while the consumer keeps reading.
      const r = await runLogStress({ threads: 6, slots: 3, seconds: 1, mode, clock: 'hrtime', pagesPerSlot: 8, pageBytes: 4096, seed });
      expectBalanced(r);
      expect(r.sharedThreads).toBe(4);
      expect(r.delivered).toBeGreaterThan(10_000);
      if (mode === 'discard') expect(r.lostDropped).toBeGreaterThan(0);
      else expect(r.lostOverrun).toBeGreaterThan(0);
    },
  );

  it('a ring big enough for the run loses nothing (counter clock)', async () => {
    const seed = testSeed('log-stress roomy');
    // 2 x 64 MiB: room for ~1.6 M events a slot, more than a thread emits in 0.1 s here (~0.5 M).
    const r = await runLogStress({ threads: 2, slots: 2, seconds: 0.1, mode: 'discard', clock: 'counter', pagesPerSlot: 1024, pageBytes: 65_536, seed });
    expectBalanced(r);
    expect(r.sharedThreads).toBe(0);
    expect(r.refused).toBe(0);
    expect(r.delivered).toBe(r.stored);
  });

  it('rejects bad options with the option named', async () => {
    await expect(runLogStress({ threads: 0 })).rejects.toThrow(/options\.threads must be an integer between 1 and 64 \(got 0\)/);
    await expect(runLogStress({ seconds: -1 })).rejects.toThrow(RangeError);
    await expect(runLogStress({ threads: 3, slots: 1 })).rejects.toThrow(/options\.slots must be at least 2 when options\.threads \(3\) exceeds it/);
  });
});
