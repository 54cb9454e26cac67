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
      // The hook ran: the writer lapped the reader between its load of the tail and the swap.
      expect(armed).toBe(false);
      expect(seq).toBe(40 + 8 * 2 * laps + 8);
      const afterRead = rb.cpuStats(0);
      expect(afterRead.unread).toBeGreaterThanOrEqual(0);
      expect(afterRead.read).toBe(seqs.length);
      r.drain(visitor);
      const s = rb.cpuStats(0);
      expect(corrupt).toEqual([]);
      expect(s.lostToCorruption).toBe(0);
      // The overrun the lapping implies: the ring holds its 2 pages of 8 records, the newest 16
      // events; everything before them was overwritten, announced once as one gap.
      expect(s.read).toBe(16);
      expect(s.overrun).toBe(seq - 16);
      expect(lost).toEqual([{ cpu: 0, count: seq - 16, cause: 'overrun', beforeIndex: seq - 16 }]);
      // The model's own count of what is still unread: written, less delivered, less announced lost.
      expect(s.unread).toBe(seq - seqs.length - lost.reduce((n, l) => n + l.count, 0));
      expect(s.unread).toBe(0);
      // What was read is the newest events, in order, ending with the last one written.
      expect(seqs).toEqual(seqs.map((_, i) => seq - seqs.length + i));
    });
  }
});
