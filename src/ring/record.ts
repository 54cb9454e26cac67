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

/**
 * Framing failures of `frameBytes` (negative, so a size and a failure share one number).
 */
export const FrameDamage = {
  badKind: -1,
  tooLong: -2,
  pastEnd: -3,
  paddingTooLong: -4,
} as const;

/**
 * Bytes the record whose header word is `header` occupies at `off`, if it is a whole
 * record (data, absolute or padding) that ends by `end`; otherwise a negative
 * `FrameDamage` code. The one parse of record framing: the consuming reader, the page
 * copier and the trace-file reader all walk pages with it.
 */
export function frameBytes(header: number, off: number, end: number, maxPayload: number): number {
  const kind = headerKind(header);
  const length = headerLength(header);
  if (kind === RecordKind.padding) {
    // A discarded reservation keeps the size it was reserved with (absolute stamp included).
    const bytes = RECORD_HEADER_BYTES + align8(length);
    if (length > maxPayload + ABSOLUTE_TS_BYTES) return FrameDamage.paddingTooLong;
    return off + bytes > end ? FrameDamage.paddingTooLong : bytes;
  }
  if (kind !== RecordKind.data && kind !== RecordKind.absolute) return FrameDamage.badKind;
  if (length > maxPayload) return FrameDamage.tooLong;
  const bytes = recordBytes(length, kind === RecordKind.absolute);
  return off + bytes > end ? FrameDamage.pastEnd : bytes;
}

/** Why `frameBytes` refused a record, in words (the damage path only). */
export function frameDamageReason(code: number, header: number, off: number, end: number, maxPayload: number): string {
  const length = headerLength(header);
  switch (code) {
    case FrameDamage.paddingTooLong:
      return `padding of ${length} bytes does not fit`;
    case FrameDamage.badKind:
      return `record kind ${headerKind(header)} is invalid (header 0x${(header >>> 0).toString(16)})`;
    case FrameDamage.tooLong:
      return `payload length ${length} exceeds maxPayloadBytes ${maxPayload}`;
    default:
      return `record of ${recordBytes(length, headerKind(header) === RecordKind.absolute)} bytes at ${off} runs past the commit at ${end}`;
  }
}

/** The timestamp of the record at byte `at` of `i32`, in a page whose base timestamp is `baseTs`. */
export function recordTimestamp(i32: Int32Array, at: number, baseTs: number): number {
  const w = at >> 2;
  return headerKind(i32[w]!) === RecordKind.absolute ? joinTimestamp(i32[w + 2]!, i32[w + 3]!) : baseTs + (i32[w + 1]! >>> 0);
}
