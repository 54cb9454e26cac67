import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/index.js';
import type { EventView, LostEvents } from '../../src/ring/reader.js';
import { PageDrain } from '../../src/trace/page-drain.js';
import { TraceFileWriter } from '../../src/trace/trace-file.js';
import { TraceFileReader } from '../../src/trace/trace-reader.js';
import { prng, testSeed } from '../seed.js';

const dir = mkdtempSync(join(tmpdir(), 'ringtrace-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  path: string;
  /** Per CPU, the attempt number stored at each per-CPU index (what write() returned true for). */
  stored: number[][];
  dropped: number[];
  entries: number[];
}

/**
 * Writers on 3 CPUs of a small ring, interleaved with drain passes (whole pages only, or
 * tail pages too), then a final drain: the run a drain thread makes, in one thread.
 */
function record(mode: 'overwrite' | 'discard', seed: number, path: string, ops = 6000): Run {
  const random = prng(seed);
  const ring = RingBuffer.create({ cpus: 3, pagesPerCpu: 4, pageBytes: 512, mode, clock: 'counter', maxPayloadBytes: 64 });
  const writers = [0, 1, 2].map((cpu) => ring.writer(cpu));
  const drain = new PageDrain(ring, ring.reader(), TraceFileWriter.open(path, { flags: 'w' }), { test: 'trace-file' });
  const stored: number[][] = [[], [], []];
  const attempts = [0, 0, 0];
  for (let i = 0; i < ops; i++) {
    const r = random();
    if (r < 0.006) drain.pass(r < 0.002);
    else {
      const cpu = Math.floor(random() * 3);
      const a = attempts[cpu]!++;
      // Varied lengths (some records take padding's place when discarded).
      if (random() < 0.1) {
        const at = writers[cpu]!.reserve(7, 24);
        if (at >= 0) {
          writers[cpu]!.discard();
          stored[cpu]!.push(-1);
        }
      } else if (writers[cpu]!.write(5, a, cpu, a ^ 0x5a5a, 0)) stored[cpu]!.push(a);
    }
  }
  drain.finish();
  drain.file.close();
  const stats = ring.stats();
  return { path, stored, dropped: stats.map((s) => s.dropped), entries: stats.map((s) => s.entries) };
}

interface Read {
  events: { cpu: number; index: number; timestamp: number; a: number }[];
  lost: LostEvents[];
  corrupt: string[];
}

function readBack(path: string): Read {
  const out: Read = { events: [], lost: [], corrupt: [] };
  TraceFileReader.open(path).read({
    event: (v: EventView) => out.events.push({ cpu: v.cpu, index: v.index, timestamp: v.timestamp, a: v.type === 5 && v.u32(1) === v.cpu && v.u32(2) === (v.u32(0) ^ 0x5a5a) ? v.u32(0) : -2 }),
    lost: (l) => out.lost.push(l),
    corrupt: (r) => out.corrupt.push(`${r.cpu}: ${r.reason}`),
  });
  return out;
}

/** Every event intact at its index, merged in timestamp order, every gap announced, drops counted exactly. */
function checkExact(run: Run, got: Read, mode: 'overwrite' | 'discard'): void {
  expect(got.corrupt).toEqual([]);
  for (let i = 1; i < got.events.length; i++) expect(got.events[i]!.timestamp).toBeGreaterThan(got.events[i - 1]!.timestamp);
  for (let cpu = 0; cpu < 3; cpu++) {
    const mine = got.events.filter((e) => e.cpu === cpu);
    for (const e of mine) expect(e.a).toBe(run.stored[cpu]![e.index]);
    const lost = got.lost.filter((l) => l.cpu === cpu);
    // Indices delivered and gaps announced never overlap; with the padding (discarded
    // reservations, which an overrun gap may include) they cover every entry.
    const covered = new Set(mine.map((e) => e.index));
    for (const l of lost.filter((x) => x.cause !== 'dropped')) {
      for (let i = l.beforeIndex - l.count; i < l.beforeIndex; i++) {
        expect(covered.has(i)).toBe(false);
        covered.add(i);
      }
    }
    run.stored[cpu]!.forEach((a, index) => a === -1 && covered.add(index));
    expect(covered.size).toBe(run.entries[cpu]);
    expect(lost.filter((l) => l.cause === 'dropped').reduce((n, l) => n + l.count, 0)).toBe(run.dropped[cpu]);
    if (mode === 'discard') expect(lost.filter((l) => l.cause === 'overrun')).toEqual([]);
  }
}

describe('trace file: the drain copies pages out, the trace reader reads them back', () => {
  for (const mode of ['overwrite', 'discard'] as const) {
    it(`delivers every event exactly, merged, with every loss where it happened (${mode})`, () => {
      const seed = testSeed(`trace-file ${mode}`);
      for (let round = 0; round < 8; round++) {
        const run = record(mode, seed + round, join(dir, `${mode}-${round}.rtrace`));
        const got = readBack(run.path);
        checkExact(run, got, mode);
        // Losses happen in this small ring in both modes; the test is about them too.
        if (round === 0) expect(got.lost.length).toBeGreaterThan(0);
      }
    });
  }

  it('appends a segment per run and reads them in order', () => {
    const path = join(dir, 'two-runs.rtrace');
    const first = record('discard', 11, path);
    const firstRead = readBack(path);
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 512, mode: 'discard', clock: 'counter' });
    const w = ring.writer(0);
    for (let i = 0; i < 10; i++) w.write(5, i, 0, i ^ 0x5a5a, 0);
    const drain = new PageDrain(ring, ring.reader(), TraceFileWriter.open(path), { run: 2 });
    drain.finish();
    drain.file.close();
    const reader = TraceFileReader.open(path);
    expect(reader.segments.map((s) => s.info.description)).toEqual([{ test: 'trace-file' }, { run: 2 }]);
    expect(reader.segments[1]!.info.cpus).toBe(1);
    const got = readBack(path);
    expect(got.events.length).toBe(firstRead.events.length + 10);
    expect(got.events.slice(-10).map((e) => e.a)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(first.entries.length).toBe(3);
  });

  it('a file cut anywhere gives back the events before the cut, and announces the rest it knows of', () => {
    const run = record('discard', 5, join(dir, 'cut.rtrace'), 1500);
    const file = readFileSync(run.path);
    const whole = readBack(run.path);
    for (let cut = 0; cut < file.length; cut += 97) {
      const path = join(dir, 'cut-part.rtrace');
      writeFileSync(path, file.subarray(0, Math.max(cut, 8)));
      const got = readBack(path);
      // Per CPU, a prefix of the whole read: intact events in order.
      for (let cpu = 0; cpu < 3; cpu++) {
        const mine = got.events.filter((e) => e.cpu === cpu);
        expect(mine).toEqual(whole.events.filter((e) => e.cpu === cpu).slice(0, mine.length));
      }
      if (cut > 8 && cut < file.length) expect(got.corrupt.length).toBeGreaterThan(0);
    }
  });

  it('damaged bytes never throw or hang; every event it delivers sits at its index, the others announced', () => {
    const seed = testSeed('trace-file damage');
    const random = prng(seed);
    const run = record('overwrite', seed, join(dir, 'damage.rtrace'), 3000);
    const file = readFileSync(run.path);
    for (let round = 0; round < 150; round++) {
      const damaged = Buffer.from(file);
      const flips = round % 2 === 0 ? 1 : 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) {
        const at = 8 + Math.floor(random() * (damaged.length - 8));
        damaged[at] = damaged[at]! ^ (1 << Math.floor(random() * 8));
      }
      const path = join(dir, 'damage-part.rtrace');
      writeFileSync(path, damaged);
      const got = readBack(path);
      for (let cpu = 0; cpu < 3; cpu++) {
        const mine = got.events.filter((e) => e.cpu === cpu);
        for (let i = 1; i < mine.length; i++) expect(mine[i]!.index).toBeGreaterThan(mine[i - 1]!.index);
        // Every entry the run stored is delivered, announced lost, or padding; or, where a
        // record header was damaged into another valid record (undetectable in the bytes,
        // as a flipped payload byte is), the damage to that CPU's stream is reported.
        const covered = new Set(mine.map((e) => e.index));
        for (const l of got.lost) if (l.cpu === cpu && l.cause !== 'dropped') for (let i = l.beforeIndex - l.count; i < l.beforeIndex; i++) covered.add(i);
        run.stored[cpu]!.forEach((a, index) => a === -1 && covered.add(index));
        const reported = got.corrupt.some((r) => (r.startsWith(`${cpu}: `) && r.includes('the drain copied')) || (r.startsWith('-1: ') && r.includes('outside a readable segment')));
        for (let i = 0; i < run.entries[cpu]!; i++) if (!covered.has(i) && !reported) expect.fail(`round ${round}: cpu ${cpu} event ${i} vanished unannounced`);
      }
    }
  });

  it('refuses a file that is not a trace file, and bad writer options, in one line', () => {
    const path = join(dir, 'not-a-trace');
    writeFileSync(path, 'hello world, not a trace');
    expect(() => TraceFileReader.open(path)).toThrow(/is not a ringtrace trace file/);
    expect(() => TraceFileWriter.open(join(dir, 'x.rtrace'), { flag: 'append' } as never)).toThrow(/TraceFileWriter options: unknown option "flag" \(the options are flags, bufferBytes, fsync\)/);
    expect(() => TraceFileWriter.open(join(dir, 'x.rtrace'), { flags: 'truncate' } as never)).toThrow(RangeError);
  });
});
