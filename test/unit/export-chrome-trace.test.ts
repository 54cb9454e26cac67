import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as TraceEngine from '@paulirish/trace_engine';
import { toChromeTrace } from '../../src/export/chrome-trace.js';
import type { LogEntry } from '../../src/log/event-log.js';
import { EventLog } from '../../src/log/event-log.js';
import { defineEvent } from '../../src/log/event-schema.js';
import { writeDump } from '../../src/log/sinks.js';
import { runCli } from '../bench/run-cli.js';

/**
 * The Chrome trace JSON read by Chrome DevTools' own trace engine (npm
 * `@paulirish/trace_engine`), a reader we did not write, and parsed as plain JSON for the
 * values it must carry exactly.
 */

beforeAll(() => {
  // The engine measures with DOMRect, which Node lacks; it needs no more than a plain record.
  const g = globalThis as { DOMRect?: unknown };
  g.DOMRect ??= class DOMRect {
    constructor(
      readonly x = 0,
      readonly y = 0,
      readonly width = 0,
      readonly height = 0,
    ) {}
  };
});

const root = mkdtempSync(join(tmpdir(), 'ringtrace-chrome-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Json = Record<string, unknown>;
interface JsonTrace {
  traceEvents: Array<{ name: string; cat?: string; ph: string; ts?: number; pid: number; tid: number; args: Json }>;
}

/** Per thread row the engine built: its name and how many entries it found on it. */
async function devtoolsRows(trace: JsonTrace): Promise<Map<number, { name: string | null; entries: number }>> {
  const model = TraceEngine.TraceModel.Model.createWithAllHandlers();
  await model.parse(trace.traceEvents as never);
  const parsed = model.parsedTrace();
  const rows = new Map<number, { name: string | null; entries: number }>();
  for (const [, process] of parsed!.data.Renderer.processes) {
    for (const [tid, thread] of process.threads) rows.set(Number(tid), { name: thread.name ?? null, entries: thread.entries.length });
  }
  return rows;
}

const roundTrip = (entries: readonly LogEntry[], clock?: 'hrtime' | 'counter' | 'coarse'): JsonTrace => JSON.parse(JSON.stringify(toChromeTrace(entries, clock === undefined ? {} : { clock }))) as JsonTrace;

const event = (slot: number, index: number, timestamp: number, values: Json = { n: index }): LogEntry => ({ kind: 'event', name: 'tick', slot, index, timestamp, values, truncated: false });

describe('Chrome trace JSON', () => {
  it("is read by Chrome DevTools' trace engine: one row per slot (slot 0 included), every event, loss and damage report on it", async () => {
    const entries: LogEntry[] = [];
    for (let i = 0; i < 30; i++) entries.push(event(i % 3, Math.floor(i / 3), 1_000 + 100 * i));
    entries.push({ kind: 'lost', slot: 0, count: 4, cause: 'overrun', beforeIndex: 14 });
    entries.push({ kind: 'corrupt', slot: -1, reason: 'record at byte 9: damaged' });
    entries.push(event(0, 14, 9_000));
    const trace = roundTrip(entries);
    const rows = await devtoolsRows(trace);
    expect([...rows.keys()].sort()).toEqual([1, 2, 3, 4]);
    expect(rows.get(1)).toEqual({ name: 'slot 0', entries: 10 + 1 + 1 });
    expect(rows.get(2)).toEqual({ name: 'slot 1', entries: 10 });
    expect(rows.get(3)).toEqual({ name: 'slot 2', entries: 10 });
    expect(rows.get(4)).toEqual({ name: 'damaged file records', entries: 1 });
    for (const e of trace.traceEvents) {
      expect(typeof e.cat, JSON.stringify(e)).toBe('string');
      if (e.ph !== 'M') expect(e.tid).toBeGreaterThan(0);
    }
  });

  it('carries NaN, ±Infinity, -0 and u64 exactly, and keeps a user field named index apart from the per-slot index', () => {
    const values = { index: 77, nan: NaN, inf: Infinity, ninf: -Infinity, nzero: -0, zero: 0, big: 2n ** 64n - 1n, s: 'x', ok: true };
    const trace = roundTrip([event(0, 5, 1_000, values)]);
    const e = trace.traceEvents.find((x) => x.ph !== 'M')!;
    expect(e.args).toEqual({
      fields: { index: 77, nan: 'NaN', inf: 'Infinity', ninf: '-Infinity', nzero: '-0', zero: 0, big: '18446744073709551615', s: 'x', ok: true },
      index: 5,
      timestamp: 1_000,
      truncated: false,
    });
  });

  it('stamps a loss at the next event of its slot (the previous one at the end), not at 0', () => {
    const trace = roundTrip([
      { kind: 'lost', slot: 0, count: 9, cause: 'overrun', beforeIndex: 9 },
      event(1, 0, 2_000),
      event(0, 9, 5_000),
      event(0, 10, 6_000),
      { kind: 'lost', slot: 0, count: 3, cause: 'dropped', beforeIndex: 14 },
    ]);
    const lost = trace.traceEvents.filter((e) => e.name === 'lost');
    expect(lost.map((e) => [e.tid, e.ts])).toEqual([
      [1, 5],
      [1, 6.001], // the previous event's time, one ns on so the row keeps the order
    ]);
  });

  it('ringtrace report --chrome puts counter-clock events 1 µs apart in ticket order, and hrtime events at their time', async () => {
    const Req = defineEvent('req', { n: 'u32' });
    for (const clock of ['counter', 'hrtime'] as const) {
      const log = EventLog.create({ slots: 1, pagesPerSlot: 4, pageBytes: 4096, clock });
      try {
        const w = log.writer();
        for (let n = 0; n < 20; n++) w.emit(Req, { n });
        const dump = join(root, `${clock}.dump`);
        writeDump(log, dump);
        const r = await runCli(['report', dump, '--chrome']);
        expect(r.code, r.stderr).toBe(0);
        const trace = JSON.parse(r.stdout) as JsonTrace & { otherData: { clock: string } };
        expect(trace.otherData.clock).toBe(clock);
        const events = trace.traceEvents.filter((e) => e.ph !== 'M');
        expect(events.map((e) => (e.args['fields'] as Json)['n'])).toEqual([...Array(20).keys()]);
        const ts = events.map((e) => e.ts!);
        const ns = events.map((e) => e.args['timestamp'] as number);
        if (clock === 'counter') expect(ts).toEqual(ns); // a ticket is a µs
        else expect(ts).toEqual(ns.map((t, i) => Math.max(t, i === 0 ? 0 : ns[i - 1]! + 1) / 1000)); // ns on a µs axis
        for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThan(ts[i - 1]!);
        if (clock === 'counter') for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBeGreaterThanOrEqual(1);
        expect((await devtoolsRows(trace)).get(1)).toEqual({ name: 'slot 0', entries: 20 });
      } finally {
        await log.close();
      }
    }
  });

  it('keeps equal timestamps of a slot in order, 1 ns apart, with the clock value in args.timestamp', () => {
    const trace = roundTrip([event(0, 0, 4_000), event(0, 1, 4_000), event(1, 0, 4_000), event(0, 2, 4_000), event(0, 3, 9_000)], 'coarse');
    const rows = trace.traceEvents.filter((e) => e.ph !== 'M').map((e) => [e.tid, e.ts, e.args['timestamp']]);
    expect(rows).toEqual([
      [1, 4, 4_000],
      [1, 4.001, 4_000],
      [2, 4, 4_000],
      [1, 4.002, 4_000],
      [1, 9, 9_000],
    ]);
  });

  it('rejects an unknown option and an unknown clock, naming them', () => {
    expect(() => toChromeTrace([], { clok: 'counter' } as never)).toThrow(TypeError);
    expect(() => toChromeTrace([], { clok: 'counter' } as never)).toThrow(/unknown option "clok" \(options are clock\)/);
    expect(() => toChromeTrace([], { clock: 'tsc' } as never)).toThrow(RangeError);
    expect(() => toChromeTrace([], { clock: 'tsc' } as never)).toThrow(/options.clock must be one of hrtime, counter, coarse \(got "tsc"\)/);
  });
});
