import { describe, expect, it } from 'vitest';
import { bytesPerIteration, scavengesDuring } from '../gc.js';
import { RingBuffer } from '../../src/index.js';

describe('hot paths', () => {
  it('writer and reader allocate nothing per event (counter clock): 3 M writes and reads trigger no scavenge', async () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 16, pageBytes: 4096, clock: 'counter', mode: 'overwrite' });
    const w = rb.writer(0);
    const r = rb.reader();
    // Accumulate into typed memory: a double kept in a closure variable would box (allocate) per store.
    const sum = new Int32Array(1);
    const visitor = { event: (e: { u32(i: number): number }) => void (sum[0]! += e.u32(0)) };
    const loop = (n: number): void => {
      for (let i = 0; i < n; i++) {
        w.write(1, i, 2, 3, 4);
        if ((i & 127) === 0) r.read(visitor);
      }
    };
    loop(200_000); // warm up: let V8 optimise the write path first
    // A young generation is at least 1 MiB: 3 M events allocating even 8 bytes each would scavenge many times.
    const minor = await scavengesDuring(() => loop(3_000_000));
    expect(minor).toBeLessThanOrEqual(1);
    expect(sum[0]).not.toBe(0);
    expect(rb.cpuStats(0).entries).toBe(3_200_000);
    // And precisely (after the count above: this runs the loop a few more times): one boxed number per event would read 16 bytes.
    expect(bytesPerIteration(loop, 20_000)).toBeLessThan(0.5);
  });
});
