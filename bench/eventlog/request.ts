import { defineEvent } from '../../src/log/event-schema.js';
import { word1, word3 } from '../ring/payload.js';

/**
 * The one event every benchmark of the eventlog suite writes: four numbers and a short
 * string, the fields of a request log line. Every value derives from the event's sequence
 * number (its per-slot index), as in the ring suite (bench/ring/payload.ts), so a lost,
 * duplicated, reordered or torn event fails the check instead of being counted.
 *
 * Payload (the codec's layout, event-schema.ts: 8-byte fields, 4-byte, 2-byte, flags,
 * then each string as u16 length + UTF-8), 34 bytes for every event of the benchmarks:
 *
 * ```
 * offset  width  field
 * 0       8      micros  f64
 * 8       4      bytes   u32
 * 12      4      worker  u32
 * 16      2      status  u16
 * 18      1      flags   (0: nothing truncated)
 * 19      2      path    length (13)
 * 21      13     path    '/api/items/NN', ASCII
 * ```
 *
 * The ring benchmark (`ring-writer-write`) writes these bytes by hand at the offsets below;
 * `assertHandLayout` checks them against the descriptor before anything is measured.
 */
export const Request = defineEvent('request', { status: 'u16', bytes: 'u32', micros: 'f64', worker: 'u32', path: 'string' });

/** 64 paths of 13 ASCII bytes each; event `seq` carries PATHS[seq & 63]. Built once: the loops allocate no strings. */
export const PATHS: readonly string[] = Array.from({ length: 64 }, (_, i) => `/api/items/${10 + i}`);

export const PATH_BYTES = 13;
/** The hand-written layout (see the picture above). */
export const AT_MICROS = 0;
export const AT_BYTES = 8;
export const AT_WORKER = 12;
export const AT_STATUS = 16;
export const AT_FLAGS = 18;
export const AT_PATH_LENGTH = 19;
export const AT_PATH = 21;
/** Payload bytes of every benchmark event: 21 + 13. */
export const REQUEST_PAYLOAD_BYTES = AT_PATH + PATH_BYTES;

export function statusOf(seq: number): number {
  return 100 + (seq & 511);
}

export function bytesOf(seq: number): number {
  return word1(seq) >>> 0;
}

export function microsOf(seq: number): number {
  return seq * 0.25 + 0.125;
}

export function workerOf(seq: number): number {
  return word3(seq) >>> 0;
}

export function pathOf(seq: number): string {
  return PATHS[seq & 63]!;
}

/** The values of event `seq`, as a fresh object (what a caller of `emit` passes; pino logs the same). */
export function requestValues(seq: number): { status: number; bytes: number; micros: number; worker: number; path: string } {
  return { status: statusOf(seq), bytes: bytesOf(seq), micros: microsOf(seq), worker: workerOf(seq), path: pathOf(seq) };
}

/** Describes the first field of `values` that is not event `seq`'s ('' when all match). */
export function requestMismatch(seq: number, values: Readonly<Record<string, unknown>>): string {
  const want = requestValues(seq);
  for (const key of Object.keys(want) as (keyof typeof want)[]) {
    if (values[key] !== want[key]) {
      return `event ${seq}: ${key} = ${JSON.stringify(values[key])}, expected ${JSON.stringify(want[key])}`;
    }
  }
  return '';
}

/** Throws unless the hand-written offsets are the codec's layout for Request (a layout change must not go unnoticed). */
export function assertHandLayout(): void {
  const at = new Map(Request.layout.map((s) => [s.name, s.offset]));
  const expected: [string, number, number][] = [
    ['micros', at.get('micros') ?? -2, AT_MICROS],
    ['bytes', at.get('bytes') ?? -2, AT_BYTES],
    ['worker', at.get('worker') ?? -2, AT_WORKER],
    ['status', at.get('status') ?? -2, AT_STATUS],
    ['flags', Request.flagsOffset, AT_FLAGS],
    ['path', Request.stringsOffset, AT_PATH_LENGTH],
  ];
  for (const [name, codec, hand] of expected) {
    if (codec !== hand) throw new Error(`Request's ${name} is at payload offset ${codec} in the codec's layout, ${hand} in bench/eventlog/request.ts`);
  }
  for (const p of PATHS) {
    if (p.length !== PATH_BYTES || !/^[\x20-\x7e]+$/.test(p)) throw new Error(`path ${JSON.stringify(p)} is not ${PATH_BYTES} ASCII bytes`);
  }
}
