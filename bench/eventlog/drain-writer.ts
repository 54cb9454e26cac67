import { EventLog, type EventLogHandle } from '../../src/log/event-log.js';
import { defineEvent } from '../../src/log/event-schema.js';

/**
 * A writer thread of the drain benchmarks: emits a sequenced event with `emitRecord` as
 * fast as it can from `go` until `stop`, and says how many it tried and stored.
 */
export const DrainSeq = defineEvent('drain_seq', { writer: 'u32', seq: 'u32', path: 'string' });

export interface DrainWriterStart {
  readonly kind: 'drain-writer';
  readonly log: EventLogHandle;
  /** i32 words: 0 go, 1 stop, 2 writers ready. */
  readonly control: SharedArrayBuffer;
  readonly writer: number;
}

export interface DrainWriterResult {
  readonly emitted: number;
  readonly stored: number;
}

export const GO = 0;
export const STOP = 1;
export const READY = 2;

export function runDrainWriter(start: DrainWriterStart): DrainWriterResult {
  const ctl = new Int32Array(start.control);
  const w = EventLog.attach(start.log).writer();
  const rec = w.record(DrainSeq);
  rec.writer = start.writer;
  rec.path = '/items/42?page=7';
  Atomics.add(ctl, READY, 1);
  Atomics.notify(ctl, READY);
  // Bounded: the owner says go within its own timeout or the run is abandoned.
  if (Atomics.wait(ctl, GO, 0, 60_000) === 'timed-out') throw new Error('drain writer: no go within 60 s');
  let seq = 0;
  let stored = 0;
  while (Atomics.load(ctl, STOP) === 0) {
    for (let i = 0; i < 1024; i++) {
      rec.seq = seq++;
      if (w.emitRecord(DrainSeq, rec)) stored++;
    }
  }
  w.close();
  return { emitted: seq, stored };
}
