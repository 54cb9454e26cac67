import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/index.js';
import { HookPoint } from '../../src/ring/interrupt.js';
import { C_TAIL_SEQ } from '../../src/ring/layout.js';

/**
 * The writer's two bounded loops, driven past their bound through the interrupt hook: each
 * gives up once, counts it once, and says so in the stats.
 */
describe('writer loop bounds', () => {
  it('a reservation that keeps retrying its page switch gives up: one drop, counted once as writer damage', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, mode: 'overwrite', clock: 'counter' });
    const w = rb.writer(0);
    let seq = 0;
    while (rb.cpuStats(0).entries < 8) w.write(1, seq++, 0, 0, 0); // fill the tail page (8 records)
    // A stray write at every page-full point moves the tail seq under the writer, so each
    // page switch sees the tail moved (S0) and retries: the reserve loop never ends by itself.
    const tailSeqWord = (rb.view.controlBase(0) + C_TAIL_SEQ) >> 3;
    let strays = 0;
    w.hook = (point) => {
      if (point !== HookPoint.pageFull) return;
      strays++;
      rb.view.f64[tailSeqWord]! += 1;
    };
    expect(w.write(1, seq++, 0, 0, 0)).toBe(false);
    w.hook = null;
    expect(strays).toBe(1000);
    const s = rb.cpuStats(0);
    expect(s.dropped).toBe(1);
    // Writer damage, found twice and counted once each: the reserve loop gives up (the
    // drop), then the commit cannot follow page links to the tail the stray writes moved
    // (publishCommit counts a broken link instead of writing through it).
    expect(s.writerCorrupt).toBe(2);
    expect(s.corrupt).toBe(2);
    expect(s.releaseGaveUp).toBe(0);
  });

  it('a commit loop that never catches the tail gives up and says so in stats.releaseGaveUp', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 64, pageBytes: 4096, mode: 'overwrite', clock: 'counter' });
    const w = rb.writer(0);
    // At E of the outer write, a nested write reserves and commits: it leaves its record to the
    // outer writer (depth 2), which then finds the commit behind the tail and goes round again.
    let nested = false;
    let interruptions = 0;
    w.hook = (point) => {
      if (point !== HookPoint.committed || nested) return;
      nested = true;
      interruptions++;
      w.write(2, interruptions, 0, 0, 0);
      nested = false;
    };
    w.write(1, 0, 0, 0, 0);
    w.hook = null;
    expect(interruptions).toBe(1000);
    const s = rb.cpuStats(0);
    expect(s.releaseGaveUp).toBe(1);
    expect(s.corrupt).toBe(1);
    expect(s.dropped).toBe(0);
  });
});
