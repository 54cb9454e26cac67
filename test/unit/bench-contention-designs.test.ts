import { describe, expect, it } from 'vitest';
import { StreamVerifier, reconcile } from '../../src/check/stream-verifier.js';
import { payloadHash, streamTag } from '../../src/check/stream-payload.js';
import { HookPoint } from '../../src/ring/interrupt.js';
import { DESIGN_NAMES, type ContentionWriter, type Design } from '../../bench/contention/design.js';
import { DESIGNS } from '../../bench/contention/designs.js';
import { LockResult, acquire, release } from '../../bench/contention/lock.js';
import { WriterLoop } from '../../bench/contention/loops.js';
import { CONTENTION_FORMAT } from '../../bench/contention/protocol.js';

/**
 * The contention suite's designs in one thread: writers interleaved batch by batch, NMIs
 * from the hook, the reader in between; then the same reconciliation the suite makes.
 * And the locked designs' NMI failure mode, forced at chosen program points.
 */

const GEOMETRY = { pagesPerWriter: 8, pageBytes: 4096 };
const TYPE = CONTENTION_FORMAT.typeBase;

interface Run {
  readonly failures: number;
  readonly log: string[];
  readonly unaccounted: number;
  readonly lost: { full: number; nmiLock: number; timeout: number; other: number };
  readonly read: number;
  readonly nmis: number;
  readonly stored: number;
}

function runInOneThread(design: Design, writers: number, batches: number, readEvery: number, nmi: boolean): Run {
  const sab = design.create(writers, GEOMETRY);
  const handles: ContentionWriter[] = [];
  const loops = Array.from({ length: writers }, (_, i) => {
    const w = design.writer(sab, i);
    handles.push(w);
    return new WriterLoop(w, i, 11 + i, 64, 4096);
  });
  const reader = design.reader(sab);
  const verifier = new StreamVerifier(writers, CONTENTION_FORMAT);
  for (let b = 0; b < batches; b++) {
    for (const loop of loops) {
      loop.nmiMode(nmi);
      loop.pace(nmi ? 1e9 : 0, 1, 1000);
      loop.batch();
      loop.nmiMode(false);
    }
    if (b % readEvery === 0) reader.read(verifier, 1 << 20);
  }
  for (const h of handles) h.close();
  reader.finish(verifier);
  const summary = verifier.summary();
  const { stats, lost } = design.stats(sab, summary.read);
  const counts = loops.map((l, cpu) => ({ cpu, attempts: [l.seq0, l.seq1], stored: [l.stored0, l.stored1], nmis: l.nmis }));
  const rec = reconcile(summary, counts, stats);
  return {
    failures: rec.failures + rec.corruptReports,
    log: rec.failureLog,
    unaccounted: rec.unaccounted,
    lost,
    read: summary.read.reduce((a, b) => a + b, 0),
    nmis: counts.reduce((n, c) => n + c.nmis, 0),
    stored: counts.reduce((n, c) => n + c.stored[0]! + c.stored[1]!, 0),
  };
}

describe('contention designs, one thread', () => {
  for (const name of DESIGN_NAMES) {
    it(`${name}: every event read intact and accounted for, with NMIs, the reader keeping up`, () => {
      const run = runInOneThread(DESIGNS[name], 3, 120, 2, true);
      expect(run.log).toEqual([]);
      expect(run.failures).toBe(0);
      expect(run.unaccounted).toBe(0);
      expect(run.nmis).toBe(3 * 120);
      expect(run.lost.full).toBe(0);
      expect(run.lost.timeout + run.lost.other).toBe(0);
      expect(run.read).toBe(run.stored);
      // Lockless designs lose nothing to NMIs; the lock around every write loses most of them.
      if (name === 'locked') expect(run.lost.nmiLock).toBeGreaterThan(run.nmis / 2);
      else if (name !== 'locked-page') expect(run.lost.nmiLock).toBe(0);
    });

    it(`${name}: a reader that falls behind costs "full" drops, each reported and accounted for`, () => {
      const run = runInOneThread(DESIGNS[name], 2, 200, 50, false);
      expect(run.log).toEqual([]);
      expect(run.failures).toBe(0);
      expect(run.unaccounted).toBe(0);
      expect(run.lost.full).toBeGreaterThan(0);
      expect(run.read).toBe(run.stored);
    });
  }

  it('the verifier sees a damaged payload in the shared ring (the check can fail)', () => {
    const design = DESIGNS.shared;
    const sab = design.create(1, GEOMETRY);
    const w = design.writer(sab, 0);
    const tag = streamTag(0, 0);
    for (let s = 0; s < 10; s++) w.write(TYPE, s, tag, payloadHash(s, tag), ~s);
    w.close();
    // Flip a bit in the 4th record's payload word 2 (records are 32 bytes from the data start).
    const i32 = new Int32Array(sab);
    const words = i32.length;
    const capacity = GEOMETRY.pagesPerWriter * GEOMETRY.pageBytes;
    const data = (sab.byteLength - capacity) >> 2;
    expect(data).toBeLessThan(words);
    i32[data + 3 * 8 + 6]! ^= 1;
    const verifier = new StreamVerifier(1, CONTENTION_FORMAT);
    design.reader(sab).finish(verifier);
    expect(verifier.summary().failures).toBe(1);
  });
});

/** Runs one write with an NMI forced at `point`; returns what the nested write returned. */
function nestedAt(design: Design, point: HookPoint, fill: number): { outer: boolean; nested: boolean | undefined; lost: Run['lost'] } {
  const sab = design.create(1, GEOMETRY);
  const w = design.writer(sab, 0);
  const tag0 = streamTag(0, 0);
  const tag1 = streamTag(0, 1);
  for (let s = 0; s < fill; s++) w.write(TYPE, s, tag0, payloadHash(s, tag0), ~s);
  let nested: boolean | undefined;
  w.hook = (p) => {
    if (p !== point || nested !== undefined) return;
    nested = false;
    nested = w.write(TYPE + 1, 0, tag1, payloadHash(0, tag1), ~0);
  };
  const outer = w.write(TYPE, fill, tag0, payloadHash(fill, tag0), ~fill);
  w.hook = null;
  w.close();
  return { outer, nested, lost: design.stats(sab, [0]).lost };
}

describe('NMI while the thread holds the lock', () => {
  it('locked: an NMI inside the write finds its own thread holding the lock and drops its event (no hang)', () => {
    for (const point of [HookPoint.clockRead, HookPoint.reserved, HookPoint.filled, HookPoint.committed]) {
      const r = nestedAt(DESIGNS.locked, point, 0);
      expect(r.outer).toBe(true);
      expect(r.nested).toBe(false);
      expect(r.lost.nmiLock).toBe(1);
    }
    // Before the lock is taken, the nested write takes it itself.
    const before = nestedAt(DESIGNS.locked, HookPoint.entered, 0);
    expect(before.nested).toBe(true);
    expect(before.lost.nmiLock).toBe(0);
  });

  it('locked-page: only an NMI that lands in a page switch (under the lock) drops its event', () => {
    const perPage = Math.floor((GEOMETRY.pageBytes - 64) / 24);
    // The write after `perPage` events switches pages: the NMI lands at pageFull, inside the lock.
    const inSwitch = nestedAt(DESIGNS['locked-page'], HookPoint.pageFull, perPage);
    expect(inSwitch.outer).toBe(true);
    expect(inSwitch.nested).toBe(false);
    expect(inSwitch.lost.nmiLock).toBe(1);
    const inPage = nestedAt(DESIGNS['locked-page'], HookPoint.reserved, 3);
    expect(inPage.nested).toBe(true);
    expect(inPage.lost.nmiLock).toBe(0);
  });

  it('shared and percpu: an NMI at any point of the write stores its event', () => {
    for (const design of [DESIGNS.shared, DESIGNS.percpu]) {
      for (const point of [HookPoint.entered, HookPoint.clockRead, HookPoint.reserved, HookPoint.filled, HookPoint.committed]) {
        const r = nestedAt(design, point, 0);
        expect(r.outer).toBe(true);
        expect(r.nested).toBe(true);
      }
    }
  });
});

describe('the lock', () => {
  it('reports self for its own holder, times out for another (bounded), and is free after release', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    expect(acquire(i32, 0, 1, 100)).toBe(LockResult.acquired);
    expect(acquire(i32, 0, 1, 100)).toBe(LockResult.self);
    const t0 = Date.now();
    expect(acquire(i32, 0, 2, 20)).toBe(LockResult.timeout);
    expect(Date.now() - t0).toBeLessThan(2_000);
    release(i32, 0);
    expect(acquire(i32, 0, 2, 20)).toBe(LockResult.acquired);
    release(i32, 0);
    expect(Atomics.load(i32, 0)).toBe(0);
  });
});
