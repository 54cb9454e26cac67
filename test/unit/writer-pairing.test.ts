import { describe, expect, it } from 'vitest';
import { HookPoint, RingBuffer, RingUnpairedError } from '../../src/index.js';

function readAll(rb: RingBuffer): number[] {
  const out: number[] = [];
  const r = rb.reader();
  r.drain({ event: (e) => void out.push(e.u32(0)) });
  r.close();
  return out;
}

describe('writer: the pairing rule', () => {
  it('writeWith commits when fill returns and discards when it throws, so later writes are seen', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, clock: 'counter' });
    const w = rb.writer(0);
    expect(w.writeWith(1, 4, (at) => void (w.i32[at >> 2] = 1))).toBe(true);
    const boom = new Error('fill failed');
    expect(() =>
      w.writeWith(1, 4, (at) => {
        w.i32[at >> 2] = 2;
        throw boom;
      }),
    ).toThrow(boom);
    expect(w.depth).toBe(0);
    expect(w.write(1, 3, 0, 0, 0)).toBe(true);
    expect(readAll(rb)).toEqual([1, 3]);
    expect(rb.cpuStats(0)).toMatchObject({ entries: 3, read: 2, discarded: 1, unread: 0 });
  });

  it('a write inside writeWith fill nests in it, as an interrupting write would', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, clock: 'counter' });
    const w = rb.writer(0);
    w.writeWith(1, 4, (at) => {
      expect(w.write(1, 20, 0, 0, 0)).toBe(true); // the "interrupt"
      w.i32[at >> 2] = 10;
    });
    // Both delivered: the nested one reserved second but committed first, ordered by reservation.
    expect(readAll(rb)).toEqual([10, 20]);
    expect(rb.cpuStats(0).maxNesting).toBe(2);
  });

  it('a reservation left open (fill threw past the commit) makes the next write throw RingUnpairedError, not vanish', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, clock: 'counter' });
    const w = rb.writer(0);
    const fill = (at: number): void => {
      w.i32[at >> 2] = 1;
      throw new Error('fill failed');
    };
    const at = w.reserve(1, 4);
    expect(() => fill(at)).toThrow('fill failed'); // the caller forgot commit()/discard()
    let caught: unknown;
    try {
      w.write(1, 2, 0, 0, 0);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RingUnpairedError);
    expect((caught as RingUnpairedError).code).toBe('ERR_RING_UNPAIRED');
    expect((caught as Error).message).toMatch(/cpu 0: a reservation at depth 1 is still open/);
    expect(w.depth).toBe(1); // nothing changed by the refused write
    // The way out the message names: discard the open reservation; writes work again.
    w.discard();
    expect(w.write(1, 3, 0, 0, 0)).toBe(true);
    expect(readAll(rb)).toEqual([3]);
    expect(rb.cpuStats(0)).toMatchObject({ entries: 2, read: 1, discarded: 1, unread: 0 });
  });

  it('writeWith discards reservations its fill left open and says so', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, clock: 'counter' });
    const w = rb.writer(0);
    expect(() =>
      w.writeWith(1, 4, (at) => {
        w.i32[at >> 2] = 7;
        w.reserve(1, 4); // never committed
      }),
    ).toThrow(RingUnpairedError);
    expect(w.depth).toBe(0);
    expect(readAll(rb)).toEqual([7]);
  });

  it('writes nested from the interrupt hook are still allowed (the simulated machine and stress tests)', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, clock: 'counter' });
    let fired = 0;
    const w = rb.writer(0, {
      hook: (point) => {
        if (point === HookPoint.reserved && w.depth === 1 && fired++ === 0) w.write(1, 99, 0, 0, 0);
      },
    });
    expect(w.write(1, 1, 0, 0, 0)).toBe(true);
    expect(readAll(rb).sort((a, b) => a - b)).toEqual([1, 99]);
  });

  it('rejects a fill that is not a function, writing nothing', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256 });
    const w = rb.writer(0);
    expect(() => w.writeWith(1, 4, 'x' as never)).toThrow(new TypeError('fill must be a function (got string)'));
    expect(rb.cpuStats(0).written).toBe(0);
  });
});
