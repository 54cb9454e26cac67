import { describe, expect, it } from 'vitest';
import { EventLog, type LogEntry } from '../../src/log/event-log.js';
import { defineEvent } from '../../src/log/event-schema.js';
import { RingLayoutError } from '../../src/ring/errors.js';

const Request = defineEvent('request', { status: 'u16', bytes: 'u32', micros: 'f64', ok: 'bool', path: 'string' }, { maxStringBytes: 32 });
const Tick = defineEvent('tick', { n: 'u32' });

describe('EventLog in one thread', () => {
  it('writes typed events and reads them back decoded, with the schema shared through memory', async () => {
    const log = EventLog.create({ slots: 2, pagesPerSlot: 4, pageBytes: 4096, clock: 'counter', onBadEvent: 'throw' });
    try {
      const w = log.writer();
      expect(log.writer()).toBe(w); // the same writer on later calls from this thread,
      expect(EventLog.attach(log.handle).writer()).toBe(w); // even through another attachment
      // @ts-expect-error status is a number
      expect(() => w.emit(Tick, { n: 'x' })).toThrow(TypeError);
      // @ts-expect-error a field is missing
      expect(() => w.emit(Request, { status: 200 })).toThrow(TypeError);
      expect(w.emit(Request, { status: 200, bytes: 512, micros: 1.5, ok: true, path: '/a' })).toBe(true);
      expect(w.emit(Tick, { n: 7 })).toBe(true);
      const rec = w.record(Request);
      rec.status = 404;
      rec.bytes = 0;
      rec.micros = 0.25;
      rec.ok = false;
      rec.path = 'x'.repeat(40); // over the bound: truncated, flagged
      expect(w.emitRecord(Request, rec)).toBe(true);
      const seen: LogEntry[] = [];
      // Another view of the same memory (as another thread would attach) decodes everything.
      const other = EventLog.attach(structuredClone(log.handle));
      expect(other.registry.all().map((d) => d.name)).toEqual(['request', 'tick']);
      expect(log.drain((e) => seen.push(e))).toBe(3);
      expect(seen.map((e) => (e.kind === 'event' ? [e.name, e.values, e.truncated] : e.kind))).toEqual([
        ['request', { micros: 1.5, bytes: 512, status: 200, ok: true, path: '/a' }, false],
        ['tick', { n: 7 }, false],
        ['request', { micros: 0.25, bytes: 0, status: 404, ok: false, path: 'x'.repeat(32) }, true],
      ]);
      expect(log.stats().events).toEqual(['request', 'tick']);
    } finally {
      await log.close();
    }
  });

  it("rejects bad values at run time and writes nothing (onBadEvent: 'throw')", async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 2, pageBytes: 4096, onBadEvent: 'throw' });
    try {
      const w = log.writer();
      expect(() => w.emit(Request, { status: 70_000, bytes: 1, micros: 0, ok: true, path: '' })).toThrow(RangeError);
      expect(() => w.emit(Request, { status: 1, bytes: 1, micros: 0, ok: 'yes', path: '' } as never)).toThrow(TypeError);
      expect(() => w.emit(Request, { status: 1 } as never)).toThrow(TypeError);
      expect(log.stats().slots[0]!.entries).toBe(0);
      const rec = w.record(Tick);
      (rec as { n: unknown }).n = 'seven';
      expect(w.emitRecord(Tick, rec)).toBe(false);
      expect(log.stats().slots[0]!.entries).toBe(0);
    } finally {
      await log.close();
    }
  });

  it('events() yields as events come, ends on abort, and leaves no listener behind while it polls', async () => {
    const { EventEmitter } = await import('node:events');
    const log = EventLog.create({ slots: 1, pagesPerSlot: 4, pageBytes: 4096, clock: 'counter' });
    try {
      const controller = new AbortController();
      const got: number[] = [];
      const consuming = (async () => {
        for await (const e of log.events({ signal: controller.signal, pollMs: 1 })) if (e.kind === 'event') got.push(e.values['n'] as number);
      })();
      const w = log.writer();
      // After each emit, wait (bounded) until the consumer has yielded it: events arrive while
      // the iterator runs, not in a last pass after the abort.
      const seenBeforeAbort: number[] = [];
      for (let round = 0; round < 30; round++) {
        w.emit(Tick, { n: round });
        for (let waited = 0; got.length <= round && waited < 2_000; waited += 2) await new Promise((r) => setTimeout(r, 2));
        seenBeforeAbort.push(got.length);
      }
      expect(seenBeforeAbort).toEqual([...Array(30).keys()].map((n) => n + 1));
      expect(EventEmitter.getEventListeners(controller.signal, 'abort').length).toBeLessThanOrEqual(1);
      controller.abort();
      await consuming;
      expect(got).toEqual([...Array(30).keys()]);
    } finally {
      await log.close();
    }
  });

  it('events() yields a long backlog in bounded batches, in order, with the drops where they are, letting the event loop turn', async () => {
    // Discard mode with a backlog bigger than the ring: reads and drops both happen.
    const log = EventLog.create({ slots: 1, pagesPerSlot: 512, pageBytes: 4096, mode: 'discard', clock: 'counter' });
    try {
      const w = log.writer();
      const total = 300_000;
      for (let n = 0; n < total; n++) w.emit(Tick, { n });
      const { entries: stored, written, dropped } = log.stats().slots[0]!;
      expect(written).toBe(total);
      expect(stored).toBeGreaterThan(100_000);
      expect(dropped).toBeGreaterThan(0);
      const controller = new AbortController();
      controller.abort(); // one pass over what is there, then end
      let events = 0;
      let lost = 0;
      let readWhenFirstSeen = -1;
      // A timer set now must fire while the backlog is consumed: full batches do not starve the event loop.
      let eventsWhenTimerFired = -1;
      setTimeout(() => (eventsWhenTimerFired = events), 0);
      for await (const e of log.events({ signal: controller.signal })) {
        if (readWhenFirstSeen < 0) readWhenFirstSeen = log.stats().slots[0]!.read;
        if (e.kind === 'event') expect(e.values['n']).toBe(events++);
        else if (e.kind === 'lost') lost += e.count;
      }
      // The first event came out before the reader had read more than one batch.
      expect(readWhenFirstSeen).toBeLessThanOrEqual(1024);
      expect(eventsWhenTimerFired).toBeGreaterThan(0);
      expect(eventsWhenTimerFired).toBeLessThan(events);
      expect(events).toBe(stored);
      expect(events + lost).toBe(total);
    } finally {
      await log.close();
    }
  });

  it('validates options and handles, naming the option', () => {
    expect(() => EventLog.create({ slots: 0 })).toThrow(/options\.slots must be an integer between 1 and 256 \(got 0\)/);
    expect(() => EventLog.create({ onSlotsExhausted: 'wait' as never })).toThrow(/options\.onSlotsExhausted must be one of error, shared/);
    expect(() => EventLog.create({ maxEventBytes: 1 << 20 })).toThrow(/options\.maxEventBytes/);
    expect(() => EventLog.attach({})).toThrow(TypeError);
    expect(() => EventLog.attach({ kind: 'ringtrace-event-log', buffer: new SharedArrayBuffer(4096) })).toThrow(RingLayoutError);
  });

  it('refuses an event whose fixed part is larger than the log allows, and a name reused with another schema', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 2, pageBytes: 4096, maxEventBytes: 64, onBadEvent: 'throw' });
    try {
      const Big = defineEvent('big', { a: 'f64', b: 'f64', c: 'f64', d: 'f64', e: 'f64', f: 'f64', g: 'f64', h: 'f64', s: 'string' });
      expect(() => log.writer().emit(Big, { a: 0, b: 0, c: 0, d: 0, e: 0, f: 0, g: 0, h: 0, s: '' })).toThrow(
        /event "big" takes at least 67 bytes \(its fixed fields and string lengths\), more than the log's maxEventBytes = 64/,
      );
      log.writer().emit(Tick, { n: 1 });
      const Tick2 = defineEvent('tick', { n: 'u16' });
      expect(() => log.writer().emit(Tick2, { n: 1 })).toThrow(/already registered in this log with another schema/);
    } finally {
      await log.close();
    }
  });

  it('keeps the last events in overwrite mode and dumps them without consuming (flight recorder)', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 2, pageBytes: 1024, mode: 'overwrite', clock: 'counter' });
    try {
      const w = log.writer();
      for (let n = 0; n < 500; n++) w.emit(Tick, { n });
      const dump = log.snapshot();
      const ticks = dump.flatMap((e) => (e.kind === 'event' ? [e.values['n'] as number] : []));
      expect(ticks.at(-1)).toBe(499);
      expect(ticks).toEqual(ticks.map((_, i) => 500 - ticks.length + i));
      expect(dump.some((e) => e.kind === 'lost' && e.cause === 'overrun')).toBe(true);
      // Not consumed: a drain sees the same newest events.
      const drained: number[] = [];
      log.drain((e) => e.kind === 'event' && drained.push(e.values['n'] as number));
      expect(drained.at(-1)).toBe(499);
    } finally {
      await log.close();
    }
  });
});
