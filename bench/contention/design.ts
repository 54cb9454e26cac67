import type { StreamEvent, StreamVerifier } from '../../src/check/stream-verifier.js';
import type { InterruptHook } from '../../src/ring/interrupt.js';
import type { CpuStats } from '../../src/ring/ring-buffer.js';

/**
 * What every design of the contention suite provides: a buffer the main thread creates,
 * one writer per writer thread, one reader, and the design's own counters at the end.
 * The four designs are `percpu` (ringtrace's CpuWriter), `shared` and `locked` (one buffer
 * for all writers, shared-ring.ts) and `locked-page` (per-writer buffers, locked-page.ts).
 */

export const DESIGN_NAMES = ['percpu', 'shared', 'locked-page', 'locked'] as const;
export type DesignName = (typeof DESIGN_NAMES)[number];

/** Bytes every design gets per writer: the same pages, the same page size. */
export interface DesignGeometry {
  readonly pagesPerWriter: number;
  readonly pageBytes: number;
}

/** One writer thread's handle: the same two calls as ringtrace's CpuWriter. */
export interface ContentionWriter {
  /** Called at each program point of the write path; `null` when no NMI is simulated. */
  hook: InterruptHook | null;
  /** Writes one event with a 16-byte payload; returns whether it was stored (false: dropped, counted). */
  write(type: number, w0: number, w1: number, w2: number, w3: number): boolean;
  /** Publishes the writer's counters; call once, after the last write. */
  close(): void;
}

export interface ContentionReader {
  /** Consumes up to `maxEvents` committed events into the verifier; returns how many (0: nothing committed). */
  read(verifier: StreamVerifier, maxEvents: number): number;
  /** After every writer closed: consumes the rest and reports the losses not yet reported. */
  finish(verifier: StreamVerifier): number;
}

/** Events a design dropped, by cause, from its writers' own counters. */
export interface LostByCause {
  /** No room: the reader had not freed space (discard mode). */
  readonly full: number;
  /** A nested write (NMI) found its own thread holding the lock. */
  readonly nmiLock: number;
  /** A lock not taken within its bound, or a reservation loop past its bound. Should stay 0. */
  readonly timeout: number;
  /** ringtrace's commit overrun and writer-side damage. Should stay 0. */
  readonly other: number;
}

export interface Design {
  readonly name: DesignName;
  /** Main thread: the shared memory for `writers` writers. */
  create(writers: number, geometry: DesignGeometry): SharedArrayBuffer;
  /** Writer thread `index`'s handle. */
  writer(sab: SharedArrayBuffer, index: number): ContentionWriter;
  reader(sab: SharedArrayBuffer): ContentionReader;
  /**
   * Main thread, at quiescence: per-writer counters in the ring's terms (for reconcile()),
   * with `read` taken from the reader's counts, and the losses by cause.
   */
  stats(sab: SharedArrayBuffer, readPerWriter: readonly number[]): { readonly stats: CpuStats[]; readonly lost: LostByCause };
}

/** The reader's view of one event, as the verifier wants it (a flyweight, reused). */
export class EventView implements StreamEvent {
  cpu = 0;
  index = 0;
  type = 0;
  timestamp = 0;
  length = 0;
  /** Byte offset of the payload. */
  offset = 0;
  constructor(private readonly i32: Int32Array) {}
  u32(i: number): number {
    return this.i32[(this.offset >> 2) + i]! >>> 0;
  }
}

/** CpuStats of a design that never overwrites, from its writer's and reader's counts. */
export function discardStats(cpu: number, entries: number, dropped: number, read: number, corrupt: number): CpuStats {
  return {
    cpu,
    written: entries + dropped,
    entries,
    bytes: 0,
    overrun: 0,
    dropped,
    read,
    discarded: 0,
    lostToCorruption: 0,
    unread: entries - read,
    maxNesting: 0,
    commitOverrun: 0,
    corrupt,
    releaseGaveUp: 0,
    writerCorrupt: 0,
    blocked: 0,
    blockedMs: 0,
    lastTimestamp: 0,
  };
}
