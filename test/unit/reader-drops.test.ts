import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/index.js';

describe('reader: drops announced ahead of the pages', () => {
  it('drops reported while pages opened before them are unread are not mistaken for damage, nor counted twice', () => {
    // What drain() does when a writer is still running: it reads to the end, the writer opens
    // a page and fills the ring again, then drain reports every drop so far. Here in one thread.
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, mode: 'discard', clock: 'counter' });
    const w = rb.writer(0);
    const r = rb.reader();
    let stored = 0;
    for (let i = 0; i < 200; i++) if (w.write(1, i, 0, 0, 0)) stored++;
    const dropped = rb.cpuStats(0).dropped;
    expect(dropped).toBeGreaterThan(0);
    const corrupt: string[] = [];
    let lost = 0;
    const seen: number[] = [];
    const visitor = {
      event: (e: { u32(i: number): number }) => void seen.push(e.u32(0)),
      lost: (l: { count: number; cause: string }) => void (lost += l.cause === 'dropped' ? l.count : 0),
      corrupt: (c: { reason: string }) => void corrupt.push(c.reason),
    };
    r.reportDrops(visitor); // every drop so far, while the pages written before them are unread
    r.drain(visitor);
    expect(corrupt).toEqual([]);
    expect(lost).toBe(dropped);
    expect(seen).toEqual([...Array(stored).keys()]);
    // And the ring goes on: later drops are announced once, by page or at the end.
    for (let i = 0; i < 200; i++) if (w.write(1, 1000 + i, 0, 0, 0)) stored++;
    r.drain(visitor);
    expect(corrupt).toEqual([]);
    expect(lost).toBe(rb.cpuStats(0).dropped);
    expect(seen.length).toBe(stored);
  });
});
