/**
 * The benchmark event: type EVENT_TYPE and four u32 payload words derived from the
 * event's sequence number (its per-CPU index), as in the Disruptor's stress test, so a
 * lost, duplicated, reordered or torn event fails the check instead of being counted.
 * Every benchmark writes exactly these 16 bytes, behind an 8-byte record header.
 */

export const EVENT_TYPE = 7;
export const PAYLOAD_BYTES = 16;
/** 8-byte header (kind|length|type, time delta or ticket) + 16-byte payload. */
export const RECORD_BYTES = 24;
export const RECORD_WORDS = RECORD_BYTES / 4;

const MIX = 0x9e3779b1;
const SALT = 0x5bd1e995;

export function word1(seq: number): number {
  return Math.imul(seq, MIX);
}

export function word2(seq: number): number {
  return (seq ^ SALT) | 0;
}

export function word3(seq: number): number {
  return (seq + 13) | 0;
}

/** Describes the first mismatch of payload words against `seq` ('' when they match). */
export function payloadMismatch(seq: number, w0: number, w1: number, w2: number, w3: number): string {
  if ((w0 | 0) === (seq | 0) && (w1 | 0) === word1(seq) && (w2 | 0) === word2(seq) && (w3 | 0) === word3(seq)) return '';
  return `event ${seq}: payload [${w0 | 0}, ${w1 | 0}, ${w2 | 0}, ${w3 | 0}], expected [${seq | 0}, ${word1(seq)}, ${word2(seq)}, ${word3(seq)}]`;
}
