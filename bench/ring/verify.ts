import type { RingBuffer } from '../../src/ring/ring-buffer.js';
import type { EventView } from '../../src/ring/reader.js';
import { EVENT_TYPE, payloadMismatch } from './payload.js';

/** A benchmark's result failed its check: the figure must not be reported as valid. */
export class BenchVerifyError extends Error {
  override readonly name = 'BenchVerifyError';
}

function check(condition: boolean, message: () => string): void {
  if (!condition) throw new BenchVerifyError(message());
}

/**
 * After a writer-only run (overwrite mode, no reader while timing): every CPU wrote
 * `eventsPerCpu` events with payloads derived from their index, none dropped; the
 * counters balance (overrun + unread == entries); draining the buffer yields exactly
 * the unread events, each CPU's in index order with the right payload, ending at the
 * last event written, and the reader reports exactly the overrun as lost. With the
 * counter clock the merged stream has strictly increasing tickets (a total order).
 * Returns a one-line account of what was checked; throws BenchVerifyError otherwise.
 */
export function verifyRetained(rb: RingBuffer, eventsPerCpu: number): string {
  const cpus = rb.config.cpus;
  const stats = rb.stats();
  let overrunTotal = 0;
  for (const s of stats) {
    check(s.written === eventsPerCpu && s.entries === eventsPerCpu, () => `cpu ${s.cpu}: written ${s.written}, entries ${s.entries}, expected ${eventsPerCpu}`);
    check(s.dropped === 0 && s.corrupt === 0, () => `cpu ${s.cpu}: ${s.dropped} dropped, ${s.corrupt} corrupt`);
    check(s.overrun > 0, () => `cpu ${s.cpu}: no overrun, so the writer never lapped the ring (page switches not exercised)`);
    check(s.overrun + s.unread === s.entries, () => `cpu ${s.cpu}: overrun ${s.overrun} + unread ${s.unread} != entries ${s.entries}`);
    overrunTotal += s.overrun;
  }
  const next = new Array<number>(cpus).fill(-1);
  const read = new Array<number>(cpus).fill(0);
  const lost = new Array<number>(cpus).fill(0);
  let problem = '';
  let lastTs = -Infinity;
  const strict = rb.config.clock === 'counter';
  const reader = rb.reader();
  try {
    reader.drain({
      event(v: EventView) {
        if (problem !== '') return;
        const expected = next[v.cpu]!;
        let p = '';
        if (expected >= 0 && v.index !== expected) p = `event index ${v.index} after ${expected - 1}`;
        else if (v.type !== EVENT_TYPE || v.length !== 16) p = `event ${v.index} has type ${v.type}, length ${v.length}`;
        else if (strict ? v.timestamp <= lastTs : v.timestamp < lastTs) p = `event ${v.index}: timestamp ${v.timestamp} after ${lastTs}`;
        else p = payloadMismatch(v.index, v.int32(0), v.int32(1), v.int32(2), v.int32(3));
        if (p !== '') problem = `cpu ${v.cpu}: ${p}`;
        next[v.cpu] = v.index + 1;
        read[v.cpu]! += 1;
        lastTs = v.timestamp;
      },
      lost(l) {
        if (l.cause !== 'overrun') problem ||= `cpu ${l.cpu}: ${l.count} events lost (${l.cause})`;
        lost[l.cpu]! += l.count;
      },
      corrupt(r) {
        problem ||= `cpu ${r.cpu}: corrupt page ${r.pageSeq} at ${r.offset}: ${r.reason}`;
      },
    });
  } finally {
    reader.close();
  }
  check(problem === '', () => problem);
  let retained = 0;
  for (let cpu = 0; cpu < cpus; cpu++) {
    const s = stats[cpu]!;
    check(read[cpu] === s.unread, () => `cpu ${cpu}: read ${read[cpu]} events, stats said ${s.unread} unread`);
    check(next[cpu] === eventsPerCpu, () => `cpu ${cpu}: last event read is ${next[cpu]! - 1}, last written ${eventsPerCpu - 1}`);
    check(lost[cpu] === s.overrun, () => `cpu ${cpu}: reader reported ${lost[cpu]} lost, stats say ${s.overrun} overrun`);
    retained += read[cpu]!;
  }
  return (
    `${cpus} cpu x ${eventsPerCpu} written, 0 dropped; ${retained} retained events read back in index order with derived payloads` +
    `${strict ? ' and strictly increasing tickets' : ''}; reader's lost == overrun == ${overrunTotal}`
  );
}
