/**
 * The sequenced-stream payload: the first four u32 words of every event the stress
 * harness and the simulated machine write, derived from a per-CPU, per-stream
 * sequence number, so that a lost, duplicated, reordered or torn event is detected, not
 * just counted (the Disruptor stress test checks `a == sequence + 13` the same way).
 *
 * ```
 * word 0   seq mod 2^32            (the sequence number of this event in its stream)
 * word 1   cpu << 16 | stream      (the stream tag)
 * word 2   payloadHash(seq, tag)   (a torn write mixes words of two events: the hash disagrees)
 * word 3   ~seq                    (the same seq again, complemented)
 * ```
 *
 * A stream is the nesting depth of the write minus one: stream 0 holds the normal
 * (outermost) writes, stream d the writes injected at depth d + 1. Writes of one depth
 * never overlap (a write at depth d can only be interrupted by deeper ones), so within a
 * stream the reservation order is the seq order and the reader must see seqs increase.
 * The event type is the format's typeBase + stream.
 */

/** Most streams a CPU may have (the stress harness: one per nesting depth; the machine: one per context level). */
export const MAX_STREAMS = 8;
/** Bytes of the four stream words; an event's payload may carry more after them. */
export const STREAM_WORDS_BYTES = 16;

/** How one harness lays its streams out: which event types, how many streams, how long. */
export interface StreamFormat {
  /** Event type of stream 0; stream s is typeBase + s. */
  readonly typeBase: number;
  readonly streams: number;
  /** Exact payload length of a stream event (at least STREAM_WORDS_BYTES). */
  readonly payloadBytes: number;
  /** Other event types that may appear in the trace: counted, index-checked, not sequenced. */
  readonly otherTypes?: readonly number[];
}

export function streamTag(cpu: number, stream: number): number {
  return ((cpu << 16) | stream) >>> 0;
}

/** A 32-bit mix of the seq's low word and the stream tag (murmur3's finaliser). */
export function payloadHash(seqLow: number, tag: number): number {
  let h = Math.imul(seqLow ^ 0x9e3779b9, 0x85ebca6b) ^ tag;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}
