import { describe, expect, it } from 'vitest';
import { RingBuffer, RingClosedError } from '../../src/index.js';

describe('writer arguments', () => {
  it('rejects a bad type or length with a clear error, writes nothing, and keeps working', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, maxPayloadBytes: 32 });
    const w = rb.writer(0);
    expect(() => w.reserve(-1, 0)).toThrow(new RangeError('type must be an integer between 0 and 65535 (got -1)'));
    expect(() => w.reserve(65536, 0)).toThrow(RangeError);
    expect(() => w.reserve(1.5, 0)).toThrow(RangeError);
    expect(() => w.reserve('1' as never, 0)).toThrow(new TypeError('type must be a number (got string)'));
    expect(() => w.reserve(1, 33)).toThrow(
      new RangeError('event payload must be an integer number of bytes between 0 and maxPayloadBytes = 32 (got 33)'),
    );
    expect(() => w.reserve(1, -1)).toThrow(RangeError);
    expect(() => w.reserve(1, Number.NaN)).toThrow(RangeError);
    expect(() => w.writeBytes(1, new Uint8Array(40))).toThrow(/maxPayloadBytes = 32/);
    const s = rb.cpuStats(0);
    expect([s.written, s.entries, s.dropped, s.bytes, w.depth]).toEqual([0, 0, 0, 0, 0]);
    expect(() => w.commit()).toThrow(/commit\(\) without a reservation/);
    expect(() => w.discard()).toThrow(/discard\(\) without a reservation/);
    // Still works, and discard leaves padding the reader skips and counts.
    expect(w.write(1, 1, 2, 3, 4)).toBe(true);
    const at = w.reserve(2, 5);
    expect(at).toBeGreaterThan(0);
    w.discard();
    expect(w.writeBytes(3, new Uint8Array([9, 8, 7]))).toBe(true);
    const r = rb.reader();
    const got: Array<[number, number[]]> = [];
    r.drain({ event: (e) => got.push([e.type, [...e.bytes()]]) });
    expect(got).toEqual([
      [1, [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]],
      [3, [9, 8, 7]],
    ]);
    expect(rb.cpuStats(0)).toMatchObject({ written: 3, entries: 3, read: 2, discarded: 1, unread: 0 });
  });

  it('refuses to close a writer inside a write, and frees the CPU buffer on close', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256 });
    const w = rb.writer(0);
    w.reserve(1, 0);
    expect(() => w.close()).toThrow(/inside a write/);
    w.commit();
    w.close();
    expect(() => rb.writer(0).close()).not.toThrow();
  });

  it('refuses a payload that is not a Uint8Array, writing nothing', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256 });
    const w = rb.writer(0);
    expect(() => w.writeBytes(1, 'hello' as never)).toThrow(new TypeError('payload must be a Uint8Array (got string)'));
    expect(() => w.writeBytes(1, [1, 2] as never)).toThrow(new TypeError('payload must be a Uint8Array (got Array)'));
    expect(() => w.writeBytes(1, null as never)).toThrow(new TypeError('payload must be a Uint8Array (got null)'));
    expect(rb.cpuStats(0).written).toBe(0);
    expect(w.writeBytes(1, Buffer.from('hello'))).toBe(true); // a Buffer is a Uint8Array
  });

  it('throws RingClosedError for every write after close(), as the log writer does', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256 });
    const w = rb.writer(0);
    expect(w.write(1, 1, 2, 3, 4)).toBe(true);
    w.close();
    const other = rb.writer(0); // another owner now
    for (const call of [() => w.write(1, 1, 2, 3, 4), () => w.reserve(1, 0), () => w.writeBytes(1, new Uint8Array(2)), () => w.writeWith(1, 4, () => {})]) {
      expect(call).toThrow(RingClosedError);
      expect(call).toThrow(/cpu 0: this writer is closed/);
    }
    expect(rb.cpuStats(0).written).toBe(1);
    expect(other.write(1, 5, 6, 7, 8)).toBe(true);
  });
});
