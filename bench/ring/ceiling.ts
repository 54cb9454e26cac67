import { RING_DATA_BYTES } from './config.js';
import { EVENT_TYPE, RECORD_WORDS, payloadMismatch, word1, word2, word3 } from './payload.js';
import { BenchVerifyError } from './verify.js';

/**
 * The ceiling: the same 24 bytes per event as a ring record, written with plain
 * Int32Array stores plus one Atomics.add per event (the ticket), into private memory
 * the size of a CPU buffer's pages, records back to back and wrapping. No protocol.
 *
 * Memory: byte 64 the counter (alone on its cache line), byte 256 on the records.
 */
export class CeilingStores {
  private static readonly COUNTER = 16; // i32 index of byte 64
  private static readonly DATA = 64; // i32 index of byte 256
  private readonly i32 = new Int32Array(new SharedArrayBuffer(256 + RING_DATA_BYTES));
  private readonly slots = Math.floor(RING_DATA_BYTES / 4 / RECORD_WORDS);
  private readonly header = (1 << 30) | (16 << 16) | EVENT_TYPE;
  private seq = 0;
  private slot = 0;

  get events(): number {
    return this.seq;
  }

  write(n: number): void {
    const i32 = this.i32;
    const header = this.header;
    const slots = this.slots;
    let seq = this.seq;
    let slot = this.slot;
    for (let i = 0; i < n; i++) {
      const ticket = Atomics.add(i32, CeilingStores.COUNTER, 1);
      const w = CeilingStores.DATA + slot * RECORD_WORDS;
      i32[w] = header;
      i32[w + 1] = ticket;
      i32[w + 2] = seq;
      i32[w + 3] = word1(seq);
      i32[w + 4] = word2(seq);
      i32[w + 5] = word3(seq);
      seq++;
      if (++slot === slots) slot = 0;
    }
    this.seq = seq;
    this.slot = slot;
  }

  /** The counter equals the events written; every record in memory holds its header, ticket and payload. */
  verify(): string {
    const i32 = this.i32;
    const { seq, slot, slots, header } = this;
    if (Atomics.load(i32, CeilingStores.COUNTER) !== (seq | 0)) {
      throw new BenchVerifyError(`counter ${Atomics.load(i32, CeilingStores.COUNTER)} != ${seq} events`);
    }
    const last = Math.min(seq, slots);
    for (let k = 1; k <= last; k++) {
      const s = seq - k;
      const w = CeilingStores.DATA + ((slot - k + slots) % slots) * RECORD_WORDS;
      const problem =
        i32[w] !== header || i32[w + 1] !== (s | 0)
          ? `record ${s}: header ${i32[w]}, ticket ${i32[w + 1]}`
          : payloadMismatch(s, i32[w + 2]!, i32[w + 3]!, i32[w + 4]!, i32[w + 5]!);
      if (problem !== '') throw new BenchVerifyError(problem);
    }
    return `counter == ${seq} events; the last ${last} records (the whole buffer) hold their header, ticket and derived payload`;
  }
}
