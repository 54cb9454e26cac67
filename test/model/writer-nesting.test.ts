import { describe, expect, it } from 'vitest';
import { HookPoint } from '../../src/index.js';
import { NestingHarness } from './nesting-harness.js';
import { prng, testSeed } from '../seed.js';

// 256-byte pages: 192 data bytes, 24-byte records → 8 per page. Prefilling 0..9 events puts
// the outer write at every position of a page, including the last slot and a full page,
// so injections land before, during and after a page switch, in the outer or the nested write.
const PAGE = { pagesPerCpu: 8, pageBytes: 256 } as const;
const PREFILLS = [0, 1, 6, 7, 8, 9, 15, 16];
const MODES = ['overwrite', 'discard'] as const;

function harness(mode: (typeof MODES)[number], prefill: number, pagesPerCpu: number = PAGE.pagesPerCpu): NestingHarness {
  const h = new NestingHarness({ ...PAGE, pagesPerCpu, mode });
  // The reader consumes at every hook point: it must never see a record before its commit.
  h.readAt = () => true;
  for (let i = 0; i < prefill; i++) expect(h.write()).toBe(true);
  return h;
}

describe('nested writes, exhaustively at depth 1', () => {
  for (const mode of MODES) {
    it(`${mode}: one nested write at every hook call of the outer write, at every page position`, () => {
      let scenarios = 0;
      const pointsHit = new Set<number>();
      for (const prefill of PREFILLS) {
        for (let target = 1; ; target++) {
          const h = harness(mode, prefill);
          let injected = false;
          h.policy = (point, depth, call) => {
            if (depth === 1 && call === target) {
              injected = true;
              pointsHit.add(point);
              return true;
            }
            return false;
          };
          expect(h.write()).toBe(true);
          if (!injected) break; // the outer write has fewer hook calls than target
          h.policy = () => false;
          h.verify();
          expect(h.ring.cpuStats(0).maxNesting).toBe(2);
          scenarios++;
        }
      }
      // Every hook point of the write path, page switch included, was interrupted.
      expect([...pointsHit].sort()).toEqual(Object.values(HookPoint).sort());
      expect(scenarios).toBeGreaterThanOrEqual(PREFILLS.length * 5);
    });
  }
});

describe('nested writes, exhaustively at depth 2', () => {
  for (const mode of MODES) {
    it(`${mode}: a nested write inside a nested write, at every pair of hook calls`, () => {
      let scenarios = 0;
      const pairs = new Set<string>();
      for (const prefill of PREFILLS) {
        for (let outer = 1; ; outer++) {
          let outerReached = false;
          for (let inner = 1; ; inner++) {
            const h = harness(mode, prefill);
            let innerReached = false;
            let outerPoint = -1;
            h.policy = (point, depth, call) => {
              if (depth === 1 && call === outer) {
                outerReached = true;
                outerPoint = point;
                return true;
              }
              if (depth === 2 && call === inner) {
                innerReached = true;
                pairs.add(`${outerPoint}/${point}`);
                return true;
              }
              return false;
            };
            expect(h.write()).toBe(true);
            if (!outerReached || !innerReached) break;
            h.policy = () => false;
            h.verify();
            expect(h.ring.cpuStats(0).maxNesting).toBe(3);
            scenarios++;
          }
          if (!outerReached) break;
        }
      }
      // Every pair of hook points occurs, except an inner page switch under an outer
      // write that stopped right after moving the tail: the nested write then finds an
      // empty page, where its own nested 24-byte record always fits.
      const impossible = ['5/2', '5/3', '5/4', '5/5'];
      const all = Object.values(HookPoint).flatMap((a) => Object.values(HookPoint).map((b) => `${a}/${b}`));
      expect([...pairs].sort()).toEqual(all.filter((p) => !impossible.includes(p)).sort());
      expect(scenarios).toBeGreaterThanOrEqual(PREFILLS.length * 25);
    });
  }
});

describe('nested writes, randomly to depth 6', () => {
  for (const mode of MODES) {
    it(`${mode}: random trees of nested writes keep every event, in reservation order`, () => {
      const seed = testSeed(`writer-nesting random ${mode}`);
      const random = prng(seed);
      let deepest = 0;
      for (let round = 0; round < 300; round++) {
        const h = harness(mode, Math.floor(random() * 20), 64);
        h.policy = (_point, depth) => depth < 6 && random() < 0.45 / depth;
        h.readAt = () => random() < 0.2;
        const writes = 1 + Math.floor(random() * 6);
        for (let i = 0; i < writes; i++) h.write();
        h.policy = () => false;
        try {
          h.verify();
        } catch (err) {
          throw new Error(`round ${round} (SEED=${seed}) injections: ${h.injections.join('; ')}\n${String(err)}`);
        }
        deepest = Math.max(deepest, h.ring.cpuStats(0).maxNesting);
      }
      expect(deepest).toBeGreaterThanOrEqual(5);
    });
  }
});

describe('commit overrun', () => {
  it('drops, counts and recovers when nested writes fill the ring under an uncommitted write', () => {
    const h = new NestingHarness({ pagesPerCpu: 2, pageBytes: 256, mode: 'overwrite' });
    // 30 sibling nested writes while the outer write holds its reservation uncommitted:
    // 2 pages of 8 records cannot hold them without overwriting the outer write's page.
    h.policy = (point, depth) => (depth === 1 && point === HookPoint.reserved ? 30 : 0);
    expect(h.write()).toBe(true);
    h.policy = () => false;
    const s = h.ring.cpuStats(0);
    expect(s.commitOverrun).toBeGreaterThan(0);
    expect(s.dropped).toBe(s.commitOverrun);
    const { ids, lost } = h.verify(true);
    // The interrupted write survived; what was dropped was announced as dropped.
    expect(ids).toContain(0);
    expect(lost.filter((l) => l.cause === 'dropped').reduce((n, l) => n + l.count, 0)).toBe(s.dropped);
    // The buffer still works afterwards.
    h.write();
    expect(h.ring.cpuStats(0).entries).toBe(s.entries + 1);
  });
});
