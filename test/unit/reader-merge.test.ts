import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/index.js';
import { prng, testSeed } from '../seed.js';

describe('reader merge', () => {
  it('delivers the CPUs merged by timestamp, each CPU in its own order', () => {
    const seed = testSeed('reader-merge');
    const random = prng(seed);
    const rb = RingBuffer.create({ cpus: 4, pagesPerCpu: 64, pageBytes: 1024, clock: 'counter', mode: 'discard' });
    const writers = [0, 1, 2, 3].map((cpu) => rb.writer(cpu));
    const sent = [0, 0, 0, 0];
    for (let i = 0; i < 5_000; i++) {
      const cpu = Math.floor(random() * 4);
      writers[cpu]!.write(1, sent[cpu]!++, cpu, 0, 0);
    }
    const reader = rb.reader();
    let lastTs = -1;
    const next = [0, 0, 0, 0];
    let n = 0;
    // Read in small batches, as a live consumer would; the merge carries across calls.
    for (let got = reader.read({ event: check }, { maxEvents: 37 }); got > 0; got = reader.read({ event: check }, { maxEvents: 37 })) n += got;
    function check(e: { cpu: number; timestamp: number; u32(i: number): number }): void {
      expect(e.timestamp).toBeGreaterThan(lastTs); // counter tickets: a strict total order
      lastTs = e.timestamp;
      expect(e.u32(0)).toBe(next[e.cpu]!++);
      expect(e.u32(1)).toBe(e.cpu);
    }
    expect(n).toBe(5_000);
    expect(next).toEqual(sent);
  });
});
