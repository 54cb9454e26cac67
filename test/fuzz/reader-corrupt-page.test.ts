import { describe, expect, it } from 'vitest';
import { RingBuffer, type CorruptionReport, type CpuWriter, type EventView } from '../../src/index.js';
import {
  C_ABANDONED,
  C_ABANDON_END,
  C_DROPPED,
  C_DROPPED_REPORTED,
  C_ENTRIES,
  C_LAST_READ_TS,
  C_LAST_TS,
  C_NEXT_INDEX,
  C_PUBLISHED_TAIL,
  C_READER_PHYS,
  C_READ_OFFSET,
  C_READ_SEQ,
  C_TAIL_PHYS,
  C_TAIL_SEQ,
  G_READER_OWNER,
} from '../../src/ring/layout.js';
import { prng, testSeed } from '../seed.js';

/**
 * Random bytes in random pages. The reader must neither hang nor throw: it reports the
 * damage, skips it, delivers every event of the sound pages intact, and goes on working.
 * Each event's length and payload derive from (cpu, index), so a delivered event can be
 * checked wherever it came from.
 */

const MAX_PAYLOAD = 32;

function lengthOf(cpu: number, index: number): number {
  return (cpu * 13 + index * 7) % (MAX_PAYLOAD + 1);
}

function byteOf(cpu: number, index: number, i: number): number {
  return (cpu * 131 + index * 31 + i * 7 + 1) & 0xff;
}

interface Seen {
  readonly cpu: number;
  readonly index: number;
  readonly phys: number;
  readonly intact: boolean;
}

function recordSeen(rb: RingBuffer, e: EventView): Seen {
  const base = rb.view.pagesBase(e.cpu);
  // From the record header (the payload of an empty record at a page's end points past it).
  const phys = Math.floor((e.offset - 8 - base) / rb.config.pageBytes);
  let intact = e.length === lengthOf(e.cpu, e.index);
  for (let i = 0; intact && i < e.length; i++) intact = e.u8[e.offset + i] === byteOf(e.cpu, e.index, i);
  return { cpu: e.cpu, index: e.index, phys, intact };
}

/** Writes n events, each on a CPU drawn from `cpus`, its length and bytes derived from (cpu, index). */
function writeSome(rb: RingBuffer, writers: readonly CpuWriter[], random: () => number, n: number, cpus: readonly number[] = [0, 1]): void {
  for (let k = 0; k < n; k++) {
    const cpu = cpus[Math.floor(random() * cpus.length)]!;
    const w = writers[cpu]!;
    const index = rb.cpuStats(cpu).entries;
    const length = lengthOf(cpu, index);
    const at = w.reserve(3, length);
    if (at >= 0) {
      for (let i = 0; i < length; i++) w.u8[at + i] = byteOf(cpu, index, i);
      w.commit();
    }
  }
}

/** What a reader would deliver now, from a copy of the memory (the oracle, before damage). */
function oracle(rb: RingBuffer): Map<string, Seen> {
  const copy = new SharedArrayBuffer(rb.buffer.byteLength);
  new Uint8Array(copy).set(new Uint8Array(rb.buffer));
  new Int32Array(copy)[G_READER_OWNER >> 2] = 0;
  const shadow = RingBuffer.attach(copy);
  const out = new Map<string, Seen>();
  const r = shadow.reader();
  r.drain({ event: (e) => out.set(`${e.cpu}:${e.index}`, recordSeen(shadow, e)) });
  return out;
}

describe('reader over corrupt pages', () => {
  it('reports and skips damage, never hangs or throws, and keeps working for sound pages', () => {
    const seed = testSeed('reader-corrupt-page');
    const random = prng(seed);
    let reports = 0;
    let soundChecked = 0;
    for (let round = 0; round < 300; round++) {
      const mode = random() < 0.5 ? 'overwrite' : 'discard';
      const pageBytes = random() < 0.5 ? 256 : 512;
      const rb = RingBuffer.create({ cpus: 2, pagesPerCpu: 3 + Math.floor(random() * 5), pageBytes, maxPayloadBytes: MAX_PAYLOAD, mode, clock: 'counter' });
      const writers = [rb.writer(0), rb.writer(1)];
      const reader = rb.reader();
      writeSome(rb, writers, random, Math.floor(random() * 120));
      reader.read({ event: () => {} }, { maxEvents: Math.floor(random() * 20) });
      writeSome(rb, writers, random, Math.floor(random() * 40));

      const before = oracle(rb);
      // Damage: random bytes over random pages of random CPUs (headers included).
      const damaged: Array<{ cpu: number; phys: number; from: number; to: number }> = [];
      const hits = 1 + Math.floor(random() * 4);
      for (let h = 0; h < hits; h++) {
        const cpu = random() < 0.5 ? 0 : 1;
        const phys = Math.floor(random() * (rb.config.pagesPerCpu + 1));
        const page = rb.view.pageAt(cpu, phys);
        const from = page + Math.floor(random() * pageBytes);
        const to = Math.min(page + pageBytes, from + 1 + Math.floor(random() * (random() < 0.3 ? pageBytes : 16)));
        for (let b = from; b < to; b++) rb.view.u8[b] = Math.floor(random() * 256);
        damaged.push({ cpu, phys, from, to });
      }
      const touched = (s: Seen): boolean =>
        damaged.some((d) => d.cpu === s.cpu && d.phys === s.phys);

      const seen = new Map<string, Seen>();
      const corrupt: CorruptionReport[] = [];
      expect(() =>
        reader.drain({
          event: (e) => {
            const s = recordSeen(rb, e);
            seen.set(`${e.cpu}:${e.index}`, s);
          },
          corrupt: (r) => corrupt.push(r),
        }),
      ).not.toThrow();
      reports += corrupt.length;
      for (const s of seen.values()) {
        // Whatever it delivers from a page the damage did not touch is intact. (Inside a
        // damaged page a record can be misparsed undetectably: records carry no checksum.)
        if (!touched(s)) expect(s.intact, `round ${round} (SEED=${seed}) cpu ${s.cpu} index ${s.index}`).toBe(true);
      }
      for (const [key, s] of before) {
        if (touched(s)) continue;
        // Every event of a page the damage did not touch is still delivered.
        soundChecked++;
        expect(seen.has(key), `round ${round} (SEED=${seed}): sound event ${key} was not delivered`).toBe(true);
      }

      // The buffer keeps working: events written after the damage are read back intact,
      // and the newest one of each CPU is delivered unless its page was damaged.
      const droppedBefore = [rb.cpuStats(0).dropped, rb.cpuStats(1).dropped];
      writeSome(rb, writers, random, 30);
      const fresh = new Set<string>();
      reader.drain({
        event: (e) => {
          const s = recordSeen(rb, e);
          if (!touched(s)) expect(s.intact).toBe(true);
          fresh.add(`${e.cpu}:${e.index}`);
        },
      });
      for (const cpu of [0, 1]) {
        const stats = rb.cpuStats(cpu);
        const tailPhys = rb.view.controlI32(cpu, C_TAIL_PHYS);
        if (stats.dropped !== droppedBefore[cpu] || damaged.some((d) => d.cpu === cpu && d.phys === tailPhys)) continue;
        if (stats.entries === 0) continue;
        expect(fresh.has(`${cpu}:${stats.entries - 1}`) || seen.has(`${cpu}:${stats.entries - 1}`), `round ${round} (SEED=${seed}) cpu ${cpu}`).toBe(true);
      }
      reader.close();
    }
    expect(reports).toBeGreaterThan(100);
    expect(soundChecked).toBeGreaterThan(1000);
  });
});

describe('reader over a damaged control block', () => {
  // Every control word the reader reads (its own, and the writer's it looks at) and the slot table.
  const READER_WORDS_I32 = [C_READER_PHYS, C_READ_OFFSET, C_ABANDONED, C_PUBLISHED_TAIL];
  const READER_WORDS_F64 = [C_READ_SEQ, C_NEXT_INDEX, C_LAST_READ_TS, C_DROPPED_REPORTED, C_ABANDON_END, C_TAIL_SEQ, C_ENTRIES, C_DROPPED, C_LAST_TS];
  // The writer's words among them: damage there may stop CPU 0's writer from writing on.
  const WRITER_WORDS = [C_PUBLISHED_TAIL, C_TAIL_SEQ, C_ENTRIES, C_DROPPED, C_LAST_TS];
  const junk = (random: () => number): number => {
    const pick = Math.floor(random() * 6);
    return [-1, 2 ** 31 - 1, -(2 ** 31), Math.floor(random() * 64), Math.floor(random() * 2 ** 32) | 0, 7][pick]!;
  };
  const junkF64 = (random: () => number): number => [NaN, -1, 2 ** 60, Infinity, random() * 1e6, Math.floor(random() * 64)][Math.floor(random() * 6)]!;

  /**
   * The damaged CPU, per round: every report is counted in its stats; a CPU given up is
   * reported once and nothing of it comes after; an out-of-range page index is repaired
   * (the page no slot names, reported) or gives the CPU up, and an impossible page seq is
   * repaired (resuming at the oldest page, reported) or gives it up once the reader has
   * had to leave its page.
   */
  const checkDamagedCpu = (
    rb: RingBuffer,
    damaged: ReadonlyMap<number, number>,
    cpu0: ReadonlyArray<{ readonly kind: 'event' } | { readonly kind: 'corrupt'; readonly reason: string }>,
    readerLeftItsPage: boolean,
    where: string,
  ): void => {
    const reports = cpu0.flatMap((x) => (x.kind === 'corrupt' ? [x.reason] : []));
    // The reader's part of the count: the writer counts damage it found in its own links apart.
    const stats = rb.cpuStats(0);
    expect(stats.corrupt - stats.writerCorrupt, where).toBe(reports.length);
    const gaveUp = cpu0.findIndex((x) => x.kind === 'corrupt' && x.reason.endsWith('this CPU is no longer read'));
    if (gaveUp >= 0) expect(cpu0.slice(gaveUp + 1), `${where}: after the CPU was given up`).toEqual([]);
    const phys = damaged.get(C_READER_PHYS);
    if (phys !== undefined && phys >>> 0 > rb.config.pagesPerCpu) {
      const repaired = reports.some((r) => r.startsWith(`the reader's page index ${phys} is out of range`));
      expect(repaired || gaveUp >= 0, `${where}: page index ${phys} neither repaired nor given up: ${JSON.stringify(reports)}`).toBe(true);
    }
    const readSeq = damaged.get(C_READ_SEQ);
    if (readerLeftItsPage && readSeq !== undefined && !(Number.isSafeInteger(readSeq) && readSeq >= 0)) {
      const repaired = reports.some((r) => r.startsWith(`the reader's page seq ${readSeq} is impossible`));
      expect(repaired || gaveUp >= 0, `${where}: page seq ${readSeq} neither repaired nor given up: ${JSON.stringify(reports)}`).toBe(true);
    }
  };

  it("damage to one CPU's reader state or slot table is reported, never thrown, and the other CPU reads on intact", () => {
    const seed = testSeed('reader-corrupt-control');
    const random = prng(seed);
    let reports = 0;
    let otherChecked = 0;
    for (let round = 0; round < 300; round++) {
      const mode = random() < 0.5 ? 'overwrite' : 'discard';
      const rb = RingBuffer.create({ cpus: 2, pagesPerCpu: 3 + Math.floor(random() * 5), pageBytes: 256, maxPayloadBytes: MAX_PAYLOAD, mode, clock: 'counter' });
      const writers = [rb.writer(0), rb.writer(1)];
      const reader = rb.reader();
      writeSome(rb, writers, random, Math.floor(random() * 120), [0, 1]);
      reader.read({ event: () => {} }, { maxEvents: Math.floor(random() * 20) });
      writeSome(rb, writers, random, Math.floor(random() * 40), [0, 1]);
      const before = oracle(rb);

      // Damage CPU 0 only: a few of the words the reader relies on, or slot words.
      const hits = 1 + Math.floor(random() * 3);
      const damaged = new Map<number, number>(); // control offset -> junk written last
      let slotsDamaged = false;
      for (let h = 0; h < hits; h++) {
        const r = random();
        if (r < 0.4) {
          const off = READER_WORDS_I32[Math.floor(random() * READER_WORDS_I32.length)]!;
          damaged.set(off, (rb.view.i32[(rb.view.controlBase(0) + off) >> 2] = junk(random)));
        } else if (r < 0.8) {
          const off = READER_WORDS_F64[Math.floor(random() * READER_WORDS_F64.length)]!;
          damaged.set(off, (rb.view.f64[(rb.view.controlBase(0) + off) >> 3] = junkF64(random)));
        } else {
          rb.view.i32[(rb.view.slotBase(0) >> 2) + Math.floor(random() * rb.config.pagesPerCpu)] = junk(random);
          slotsDamaged = true;
        }
      }

      // What happened on the damaged CPU, in order: its events and its reports.
      const cpu0: Array<{ readonly kind: 'event' } | { readonly kind: 'corrupt'; readonly reason: string }> = [];
      const seen = new Map<string, Seen>();
      const drain = (): void => {
        reader.drain({
          event: (e) => {
            if (e.cpu === 1) seen.set(`1:${e.index}`, recordSeen(rb, e));
            else cpu0.push({ kind: 'event' });
          },
          corrupt: (c) => {
            reports++;
            expect(c.cpu, `round ${round} (SEED=${seed}): a report for the undamaged CPU: ${c.reason}`).toBe(0);
            cpu0.push({ kind: 'corrupt', reason: c.reason });
          },
        });
      };
      expect(drain, `round ${round} (SEED=${seed})`).not.toThrow();
      // CPU 1 was not touched: all of its events come out, intact.
      for (const [key, s] of before) {
        if (s.cpu !== 1) continue;
        otherChecked++;
        expect(seen.get(key)?.intact, `round ${round} (SEED=${seed}): cpu 1 event ${key}`).toBe(true);
      }
      // And it keeps working for CPU 1 (CPU 0's writer may rely on the damaged words: left alone).
      writeSome(rb, writers, random, 30, [1]);
      expect(drain, `round ${round} (SEED=${seed}), after more writes`).not.toThrow();
      const newest = rb.cpuStats(1).entries - 1;
      if (rb.cpuStats(1).dropped === 0 && newest >= 0) expect(seen.get(`1:${newest}`)?.intact, `round ${round} (SEED=${seed})`).toBe(true);
      // If only the reader's own words were hit, CPU 0's writer is sound: a few more pages
      // of it make the reader leave its page, so a damaged page seq must be met.
      const writerSound = !slotsDamaged && WRITER_WORDS.every((off) => !damaged.has(off));
      if (writerSound) {
        writeSome(rb, writers, random, 40, [0]);
        expect(drain, `round ${round} (SEED=${seed}), after more writes to cpu 0`).not.toThrow();
      }
      checkDamagedCpu(rb, damaged, cpu0, writerSound, `round ${round} (SEED=${seed})`);
      reader.close();
    }
    expect(reports).toBeGreaterThan(100);
    expect(otherChecked).toBeGreaterThan(1000);
  });
});
