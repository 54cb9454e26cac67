/**
 * The event record. Records start 8-byte aligned inside a page's data area.
 *
 * ```
 * word 0   bits 31..30 kind | bits 29..16 payload length (bytes) | bits 15..0 type
 * word 1   time delta: ns since the page's base timestamp (u32)
 * [words 2-3, kind ABSOLUTE only: the timestamp itself, low then high 32 bits]
 * payload, padded to 8 bytes
 * ```
 *
 * The delta is taken from the page's base timestamp, not from the previous record, so
 * one damaged record never poisons the timestamps that follow it. A record whose
 * timestamp is more than 2^32 ns (4.29 s) past its page's base carries the absolute
 * value instead (the kernel's time-extend, folded into the record).
 */

export const RecordKind = {
  invalid: 0, // an all-zero word is never a record
  data: 1,
  absolute: 2, // data with an absolute 64-bit timestamp in words 2-3
  padding: 3, // a reservation the writer discarded; skip its bytes
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

export const RECORD_HEADER_BYTES = 8;
export const ABSOLUTE_TS_BYTES = 8;
export const MAX_TYPE = 0xffff;
export const MAX_LENGTH_FIELD = 0x3fff;
export const MAX_DELTA = 0xffffffff;
const TWO_32 = 4294967296;

export function packHeader(kind: number, length: number, type: number): number {
  return ((kind << 30) | (length << 16) | type) | 0;
}

export function headerKind(word: number): number {
  return word >>> 30;
}

export function headerLength(word: number): number {
  return (word >>> 16) & MAX_LENGTH_FIELD;
}

export function headerType(word: number): number {
  return word & MAX_TYPE;
}

export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Bytes a record of this payload length occupies. */
export function recordBytes(length: number, absolute: boolean): number {
  return RECORD_HEADER_BYTES + (absolute ? ABSOLUTE_TS_BYTES : 0) + align8(length);
}

/** Whether a timestamp must be stored absolutely relative to its page base. */
export function needsAbsolute(ts: number, base: number): boolean {
  const delta = ts - base;
  return !(delta >= 0 && delta <= MAX_DELTA);
}

export function splitLow(ts: number): number {
  return ts % TWO_32 | 0;
}

export function splitHigh(ts: number): number {
  return Math.floor(ts / TWO_32) | 0;
}

export function joinTimestamp(low: number, high: number): number {
  return (high >>> 0) * TWO_32 + (low >>> 0);
}
