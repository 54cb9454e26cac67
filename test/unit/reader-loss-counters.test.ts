import { describe, expect, it } from 'vitest';
import { RingBuffer, type LostEvents } from '../../src/index.js';
import { C_DROPPED, C_DROPPED_REPORTED, C_NEXT_INDEX } from '../../src/ring/layout.js';

/**
 * Damaged loss counters (a flipped word in a dump, a stray write) must never turn into a
 * loss that cannot be: every `lost` carries a whole positive count and a place >= 0, and the
 * damage is reported as corruption instead.
 */
describe('reader: damaged loss counters', () => {
  const damage = [
    ['the writer dropped count, tiny', C_DROPPED, 4.59e-36],
    ['the writer dropped count, huge', C_DROPPED, 5.4e303],
    ['the writer dropped count, fractional', C_DROPPED, 12.5],
    ['the writer dropped count, negative', C_DROPPED, -7],
    ['the announced-drops count, negative', C_DROPPED_REPORTED, -3],
    ['the announced-drops count, fractional', C_DROPPED_REPORTED, 0.25],
    ['the announced-drops count, above the writer', C_DROPPED_REPORTED, 1e6],
    ['the next index, negative', C_NEXT_INDEX, -4],
    ['the next index, fractional', C_NEXT_INDEX, 10.5],
  ] as const;

  for (const [what, word, value] of damage) {
    for (const when of ['after the drops', 'with no drops'] as const) {
      it(`${what} (${value}), ${when}: reported as corrupt, never an impossible loss`, () => {
        const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, mode: 'discard', clock: 'counter' });
        const w = rb.writer(0);
        const r = rb.reader();
        const attempts = when === 'with no drops' ? 5 : 200;
        for (let i = 0; i < attempts; i++) w.write(1, i, 0, 0, 0);
        if (when === 'after the drops') expect(rb.cpuStats(0).dropped).toBeGreaterThan(0);
        rb.view.f64[(rb.view.controlBase(0) + word) >> 3] = value;
        const lost: LostEvents[] = [];
        const corrupt: string[] = [];
        let read = 0;
        const visitor = { event: () => void read++, lost: (l: LostEvents) => void lost.push(l), corrupt: (c: { reason: string }) => void corrupt.push(c.reason) };
        expect(() => r.drain(visitor)).not.toThrow();
        for (const l of lost) {
          expect(Number.isSafeInteger(l.count) && l.count > 0, `count ${l.count}`).toBe(true);
          expect(Number.isSafeInteger(l.beforeIndex) && l.beforeIndex >= 0, `beforeIndex ${l.beforeIndex}`).toBe(true);
        }
        expect(corrupt.length).toBeGreaterThanOrEqual(1);
        // Reported once, not again by every later drain.
        r.drain(visitor);
        r.drain(visitor);
        expect(corrupt.length).toBe(1);
        expect(read).toBeGreaterThan(0);
      });
    }
  }
});
