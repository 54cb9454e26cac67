import { decode } from '../../src/log/payload-codec.js';
import type { EventLog, LogEntry } from '../../src/log/event-log.js';
import type { CpuStats, RingBuffer } from '../../src/ring/ring-buffer.js';
import { BenchVerifyError } from '../ring/verify.js';
import { Request, requestMismatch } from './request.js';

/**
 * The checks made after timing an eventlog benchmark: the slot wrote `events` events, none
 * dropped, the counters balance (overrun + unread == entries), and draining the buffer
 * decodes exactly the unread events with the Request schema, in index order, ending at the
 * last event written, each with the values derived from its index; the reader reports
 * exactly the overrun as lost. Each returns a one-line account of what it checked and
 * throws BenchVerifyError otherwise.
 */

/** An EventLog written through `emit` or `emitRecord`: drained and decoded by the log itself. */
export function verifyLog(log: EventLog, events: number): string {
  const check = new SequenceCheck(log.stats().slots);
  log.drain((e) => check.entry(e));
  return `${check.finish(events)}; decoded by EventLog.drain`;
}

/**
 * An EventLog whose slots were written at once by several threads (slot i: `events[i]`
 * events, indices from 0): each slot's retained events read back as `verifyLog` reads one.
 */
export function verifyLogSlots(log: EventLog, events: readonly number[], drained?: readonly LogEntry[]): string {
  const slots = log.stats().slots;
  if (slots.length !== events.length) throw new BenchVerifyError(`the log has ${slots.length} slots, ${events.length} were written`);
  const checks = slots.map((s) => new SequenceCheck([s]));
  // The entries a drain thread wrote out, or the log's own, consumed here.
  const visit = (cb: (e: LogEntry) => void): void => (drained === undefined ? void log.drain(cb) : drained.forEach(cb));
  visit((e) => {
    const check = checks[e.slot];
    if (check === undefined) throw new BenchVerifyError(`an entry of slot ${e.slot}, which the log does not have`);
    check.entry(e);
  });
  return checks.map((c, i) => `slot ${i}: ${c.finish(events[i]!)}`).join('; ');
}

/**
 * A ring written by hand in the Request layout (`ring-writer-write`): drained with the
 * ring's reader, each payload decoded with the event log's codec, so the check also proves
 * the hand-written bytes are the bytes the codec writes.
 */
export function verifyHandWritten(rb: RingBuffer, type: number, events: number): string {
  const check = new SequenceCheck(rb.stats());
  const reader = rb.reader();
  try {
    reader.drain({
      event(v) {
        if (v.type !== type) {
          check.fail(`event ${v.index} has type ${v.type}, expected ${type}`);
          return;
        }
        const values = decode(Request, v.u8, v.offset, v.length);
        check.event(v.index, values, values?.truncated ?? false);
      },
      lost(l) {
        check.lost(l.count, l.cause, l.beforeIndex);
      },
      corrupt(r) {
        check.fail(`corrupt page ${r.pageSeq} at ${r.offset}: ${r.reason}`);
      },
    });
  } finally {
    reader.close();
  }
  return `${check.finish(events)}; payloads decoded with the log's codec (decode(Request, ...))`;
}

/** Events of one slot, visited in order: each must be the next index with its derived values. */
class SequenceCheck {
  private next = -1;
  private read = 0;
  private lostCount = 0;
  private problem = '';
  private readonly stats: CpuStats;

  constructor(slots: readonly CpuStats[]) {
    if (slots.length !== 1) throw new BenchVerifyError(`expected 1 slot, the buffer has ${slots.length}`);
    this.stats = slots[0]!;
  }

  event(index: number, values: Readonly<Record<string, unknown>> | null, truncated: boolean): void {
    if (this.problem !== '') return;
    if (this.next >= 0 && index !== this.next) this.problem = `event index ${index} after ${this.next - 1}`;
    else if (values === null) this.problem = `event ${index} does not decode as ${Request.name}`;
    else if (truncated) this.problem = `event ${index} is flagged truncated`;
    else this.problem = requestMismatch(index, values);
    this.next = index + 1;
    this.read++;
  }

  lost(count: number, cause: string, beforeIndex: number): void {
    if (cause !== 'overrun') this.fail(`${count} events lost (${cause})`);
    if (this.next >= 0 && beforeIndex - count !== this.next) this.fail(`${count} lost before ${beforeIndex}, after event ${this.next - 1}`);
    this.lostCount += count;
    this.next = beforeIndex;
  }

  /** One log entry: an event, a loss or damage. */
  entry(e: LogEntry): void {
    if (e.kind === 'event') this.event(e.index, e.name === Request.name ? e.values : null, e.truncated);
    else if (e.kind === 'lost') this.lost(e.count, e.cause, e.beforeIndex);
    else this.fail(`corrupt: ${e.reason}`);
  }

  fail(problem: string): void {
    this.problem ||= problem;
  }

  finish(events: number): string {
    const s = this.stats;
    const check = (ok: boolean, message: () => string): void => {
      if (!ok) throw new BenchVerifyError(message());
    };
    check(this.problem === '', () => this.problem);
    check(s.written === events && s.entries === events, () => `written ${s.written}, entries ${s.entries}, expected ${events}`);
    check(s.dropped === 0 && s.corrupt === 0, () => `${s.dropped} dropped, ${s.corrupt} corrupt`);
    check(s.overrun > 0, () => 'no overrun: the writer never lapped the ring (page switches not exercised)');
    // Whoever consumed (a drain thread while the writers ran, or this check at the end),
    // every entry was either read here or overrun.
    check(this.read === s.entries - s.overrun, () => `read ${this.read} events; entries ${s.entries} - overrun ${s.overrun} = ${s.entries - s.overrun}`);
    check(this.next === events, () => `last event read is ${this.next - 1}, last written ${events - 1}`);
    check(this.lostCount === s.overrun, () => `reader reported ${this.lostCount} lost, stats say ${s.overrun} overrun`);
    return `${events} written, 0 dropped; the ${this.read} retained (not overrun) read back in index order with derived values; lost == overrun == ${s.overrun}`;
  }
}
