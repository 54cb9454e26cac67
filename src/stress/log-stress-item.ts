import { defineEvent } from '../log/event-schema.js';

/**
 * The event of `ringtrace stress log`: every value derives from (thread, seq), so the
 * consumer can check each event on its own — a torn, misdecoded or misplaced event fails
 * `check` or `note`, and a lost, repeated or reordered one breaks its thread's sequence.
 * `seq` is an f64: exact far beyond any run's length.
 */
export const StressItem = defineEvent('stress_item', { thread: 'u16', seq: 'f64', check: 'u32', note: 'string' });

/** The check word of (thread, seq). */
export function itemCheck(thread: number, seq: number): number {
  return (Math.imul(thread + 1, 0x9e3779b1) ^ Math.imul(seq | 0, 0x85ebca6b) ^ Math.floor(seq / 4294967296)) >>> 0;
}

/** Notes of 1 to 40 UTF-8 bytes, ASCII and not, picked by (thread, seq). */
const NOTES: readonly string[] = Array.from({ length: 32 }, (_, i) => `n${'é'.repeat(i % 5)}${'x'.repeat(i)}`);

export function itemNote(thread: number, seq: number): string {
  return NOTES[(thread * 7 + seq) & 31]!;
}
