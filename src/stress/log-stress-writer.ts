import type { LogWriter } from '../log/event-log.js';
import type { EventRecord } from '../log/payload-codec.js';
import { prng } from '../prng.js';
import { W_STOP } from './stress-control.js';
import { StressItem, itemCheck, itemNote } from './log-stress-item.js';

/** What one writer thread of `ringtrace stress log` did, by its own count. */
export interface LogWriterResult {
  readonly thread: number;
  readonly slot: number;
  /** Emit calls. */
  readonly emitted: number;
  /** Emits that returned true (stored in the ring). */
  readonly stored: number;
  /** Emits that returned false (dropped: no room, or the shared slot's lock stayed busy). */
  readonly refused: number;
  readonly elapsedMs: number;
}

/** Events between looks at the stop word. */
const BATCH = 256;

/**
 * One writer thread: emits StressItem events as fast as it can until the stop word is
 * set, one in eight through the checked `emit` (a fresh values object), the rest through
 * the allocation-free `emitRecord`, the choice drawn from the seed.
 */
export class LogStressWriter {
  private readonly writer: LogWriter;
  private readonly thread: number;
  private readonly random: () => number;
  private readonly record: EventRecord<typeof StressItem.fields>;

  constructor(writer: LogWriter, thread: number, seed: number) {
    this.writer = writer;
    this.thread = thread;
    this.random = prng(seed);
    this.record = writer.record(StressItem);
  }

  run(control: Int32Array, runTimeoutMs: number): LogWriterResult {
    const { writer, thread, record } = this;
    const started = performance.now();
    let seq = 0;
    let stored = 0;
    let refused = 0;
    // Pairs with the orchestrator's Atomics.store of stop.
    while (Atomics.load(control, W_STOP) === 0) {
      if (performance.now() - started > runTimeoutMs) throw new Error(`log writer ${thread}: no stop signal within ${runTimeoutMs} ms`);
      for (let i = 0; i < BATCH; i++, seq++) {
        const check = itemCheck(thread, seq);
        const note = itemNote(thread, seq);
        let ok: boolean;
        if (this.random() < 0.125) {
          ok = writer.emit(StressItem, { thread, seq, check, note });
        } else {
          record.thread = thread;
          record.seq = seq;
          record.check = check;
          record.note = note;
          ok = writer.emitRecord(StressItem, record);
        }
        if (ok) stored++;
        else refused++;
      }
    }
    return { thread, slot: writer.slot, emitted: seq, stored, refused, elapsedMs: performance.now() - started };
  }
}
