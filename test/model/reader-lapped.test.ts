import { afterEach, describe, expect, it } from 'vitest';
import { RingBuffer, type CorruptionReport, type LostEvents } from '../../src/index.js';
import { C_PUBLISHED_TAIL } from '../../src/ring/layout.js';

/**
 * A handshake-forced interleaving: the reader loads the published tail, and before it looks
 * at the slot the writer laps it more than once (as when the reader thread is preempted).
 * The slot then says seq + 2N or more; that is an overwrite, not damage.
 */
const realLoad = Atomics.load;

afterEach(() => {
  Atomics.load = realLoad;
});

describe('reader lapped while it swaps', () => {
  for (const laps of [1, 2, 3, 5]) {
    it(`treats a slot overwritten ${laps} lap(s) ahead as overrun, with exact accounting`, () => {
      const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256, mode: 'overwrite', clock: 'counter' });
      const w = rb.writer(0);
      const r = rb.reader();
      let seq = 0;
      const write = (n: number): void => {
        for (let i = 0; i < n; i++, seq++) w.write(1, seq, 0, 0, 0);
      };
      write(40);
      const tailWord = (rb.view.controlBase(0) + C_PUBLISHED_TAIL) >> 2;
      let armed = true;
      // Runs the writer right after the reader's load of the published tail.
      Atomics.load = ((ta: Int32Array, i: number) => {
        const v = realLoad(ta, i);
        if (armed && ta.buffer === rb.buffer && i === tailWord) {
          armed = false;
          write(8 * 2 * laps + 8); // 8 records a page, 2 pages a lap
        }
        return v;
      }) as typeof Atomics.load;
      const corrupt: CorruptionReport[] = [];
      const lost: LostEvents[] = [];
      const seqs: number[] = [];
      const visitor = { event: (e: { u32(i: number): number }) => void seqs.push(e.u32(0)), lost: (l: LostEvents) => lost.push(l), corrupt: (c: CorruptionReport) => corrupt.push(c) };
      r.read(visitor);
      Atomics.load = realLoad;
      r.drain(visitor);
      const s = rb.cpuStats(0);
      expect(corrupt).toEqual([]);
      expect(lost.every((l) => l.cause === 'overrun')).toBe(true);
      expect(lost.reduce((n, l) => n + l.count, 0)).toBe(s.overrun);
      expect(s.read + s.overrun + s.dropped + s.unread).toBe(s.written);
      expect(s.unread).toBe(0);
      expect(s.lostToCorruption).toBe(0);
      // What was read is the newest events, in order, ending with the last one written.
      expect(seqs).toEqual(seqs.map((_, i) => seq - seqs.length + i));
    });
  }
});
