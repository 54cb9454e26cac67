import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/index.js';

describe('a ring placed inside a larger buffer', () => {
  it('works at its offset and never touches the guard bytes around it', async () => {
    const options = { cpus: 2, pagesPerCpu: 4, pageBytes: 256, clock: 'coarse', mode: 'overwrite' } as const;
    const bytes = RingBuffer.bytesFor(options);
    const offset = 4096;
    const sab = new SharedArrayBuffer(offset + bytes + 4096);
    const u8 = new Uint8Array(sab);
    u8.fill(0xa5);
    const ring = RingBuffer.create(options, { buffer: sab, byteOffset: offset });
    try {
      expect(ring.byteOffset).toBe(offset);
      const other = RingBuffer.attach(sab, offset);
      const w0 = other.writer(0);
      const w1 = ring.writer(1);
      for (let i = 0; i < 100; i++) {
        w0.write(1, i, 0, 0, 0);
        w1.write(2, i, 0, 0, 0);
      }
      const seen: number[] = [];
      ring.reader().drain({ event: (e) => void seen.push(e.cpu * 1000 + e.u32(0)) });
      // Overwrite mode keeps the newest: each cpu's last events, in order.
      expect(seen.filter((x) => x < 1000).at(-1)).toBe(99);
      expect(seen.filter((x) => x >= 1000).at(-1)).toBe(1099);
      expect(u8.subarray(0, offset).every((b) => b === 0xa5)).toBe(true);
      expect(u8.subarray(offset + bytes).every((b) => b === 0xa5)).toBe(true);
    } finally {
      await ring.close();
    }
  });

  it('rejects a placement that is misaligned or does not fit', () => {
    const sab = new SharedArrayBuffer(8192);
    expect(() => RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256 }, { buffer: sab, byteOffset: 100 })).toThrow(
      /byteOffset must be a non-negative multiple of 64 \(got 100\)/,
    );
    expect(() => RingBuffer.create({ cpus: 4, pagesPerCpu: 8, pageBytes: 4096 }, { buffer: sab, byteOffset: 0 })).toThrow(/does not fit/);
    expect(() => RingBuffer.attach(sab, 64)).toThrow(/not a ringtrace buffer/);
  });
});
