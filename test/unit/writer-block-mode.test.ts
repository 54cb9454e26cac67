import { describe, expect, it } from 'vitest';
import { EventLog, HookPoint, RingBlockOnReaderError, RingBuffer } from '../../src/index.js';
import { PAGE_HEADER_BYTES } from '../../src/ring/layout.js';
import type { CpuWriter } from '../../src/ring/writer.js';

/** Fills the ring of a fresh writer exactly: every write succeeds, the next one finds no free page. */
function fill(ring: RingBuffer, w: CpuWriter): number {
  const { pagesPerCpu, pageBytes } = ring.config;
  const capacity = pagesPerCpu * Math.floor((pageBytes - PAGE_HEADER_BYTES) / 24);
  for (let i = 0; i < capacity; i++) expect(w.write(1, i, 0, 0, 0)).toBe(true);
  return capacity;
}

function timed(f: () => boolean): { ok: boolean; ms: number } {
  const t0 = performance.now();
  const ok = f();
  return { ok, ms: performance.now() - t0 };
}

describe('ring mode block', () => {
  it('has a default bound of 5 ms, keeps a given one in the header, and names it in the log options', () => {
    expect(RingBuffer.create({ cpus: 1, mode: 'block' }).config.blockTimeoutMs).toBe(5);
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256, mode: 'block', blockTimeoutMs: 37 });
    expect(RingBuffer.attach(ring.buffer).config).toEqual(ring.config);
    expect(EventLog.create({ slots: 1, mode: 'block', blockTimeoutMs: 9 }).ring.config).toMatchObject({ mode: 'block', blockTimeoutMs: 9 });
    expect(() => EventLog.create({ slots: 1, mode: 'block', blockTimeoutMs: 0 })).toThrow(/^options\.blockTimeoutMs must be an integer between 1 and 60000 \(got 0\)$/);
    expect(() => EventLog.create({ slots: 1, blockTimeoutMs: 5 })).toThrow(/^options\.blockTimeoutMs applies to mode 'block' only \(mode is "discard", got 5\)$/);
  });

  it('a write that finds the ring full waits the bound for a consumer, then drops and counts it', () => {
    const boundMs = 30;
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256, mode: 'block', blockTimeoutMs: boundMs });
    const w = ring.writer(0);
    const capacity = fill(ring, w);
    const writes = [0, 1, 2].map(() => timed(() => w.write(1, 0, 0, 0, 0)));
    for (const { ok, ms } of writes) {
      expect(ok).toBe(false);
      expect(ms).toBeGreaterThanOrEqual(boundMs);
      expect(ms).toBeLessThan(boundMs + 500);
    }
    const s = ring.cpuStats(0);
    expect(s).toMatchObject({ entries: capacity, dropped: 3, written: capacity + 3, blocked: 3 });
    expect(s.blockedMs).toBeGreaterThanOrEqual(3 * boundMs - 1);
    expect(s.blockedMs).toBeLessThanOrEqual(writes.reduce((a, x) => a + x.ms, 0));
    expect(w.depth).toBe(0);
  });

  it('a nested write drops at once, as in discard mode; only the outermost write waits', () => {
    const boundMs = 300;
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256, mode: 'block', blockTimeoutMs: boundMs });
    const w = ring.writer(0);
    fill(ring, w);
    let nested: { ok: boolean; ms: number; blockedThen: number } | null = null;
    w.hook = (point) => {
      if (point !== HookPoint.pageFull || nested !== null || w.depth !== 1) return;
      nested = { ...timed(() => w.write(2, 0, 0, 0, 0)), blockedThen: -1 };
      nested.blockedThen = ring.cpuStats(0).blocked;
    };
    const outer = timed(() => w.write(1, 0, 0, 0, 0));
    expect(nested).not.toBeNull();
    const n = nested!;
    expect(n.ok).toBe(false);
    // Dropped without waiting: far below the bound (and nothing counted as blocked by then).
    expect(n.ms).toBeLessThan(boundMs / 3);
    expect(n.blockedThen).toBe(0);
    expect(outer.ok).toBe(false);
    expect(outer.ms).toBeGreaterThanOrEqual(boundMs);
    expect(ring.cpuStats(0)).toMatchObject({ dropped: 2, blocked: 1 });
  });

  it('refuses a block-mode writer on the thread that holds the reader role, with a named error', () => {
    const ring = RingBuffer.create({ cpus: 2, pagesPerCpu: 2, pageBytes: 256, mode: 'block' });
    const r = ring.reader();
    for (const make of [() => ring.writer(0), () => ring.sharedWriter(1)]) {
      let err: unknown;
      try {
        make();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RingBlockOnReaderError);
      expect((err as RingBlockOnReaderError).code).toBe('ERR_RING_BLOCK_ON_READER');
      expect((err as Error).message).toMatch(/holds the ring's reader role: it would wait for itself/);
    }
    r.close();
    // Nothing was claimed by the refused calls.
    ring.writer(0).close();
    // Other modes never wait: a writer beside the reader is fine there.
    const discard = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256, mode: 'discard' });
    discard.reader();
    expect(discard.writer(0).write(1, 0, 0, 0, 0)).toBe(true);
  });

  it('a write that would wait on the reader\'s thread (reader claimed after the writer) throws the named error at once, counted as a drop', () => {
    const boundMs = 2000;
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256, mode: 'block', blockTimeoutMs: boundMs });
    const w = ring.writer(0);
    const capacity = fill(ring, w);
    const r = ring.reader();
    const t0 = performance.now();
    expect(() => w.write(1, 0, 0, 0, 0)).toThrow(RingBlockOnReaderError);
    expect(performance.now() - t0).toBeLessThan(boundMs / 4);
    expect(w.depth).toBe(0);
    expect(ring.cpuStats(0)).toMatchObject({ dropped: 1, blocked: 0 });
    // The ring is intact: the reader frees pages and the writer goes on.
    let read = 0;
    r.read({ event: () => read++ });
    expect(read).toBe(capacity);
    expect(w.write(1, 0, 0, 0, 0)).toBe(true);
  });

  it('an EventLog writer on the thread that consumes the log gets the named error, not a deadlock', () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 2, pageBytes: 4096, mode: 'block', blockTimeoutMs: 1000 });
    const consumer = log.ring.reader();
    expect(() => log.writer()).toThrow(RingBlockOnReaderError);
    consumer.close();
  });
});
