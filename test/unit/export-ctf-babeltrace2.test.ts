import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCtf } from '../../src/export/ctf.js';
import type { LogEntry } from '../../src/log/event-log.js';
import { defineEvent } from '../../src/log/event-schema.js';
import { prng, testSeed } from '../seed.js';

/**
 * The CTF export read by babeltrace2 (Debian's `babeltrace2`, which CI installs): a reader
 * we did not write. Its text output gives each event (raw clock value with
 * `--clock-cycles`, class name, cpu_id, fields) and, on stderr, its own notices of
 * discarded events per stream.
 */
const probe = spawnSync('babeltrace2', ['--version'], { encoding: 'utf8' });
const hasBabeltrace2 = probe.status === 0;
if (!hasBabeltrace2) console.log('[skip] export-ctf-babeltrace2: babeltrace2 is not installed here (apt-get install -y babeltrace2); CI installs it');

const root = mkdtempSync(join(tmpdir(), 'ringtrace-bt2-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `trace-${dirs++}`);

interface Bt2Event {
  readonly timestamp: bigint;
  readonly name: string;
  readonly cpuId: number;
  readonly fields: string;
}

interface Bt2Read {
  readonly events: Bt2Event[];
  /** babeltrace2's count of discarded events, per stream file name. */
  readonly discarded: Map<string, number>;
  /** Its notices that events may have been discarded, uncounted. */
  readonly uncounted: number;
  /** Each counted notice's range, in clock values, per stream file. */
  readonly ranges: Array<{ stream: string; count: number; from: string; to: string }>;
}

function babeltrace2(dir: string): Bt2Read {
  const r = spawnSync('babeltrace2', ['--clock-cycles', dir], { encoding: 'utf8', maxBuffer: 256 << 20 });
  expect(r.status, r.stderr.slice(0, 2000)).toBe(0);
  const events: Bt2Event[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const m = /^\[(\d+)\] \(\+[?\d]+\) ([\w]+): \{ cpu_id = (\d+) \}, \{ (.*) \}$/.exec(line);
    expect(m, `babeltrace2 printed an event line of an unexpected shape: ${line}`).not.toBeNull();
    events.push({ timestamp: BigInt(m![1]!), name: m![2]!, cpuId: Number(m![3]), fields: m![4]! });
  }
  const discarded = new Map<string, number>();
  const ranges: Bt2Read['ranges'] = [];
  let uncounted = 0;
  for (const m of r.stderr.matchAll(/Tracer discarded (\d+) events? between \[([^\]]+)\] and \[([^\]]+)\] in trace .*? within stream "[^"]*\/([^"/]+)"/g)) {
    discarded.set(m[4]!, (discarded.get(m[4]!) ?? 0) + Number(m[1]));
    ranges.push({ stream: m[4]!, count: Number(m[1]), from: m[2]!, to: m[3]! });
  }
  for (const _ of r.stderr.matchAll(/may have discarded/g)) uncounted++;
  return { events, discarded, uncounted, ranges };
}

/** A clock value as babeltrace2 prints a time of day from a 1 GHz clock at offset 0. */
const timeOfDay = (ns: number): string => {
  const s = Math.floor(ns / 1e9);
  const hh = String(Math.floor(s / 3600)).padStart(2, '0');
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return `${hh}:${mm}:${ss}.${String(ns % 1e9).padStart(9, '0')}`;
};

describe.skipIf(!hasBabeltrace2)('CTF export read by babeltrace2', () => {
  it('reads fields whose names collide once escaped or stripped (a$ beside a_, $x beside _x, _x before x) with each value in its own field', () => {
    const Pair = defineEvent('pair', { a$: 'u8', a_: 'u16', $x: 'u32', _x: 'u32', x: 'u32', a__2: 'u8' });
    const Kept = defineEvent('kept', { x: 'u8', _x: 'u8', __x: 'u8', struct: 'u8' });
    const entries: LogEntry[] = [];
    for (let n = 0; n < 5; n++) {
      entries.push({ kind: 'event', name: 'pair', slot: 0, index: 2 * n, timestamp: 100 + n, values: { a$: n, a_: 1000 + n, $x: 2000 + n, _x: 3000 + n, x: 4000 + n, a__2: 200 + n }, truncated: false });
      entries.push({ kind: 'event', name: 'kept', slot: 0, index: 2 * n + 1, timestamp: 100 + n, values: { x: n, _x: 10 + n, __x: 20 + n, struct: 30 + n }, truncated: false });
    }
    const dir = freshDir();
    writeCtf(dir, entries, [Pair, Kept]);
    const read = babeltrace2(dir);
    expect(read.events.map((e) => `${e.name}: ${e.fields}`)).toEqual(
      [...Array(5).keys()].flatMap((n) => [
        // `a$` may not take `a_` nor `a__2` (other fields' names); `x` after `_x` (babeltrace2 refuses it), nor as `x_2` after `_x_2`.
        `pair: a__3 = ${n}, a_ = ${1000 + n}, _x_2 = ${2000 + n}, _x = ${3000 + n}, x_3 = ${4000 + n}, a__2 = ${200 + n}`,
        `kept: x = ${n}, _x = ${10 + n}, __x = ${20 + n}, struct = ${30 + n}`,
      ]),
    );
  });

  it("counts every loss itself, a stream's first ones too, and holds events and losses where they happened", () => {
    const seed = testSeed('export-ctf-babeltrace2');
    const random = prng(seed);
    const Tick = defineEvent('tick', { n: 'u32', slot: 'u8' });
    const entries: LogEntry[] = [];
    const clock = [1_000, 1_000, 1_000];
    const losses = [0, 0, 0];
    const ticks = [0, 0, 0];
    const lost = (slot: number, count = 1 + Math.floor(random() * 300)): void => {
      losses[slot]! += count;
      entries.push({ kind: 'lost', slot, count, cause: random() < 0.5 ? 'overrun' : 'dropped', beforeIndex: ticks[slot]! + losses[slot]! });
    };
    // Slot 0 and 2 open with a loss (an overwrite-mode reader's first report); slots 1 and 2 end with losses.
    lost(0);
    lost(2);
    for (let i = 0; i < 12_000; i++) {
      const slot = Math.floor(random() * 3);
      clock[slot]! += 1 + Math.floor(random() * 50);
      if (random() < 0.002) lost(slot);
      if (random() < 0.001) entries.push({ kind: 'corrupt', slot: -1, reason: `damage near ${i}` });
      entries.push({ kind: 'event', name: 'tick', slot, index: ticks[slot]! + losses[slot]!, timestamp: clock[slot]!, values: { n: ticks[slot]!, slot }, truncated: false });
      ticks[slot]!++;
    }
    lost(1);
    lost(1);
    lost(2, 1); // babeltrace2 says "1 event"
    const dir = freshDir();
    writeCtf(dir, entries, [Tick]);
    const read = babeltrace2(dir);

    expect(read.uncounted).toBe(0);
    for (let slot = 0; slot < 3; slot++) {
      expect(read.discarded.get(`stream_${slot}`) ?? 0, `slot ${slot}`).toBe(losses[slot]);
      const mine = read.events.filter((e) => e.cpuId === slot);
      const ticksRead = mine.filter((e) => e.name === 'tick');
      expect(ticksRead.length).toBe(ticks[slot]);
      expect(ticksRead.map((e) => e.fields)).toEqual([...Array(ticks[slot]).keys()].map((n) => `n = ${n}, slot = ${slot}`));
      expect(mine.filter((e) => e.name === 'ringtrace_lost').length).toBe(entries.filter((e) => e.kind === 'lost' && e.slot === slot).length);
    }
    expect(read.events.filter((e) => e.cpuId === 0xffffffff).length).toBe(entries.filter((e) => e.kind === 'corrupt').length);

    // Where: each loss at the next event of its slot (the previous at the end of a slot),
    // never at 0; babeltrace2's notice spans from the event before the loss to that point.
    const mine = (slot: number): LogEntry[] => entries.filter((e) => e.slot === slot);
    for (let slot = 0; slot < 3; slot++) {
      const list = mine(slot);
      const stamps = read.events.filter((e) => e.cpuId === slot).map((e) => e.timestamp);
      const expectedStamps: bigint[] = [];
      const notices: Array<{ count: number; from: string; to: string }> = [];
      let previous = NaN; // the slot's last event
      let lastStamp = NaN; // the stream's last entry, which ends the packet before a loss
      list.forEach((e, k) => {
        if (e.kind === 'event') {
          expectedStamps.push(BigInt(e.timestamp));
          previous = lastStamp = e.timestamp;
          return;
        }
        const next = list.slice(k + 1).find((x) => x.kind === 'event');
        const at = next?.kind === 'event' ? next.timestamp : previous;
        expectedStamps.push(BigInt(at));
        if (e.kind === 'lost') notices.push({ count: e.count, from: timeOfDay(Number.isNaN(lastStamp) ? at : lastStamp), to: timeOfDay(at) });
        lastStamp = at;
      });
      expect(stamps).toEqual(expectedStamps);
      expect(read.ranges.filter((r) => r.stream === `stream_${slot}`).map(({ count, from, to }) => ({ count, from, to }))).toEqual(notices);
    }
  });
});
