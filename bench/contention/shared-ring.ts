import { HrtimeClock, hrtimeOriginNs } from '../../src/ring/clock.js';
import {
  RECORD_HEADER_BYTES,
  RecordKind,
  align8,
  headerKind,
  headerLength,
  headerType,
  joinTimestamp,
  packHeader,
  splitHigh,
  splitLow,
} from '../../src/ring/record.js';
import { HookPoint, type InterruptHook } from '../../src/ring/interrupt.js';
import type { StreamVerifier } from '../../src/check/stream-verifier.js';
import {
  type ContentionReader,
  type ContentionWriter,
  type Design,
  type DesignGeometry,
  type LostByCause,
  EventView,
  discardStats,
} from './design.js';
import { LockResult, acquire, release } from './lock.js';

/**
 * One buffer for every writer: the `shared` design (writers claim bytes with a
 * compareExchange on the tail, as the BPF ring buffer and LTTng's global buffers do) and
 * the `locked` design (the same buffer, one lock around every write). Both publish each
 * record by storing its header word last; one reader consumes in reservation order and
 * stops at the first record not yet committed.
 *
 * Byte map (this module owns it):
 *
 * | off        | width | word                      | written by                      | read by          | published by                    |
 * |------------|-------|---------------------------|---------------------------------|------------------|---------------------------------|
 * | 0          | u32   | capacity (bytes, 2^k)     | creator                         | all              | postMessage of the SAB          |
 * | 4          | u32   | page bytes                | creator                         | all              | "                               |
 * | 8          | u32   | writers                   | creator                         | all              | "                               |
 * | 16         | f64   | hrtime origin             | creator                         | clocks           | "                               |
 * | 64         | i32   | tail (position mod 2^32)  | writers                         | writers          | shared: Atomics.compareExchange; locked: under the lock |
 * | 128        | i32   | head (position mod 2^32)  | reader                          | writers          | Atomics.store / Atomics.load    |
 * | 192        | i32   | lock (lock.ts)            | locked writers                  | locked writers   | lock.ts                         |
 * | 256 + 64w  | f64x4 | writer w: stored, dropped full, dropped nmi lock, timeouts | writer w, at close | reader, main | before the writer's producerDone |
 * | data       |       | capacity bytes of records | writers (reserved bytes)        | reader           | each record's header word: Atomics.store / Atomics.load |
 *
 * Tail, head and lock sit on lines of their own: the tail bounces between writers, the
 * head is written by the reader only. Positions grow without bound modulo 2^32; the byte
 * of a position is `position & (capacity - 1)`.
 *
 * Records are ringtrace's absolute-timestamp records (src/ring/record.ts), word 1 naming the
 * writer (ringtrace's per-page delta cannot serve writers that reserve concurrently):
 *
 * ```
 * word 0   kind absolute | length | type        (stored last: the commit)
 * word 1   writer index
 * word 2-3 timestamp, low then high
 * payload, padded to 8 bytes
 * ```
 *
 * A record never straddles a page: a reservation that would is preceded by a padding
 * record to the page's end. The reader zeroes what it consumed before it moves the head,
 * so a zero header word always means "reserved, not committed yet" (or nothing reserved).
 */
const H_CAPACITY = 0;
const H_PAGE_BYTES = 4;
const H_WRITERS = 8;
const H_ORIGIN = 16;
const H_TAIL = 64;
const H_HEAD = 128;
const H_LOCK = 192;
const HEADER_BYTES = 256;
const WRITER_LINE = 64;
// Writer line, f64 words.
const W_STORED = 0;
const W_FULL = 1;
const W_NMI_LOCK = 2;
const W_TIMEOUT = 3;

/** Bytes of a record before its payload: header word, writer word, timestamp. */
const RECORD_PREFIX = RECORD_HEADER_BYTES + 8;
/** Reservation attempts (compareExchange losses) before a write gives up. */
const RESERVE_LOOP_LIMIT = 1000;
/** Longest wait for the lock, ms. */
export const LOCK_TIMEOUT_MS = 5_000;

const FULL = -1;
const LOOP_LIMIT = -2;

function dataBase(writers: number): number {
  return HEADER_BYTES + Math.ceil((writers * WRITER_LINE) / 64) * 64;
}

function createSharedRing(writers: number, g: DesignGeometry): SharedArrayBuffer {
  const capacity = g.pagesPerWriter * g.pageBytes * writers;
  // Round up to a power of two so positions wrap with the 32-bit arithmetic.
  const pow2 = 2 ** Math.ceil(Math.log2(capacity));
  const sab = new SharedArrayBuffer(dataBase(writers) + pow2);
  const i32 = new Int32Array(sab);
  i32[H_CAPACITY >> 2] = pow2;
  i32[H_PAGE_BYTES >> 2] = g.pageBytes;
  i32[H_WRITERS >> 2] = writers;
  new Float64Array(sab)[H_ORIGIN >> 3] = hrtimeOriginNs();
  return sab;
}

/** What a writer of either flavour shares: views, clock, counters, the record's bytes. */
abstract class RingWriterBase implements ContentionWriter {
  hook: InterruptHook | null = null;
  protected readonly i32: Int32Array;
  protected readonly clock: HrtimeClock;
  protected readonly index: number;
  protected readonly mask: number;
  protected readonly capacity: number;
  protected readonly pageBytes: number;
  protected readonly data: number;
  protected lastTs = 0;
  protected stored = 0;
  protected full = 0;
  protected nmiLock = 0;
  protected timeouts = 0;
  private readonly sab: SharedArrayBuffer;

  constructor(sab: SharedArrayBuffer, index: number) {
    this.sab = sab;
    this.i32 = new Int32Array(sab);
    this.index = index;
    this.capacity = this.i32[H_CAPACITY >> 2]!;
    this.mask = this.capacity - 1;
    this.pageBytes = this.i32[H_PAGE_BYTES >> 2]!;
    this.data = dataBase(this.i32[H_WRITERS >> 2]!);
    this.clock = new HrtimeClock(new Float64Array(sab)[H_ORIGIN >> 3]!);
  }

  abstract write(type: number, w0: number, w1: number, w2: number, w3: number): boolean;

  /**
   * Claims `size` bytes at tail `t` if they fit; returns the byte offset of the record, or
   * FULL. A record that would straddle a page gets a padding record before it.
   */
  protected fits(t: number, size: number): number {
    const inPage = t & (this.pageBytes - 1);
    const pad = inPage + size > this.pageBytes ? this.pageBytes - inPage : 0;
    // Pairs with the reader's Atomics.store of head, made after it zeroed the bytes it freed.
    const head = Atomics.load(this.i32, H_HEAD >> 2);
    return ((t - head) >>> 0) + pad + size > this.capacity ? FULL : pad;
  }

  /** Writes the padding (if any) and the record's words; the header is left for commit(). */
  protected fill(t: number, pad: number, ts: number, w0: number, w1: number, w2: number, w3: number): number {
    const i32 = this.i32;
    if (pad > 0) {
      // Publishes the padding; pairs with the reader's Atomics.load of a header word.
      Atomics.store(i32, (this.data + (t & this.mask)) >> 2, packHeader(RecordKind.padding, pad - RECORD_HEADER_BYTES, 0));
    }
    const w = (this.data + ((t + pad) & this.mask)) >> 2;
    i32[w + 1] = this.index;
    i32[w + 2] = splitLow(ts);
    i32[w + 3] = splitHigh(ts);
    i32[w + 4] = w0;
    i32[w + 5] = w1;
    i32[w + 6] = w2;
    i32[w + 7] = w3;
    return w;
  }

  protected clamp(ts: number): number {
    if (ts < this.lastTs) return this.lastTs;
    this.lastTs = ts;
    return ts;
  }

  close(): void {
    const f64 = new Float64Array(this.sab, HEADER_BYTES + this.index * WRITER_LINE, 4);
    f64[W_STORED] = this.stored;
    f64[W_FULL] = this.full;
    f64[W_NMI_LOCK] = this.nmiLock;
    f64[W_TIMEOUT] = this.timeouts;
  }
}

/** `shared`: claim by compareExchange on the tail, publish by the header store. Never waits. */
class SharedWriter extends RingWriterBase {
  write(type: number, w0: number, w1: number, w2: number, w3: number): boolean {
    const hook = this.hook;
    const i32 = this.i32;
    const size = RECORD_PREFIX + 16;
    /* A: enter. */
    if (hook !== null) hook(HookPoint.entered);
    /* B: read the clock. */
    let ts = this.clock.now();
    if (hook !== null) hook(HookPoint.clockRead);
    /* C: clamp (a nested writer between B and C reserved first with a later time), then
       claim bytes. No hook between the clamp and the claim, so no nested write either. */
    ts = this.clamp(ts);
    let t = 0;
    let pad = FULL;
    for (let attempt = 0; ; attempt++) {
      if (attempt === RESERVE_LOOP_LIMIT) {
        pad = LOOP_LIMIT;
        break;
      }
      t = Atomics.load(i32, H_TAIL >> 2);
      pad = this.fits(t, size);
      if (pad === FULL) break;
      // Claims [t, t + pad + size); pairs with the other writers' compareExchange on the tail.
      if (Atomics.compareExchange(i32, H_TAIL >> 2, t, (t + pad + size) | 0) === t) break;
    }
    if (pad < 0) {
      if (pad === FULL) this.full++;
      else this.timeouts++;
      return false;
    }
    if (hook !== null) hook(HookPoint.reserved);
    /* D: fill. The reader waits at this record until E; later records wait behind it. */
    const w = this.fill(t, pad, ts, w0, w1, w2, w3);
    if (hook !== null) hook(HookPoint.filled);
    /* E: commit. Publishes the record's words; pairs with the reader's Atomics.load of the header. */
    Atomics.store(i32, w, packHeader(RecordKind.absolute, 16, type));
    this.stored++;
    if (hook !== null) hook(HookPoint.committed);
    return true;
  }
}

/**
 * `locked`: the whole write under one lock shared by every writer. A nested write that
 * finds its own thread holding the lock drops its event (counted as `nmiLock`).
 */
class LockedWriter extends RingWriterBase {
  private readonly id: number;
  constructor(sab: SharedArrayBuffer, index: number) {
    super(sab, index);
    this.id = index + 1;
  }

  write(type: number, w0: number, w1: number, w2: number, w3: number): boolean {
    const hook = this.hook;
    const i32 = this.i32;
    const size = RECORD_PREFIX + 16;
    /* A: enter, then take the lock. */
    if (hook !== null) hook(HookPoint.entered);
    const got = acquire(i32, H_LOCK >> 2, this.id, LOCK_TIMEOUT_MS);
    if (got !== LockResult.acquired) {
      if (got === LockResult.self) this.nmiLock++;
      else this.timeouts++;
      return false;
    }
    /* B: read the clock (under the lock: records are in time order across writers). */
    const ts = this.clamp(this.clock.now());
    if (hook !== null) hook(HookPoint.clockRead);
    /* C: claim bytes; only the lock holder moves the tail. */
    const t = i32[H_TAIL >> 2]!;
    const pad = this.fits(t, size);
    if (pad === FULL) {
      release(i32, H_LOCK >> 2);
      this.full++;
      return false;
    }
    i32[H_TAIL >> 2] = (t + pad + size) | 0;
    if (hook !== null) hook(HookPoint.reserved);
    /* D: fill. */
    const w = this.fill(t, pad, ts, w0, w1, w2, w3);
    if (hook !== null) hook(HookPoint.filled);
    /* E: commit (pairs with the reader's Atomics.load of the header), still holding the lock. */
    Atomics.store(i32, w, packHeader(RecordKind.absolute, 16, type));
    this.stored++;
    if (hook !== null) hook(HookPoint.committed);
    /* F: leave. */
    release(i32, H_LOCK >> 2);
    return true;
  }
}

/** The one reader: consumes in reservation order, zeroes what it consumed, moves the head. */
class SharedRingReader implements ContentionReader {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly capacity: number;
  private readonly mask: number;
  private readonly data: number;
  private readonly writers: number;
  private readonly view: EventView;
  private readonly next: Float64Array;
  private pos = 0;
  private broken = false;

  constructor(sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    this.capacity = this.i32[H_CAPACITY >> 2]!;
    this.mask = this.capacity - 1;
    this.writers = this.i32[H_WRITERS >> 2]!;
    this.data = dataBase(this.writers);
    this.view = new EventView(this.i32);
    this.next = new Float64Array(this.writers);
  }

  read(verifier: StreamVerifier, maxEvents: number): number {
    if (this.broken) return 0;
    const i32 = this.i32;
    const view = this.view;
    const start = this.pos;
    let pos = start;
    let n = 0;
    // At most one lap: never past what the writers could have reserved.
    while (n < maxEvents && ((pos - start) >>> 0) < this.capacity) {
      const rec = this.data + (pos & this.mask);
      // Pairs with the writer's Atomics.store of the header (its commit).
      const header = Atomics.load(i32, rec >> 2);
      if (header === 0) break;
      const kind = headerKind(header);
      if (kind === RecordKind.padding) {
        pos = (pos + RECORD_HEADER_BYTES + headerLength(header)) | 0;
        continue;
      }
      const writer = i32[(rec >> 2) + 1]!;
      if (kind !== RecordKind.absolute || !(writer >= 0 && writer < this.writers)) {
        verifier.corrupt({ cpu: 0, pageSeq: Math.floor(pos / 4096), offset: pos & this.mask, reason: `record header 0x${(header >>> 0).toString(16)}, writer ${writer}` });
        this.broken = true;
        break;
      }
      const length = headerLength(header);
      view.cpu = writer;
      view.index = this.next[writer]!++;
      view.type = headerType(header);
      view.timestamp = joinTimestamp(i32[(rec >> 2) + 2]!, i32[(rec >> 2) + 3]!);
      view.length = length;
      view.offset = rec + RECORD_PREFIX;
      verifier.event(view);
      n++;
      pos = (pos + RECORD_PREFIX + align8(length)) | 0;
    }
    if (pos !== start) this.free(start, pos);
    return n;
  }

  /** Zeroes [from, to) and hands it back to the writers. */
  private free(from: number, to: number): void {
    const a = from & this.mask;
    const bytes = (to - from) >>> 0;
    const first = Math.min(bytes, this.capacity - a);
    this.i32.fill(0, (this.data + a) >> 2, (this.data + a + first) >> 2);
    if (bytes > first) this.i32.fill(0, this.data >> 2, (this.data + bytes - first) >> 2);
    this.pos = to;
    // Frees the bytes (zeroed above); pairs with the writers' Atomics.load of head.
    Atomics.store(this.i32, H_HEAD >> 2, to);
  }

  finish(verifier: StreamVerifier): number {
    let n = 0;
    for (let k = this.read(verifier, 1 << 20); k > 0; k = this.read(verifier, 1 << 20)) n += k;
    for (let w = 0; w < this.writers; w++) {
      const line = (HEADER_BYTES + w * WRITER_LINE) >> 3;
      const dropped = this.f64[line + W_FULL]! + this.f64[line + W_NMI_LOCK]! + this.f64[line + W_TIMEOUT]!;
      // Dropped events got no index: the loss sits where the writer's stream now ends.
      if (dropped > 0) verifier.lost({ cpu: w, count: dropped, cause: 'dropped', beforeIndex: this.next[w]! });
    }
    return n;
  }
}

function stats(sab: SharedArrayBuffer, readPerWriter: readonly number[]): { stats: ReturnType<typeof discardStats>[]; lost: LostByCause } {
  const i32 = new Int32Array(sab);
  const f64 = new Float64Array(sab);
  const writers = i32[H_WRITERS >> 2]!;
  const out = [];
  const lost = { full: 0, nmiLock: 0, timeout: 0, other: 0 };
  for (let w = 0; w < writers; w++) {
    const line = (HEADER_BYTES + w * WRITER_LINE) >> 3;
    const full = f64[line + W_FULL]!;
    const nmiLock = f64[line + W_NMI_LOCK]!;
    const timeout = f64[line + W_TIMEOUT]!;
    lost.full += full;
    lost.nmiLock += nmiLock;
    lost.timeout += timeout;
    out.push(discardStats(w, f64[line + W_STORED]!, full + nmiLock + timeout, readPerWriter[w] ?? 0, 0));
  }
  return { stats: out, lost };
}

export const sharedDesign: Design = {
  name: 'shared',
  create: createSharedRing,
  writer: (sab, index) => new SharedWriter(sab, index),
  reader: (sab) => new SharedRingReader(sab),
  stats,
};

export const lockedDesign: Design = {
  name: 'locked',
  create: createSharedRing,
  writer: (sab, index) => new LockedWriter(sab, index),
  reader: (sab) => new SharedRingReader(sab),
  stats,
};
