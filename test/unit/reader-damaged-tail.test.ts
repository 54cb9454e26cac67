import { describe, expect, it } from 'vitest';
import { RingBuffer, type LostEvents } from '../../src/index.js';
import { PAGE_HEADER_BYTES, C_TAIL_PHYS } from '../../src/ring/layout.js';
import { RECORD_HEADER_BYTES } from '../../src/ring/record.js';

/** Damages the record header of the event at `index` on the writer's tail page (16-byte payloads: 24 bytes a record). */
function damageTailRecord(rb: RingBuffer, index: number): void {
  const page = rb.view.pageAt(0, rb.view.controlI32(0, C_TAIL_PHYS));
  const rec = page + PAGE_HEADER_BYTES + index * (RECORD_HEADER_BYTES + 16);
  rb.view.i32[rec >> 2] = 0; // kind 0: never a record
}

describe('reader: events skipped on a damaged last page', () => {
  for (const mode of ['overwrite', 'discard'] as const) {
    it(`are announced as lost to corruption where they were, and stats balance after the final drain (${mode})`, () => {
      const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 4096, mode, clock: 'counter' });
      const w = rb.writer(0);
      for (let i = 0; i < 100; i++) expect(w.write(1, i, 0, 0, 0)).toBe(true);
      damageTailRecord(rb, 40);
      const r = rb.reader();
      const seen: number[] = [];
      const lost: LostEvents[] = [];
      const order: string[] = [];
      let corrupt = 0;
      r.drain({
        event: (e) => {
          seen.push(e.u32(0));
          order.push('event');
        },
        lost: (l) => {
          lost.push(l);
          order.push('lost');
        },
        corrupt: () => {
          corrupt++;
          order.push('corrupt');
        },
      });
      expect(seen).toEqual([...Array(40).keys()]);
      expect(corrupt).toBe(1);
      expect(lost).toEqual([{ cpu: 0, count: 60, cause: 'corrupt', beforeIndex: 100 }]);
      expect(order.slice(-2)).toEqual(['corrupt', 'lost']);
      expect(rb.cpuStats(0)).toMatchObject({ entries: 100, read: 40, lostToCorruption: 60, unread: 0 });

      // The ring goes on: events written later on the same damaged page are announced by the
      // next drain, and those on the pages after it are delivered.
      for (let i = 100; i < 400; i++) w.write(1, i, 0, 0, 0);
      const after: number[] = [];
      const lostAfter: LostEvents[] = [];
      r.drain({ event: (e) => void after.push(e.u32(0)), lost: (l) => void lostAfter.push(l), corrupt: () => void corrupt++ });
      expect(corrupt).toBe(1);
      expect(lostAfter.length).toBe(1);
      const gap = lostAfter[0]!;
      expect(gap).toMatchObject({ cpu: 0, cause: 'corrupt', beforeIndex: 100 + gap.count });
      expect(after).toEqual(Array.from({ length: 300 - gap.count }, (_, k) => 100 + gap.count + k));
      const s = rb.cpuStats(0);
      expect(s.unread).toBe(0);
      expect(s.read + s.lostToCorruption).toBe(400);
    });
  }

  it('are announced once, by the page after them when there is one (no double count)', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 4096, mode: 'discard', clock: 'counter' });
    const w = rb.writer(0);
    for (let i = 0; i < 100; i++) w.write(1, i, 0, 0, 0);
    damageTailRecord(rb, 10);
    const r = rb.reader();
    let lost = 0;
    let read = 0;
    // read() alone (no final drain): the damaged page is the newest, nothing announced yet.
    r.read({ event: () => void read++, lost: (l) => void (lost += l.count) });
    expect([read, lost]).toEqual([10, 0]);
    for (let i = 100; i < 300; i++) w.write(1, i, 0, 0, 0); // fills the page and opens the next
    r.drain({ event: () => void read++, lost: (l) => void (lost += l.count) });
    expect(read + lost).toBe(300);
    expect(rb.cpuStats(0)).toMatchObject({ unread: 0, lostToCorruption: lost });
  });
});
