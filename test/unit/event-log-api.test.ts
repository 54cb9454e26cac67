import { describe, expect, it } from 'vitest';
import { BadEvent, EventLog, RingClosedError, defineEvent, type EventDescriptor, type LogEntry } from '../../src/index.js';
import { C_TAIL_PHYS, PAGE_HEADER_BYTES } from '../../src/ring/layout.js';
import { bytesPerIteration } from '../gc.js';

const Tick = defineEvent('tick', { n: 'u32' }); // 5-byte payload: 16-byte records
const Request = defineEvent('request', { status: 'u16', path: 'string' });

function drained(log: EventLog): LogEntry[] {
  const out: LogEntry[] = [];
  log.drain((e) => out.push(e));
  return out;
}

describe('EventLog as a new user meets it', () => {
  it('snapshot() gives what drain() gives: damage reported, losses in place (overrun first, the damaged tail last)', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 2, pageBytes: 1024, mode: 'overwrite', clock: 'counter' });
    try {
      const w = log.writer();
      for (let n = 0; n < 300; n++) w.emit(Tick, { n });
      // One damaged timestamp on the newest page: its time delta far past the writer's last.
      const v = log.ring.view;
      const page = v.pageAt(0, v.controlI32(0, C_TAIL_PHYS));
      v.i32[((page + PAGE_HEADER_BYTES + 16 * 5) >> 2) + 1] = -1;
      const snap = log.snapshot();
      expect(snap.filter((e) => e.kind === 'corrupt').length).toBe(1);
      expect(snap[0]).toMatchObject({ kind: 'lost', cause: 'overrun' }); // before the events it precedes
      expect(snap.at(-1)).toMatchObject({ kind: 'lost', cause: 'corrupt' }); // the rest of the damaged page
      expect(snap).toEqual(drained(log));
      // Every event is accounted for, in index order: delivered, or lost where it was.
      let index = 0;
      for (const e of snap) {
        if (e.kind === 'event') expect(e.index).toBe(index++);
        else if (e.kind === 'lost') index += e.count;
      }
      expect(index).toBe(300);
      expect(log.stats().slots[0]!.unread).toBe(0);
    } finally {
      await log.close();
    }
  });

  it("records a bad event by default, counted, instead of throwing into the caller (onBadEvent: 'record')", async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 4, pageBytes: 4096, clock: 'counter' });
    try {
      const w = log.writer();
      expect(w.emit(Request, { status: 70_000, path: '/a' })).toBe(false);
      expect(w.emit(Request, { status: 200, path: '/b', extra: 1 } as never)).toBe(false);
      expect(w.emit(undefined as never, { n: 1 })).toBe(false);
      expect(w.emit({} as never, { n: 1 })).toBe(false);
      const rec = w.record(Tick);
      (rec as { n: unknown }).n = 'seven';
      expect(w.emitRecord(Tick, rec)).toBe(false);
      expect(w.emit(Request, { status: 200, path: '/ok' })).toBe(true);
      expect(log.stats().badEvents).toBe(5);
      const entries = drained(log).filter((e) => e.kind === 'event');
      expect(entries.map((e) => (e.kind === 'event' ? [e.name, e.values] : null))).toEqual([
        [BadEvent.name, { event: 'request', reason: 'event "request": field "status" (u16) must be an integer between 0 and 65535 (got 70000)' }],
        [BadEvent.name, { event: 'request', reason: 'event "request": unknown field "extra" (the fields are status, path)' }],
        [BadEvent.name, { event: '', reason: 'an event descriptor made by defineEvent() is required (got undefined)' }],
        [BadEvent.name, { event: '', reason: 'an event descriptor made by defineEvent() is required (got object)' }],
        [BadEvent.name, { event: 'tick', reason: 'event "tick": field "n" (u32) must be a number (got string)' }],
        ['request', { status: 200, path: '/ok' }],
      ]);
    } finally {
      await log.close();
    }
  });

  it("throws bad input with a clear message under onBadEvent: 'throw'", async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 4, pageBytes: 4096, onBadEvent: 'throw' });
    try {
      const w = log.writer();
      for (const d of [undefined, {}, null]) {
        expect(() => w.emit(d as unknown as EventDescriptor, { n: 1 } as never)).toThrow(TypeError);
        expect(() => w.emit(d as unknown as EventDescriptor, { n: 1 } as never)).toThrow(/an event descriptor made by defineEvent\(\) is required/);
      }
      expect(() => w.emitRecord(undefined as never, {} as never)).toThrow(/an event descriptor made by defineEvent\(\) is required \(got undefined\)/);
      expect(() => w.emit(Tick, { n: 1, m: 2 } as never)).toThrow(new TypeError('event "tick": unknown field "m" (the fields are n)'));
      expect(log.stats()).toMatchObject({ badEvents: 0 });
      expect(log.stats().slots[0]!.written).toBe(0);
    } finally {
      await log.close();
    }
  });

  it('keeps ordinary URLs whole by default, cuts strings to fit maxEventBytes, and counts truncations', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 4, pageBytes: 8192, clock: 'counter' });
    try {
      const w = log.writer();
      const url = `/search?q=${'ringtrace+'.repeat(30)}&page=2`; // 310 bytes: over the old 64-byte default
      const Two = defineEvent('two', { a: 'string', b: 'string' });
      expect(w.emit(Request, { status: 200, path: url })).toBe(true);
      expect(w.emit(Request, { status: 200, path: 'x'.repeat(5000) })).toBe(true);
      expect(w.emit(Two, { a: 'a'.repeat(800), b: 'b'.repeat(800) })).toBe(true);
      expect(log.stats().truncatedEvents).toBe(2);
      const got = drained(log).flatMap((e) => (e.kind === 'event' ? [e] : []));
      expect(got[0]).toMatchObject({ values: { path: url }, truncated: false });
      // maxEventBytes 1024: 1 flags byte + 2 status bytes + 2 length bytes leave 1019 for the path.
      expect(got[1]).toMatchObject({ values: { path: 'x'.repeat(1019) }, truncated: true });
      // Strings are cut in declaration order: the first whole, the second to what is left.
      expect(got[2]).toMatchObject({ values: { a: 'a'.repeat(800), b: 'b'.repeat(1024 - 5 - 800) }, truncated: true });
    } finally {
      await log.close();
    }
  });

  it('refuses unknown option names, naming the known ones', async () => {
    expect(() => EventLog.create({ slot: 2 } as never)).toThrow(
      /options: unknown option "slot" \(the options are slots, pagesPerSlot, pageBytes, maxEventBytes, mode, blockTimeoutMs, clock, onSlotsExhausted, registryBytes, onBadEvent\)/,
    );
    expect(() => EventLog.create({ onBadEvent: 'ignore' as never })).toThrow(/options\.onBadEvent must be one of record, throw \(got "ignore"\)/);
    const log = EventLog.create({ slots: 1, pagesPerSlot: 2, pageBytes: 4096 });
    try {
      await expect(log.events({ poll: 1 } as never).next()).rejects.toThrow(/unknown option "poll" \(the options are signal, pollMs\)/);
    } finally {
      await log.close();
    }
  });

  it('a closed writer throws RingClosedError on emit and emitRecord', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 2, pageBytes: 4096 });
    try {
      const w = log.writer();
      const rec = w.record(Tick);
      expect(w.emitRecord(Tick, rec)).toBe(true);
      w.close();
      expect(() => w.emit(Tick, { n: 1 })).toThrow(RingClosedError);
      expect(() => w.emitRecord(Tick, rec)).toThrow(RingClosedError);
      expect(log.stats().slots[0]!.written).toBe(1);
    } finally {
      await log.close();
    }
  });

  it('emitRecord allocates nothing per event, cutting and counting long strings included (counter clock)', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 16, pageBytes: 8192, mode: 'overwrite', clock: 'counter' });
    try {
      const w = log.writer();
      const rec = w.record(Request);
      const loop = (n: number): void => {
        for (let i = 0; i < n; i++) {
          rec.status = i & 0xffff;
          w.emitRecord(Request, rec);
        }
      };
      for (const path of ['/items/42', 'x'.repeat(2000)]) {
        rec.path = path;
        loop(1_000_000); // warm up: let V8 optimise the path first
        expect(bytesPerIteration(loop, 20_000), path.slice(0, 10)).toBeLessThan(0.5);
      }
      expect(log.stats().truncatedEvents).toBeGreaterThan(200_000);
    } finally {
      await log.close();
    }
  });
});
