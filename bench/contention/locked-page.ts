import { HrtimeClock, hrtimeOriginNs } from '../../src/ring/clock.js';
import {
  MAX_DELTA,
  RECORD_HEADER_BYTES,
  RecordKind,
  align8,
  headerKind,
  headerLength,
  headerType,
  joinTimestamp,
  packHeader,
  recordBytes,
  splitHigh,
  splitLow,
} from '../../src/ring/record.js';
import { HookPoint, type InterruptHook } from '../../src/ring/interrupt.js';
import {
  COMMIT_CLOSED,
  COMMIT_OFFSET_MASK,
  PAGE_HEADER_BYTES,
  P_BASE_TS,
  P_COMMIT,
  P_DROPPED_BEFORE,
  P_FIRST_ENTRY,
  P_SEQ,
  P_SIZE,
} from '../../src/ring/layout.js';
import type { StreamVerifier } from '../../src/check/stream-verifier.js';
import { type ContentionReader, type ContentionWriter, type Design, type DesignGeometry, type LostByCause, EventView, discardStats } from './design.js';
import { LOCK_TIMEOUT_MS } from './shared-ring.js';
import { LockResult, MAX_LOCK_ID, acquire, release } from './lock.js';

/**
 * `locked-page`: the 2008 design (the seed thread's patches 1-3). Each writer has its own
 * buffer of pages in ringtrace's page format (the page header of src/ring/layout.ts,
 * ringtrace's records); the writer reserves and commits inside its tail page without any
 * lock, and takes its buffer's lock only to move the tail to a new page. The reader takes
 * the same lock to hand a page it finished back and move to the next. A nested write
 * (NMI) that needs a new page while its own thread holds the lock drops its event.
 *
 * The pages form a fixed cycle (page i is followed by page i + 1 mod N); the writer may
 * not enter the page the reader is on (discard mode: the event is dropped).
 *
 * Byte map (this module owns it), global header then one region per writer:
 *
 * | off          | width | word                       | written by          | read by           | published by                     |
 * |--------------|-------|----------------------------|---------------------|-------------------|----------------------------------|
 * | 0            | u32   | pages per writer N         | creator             | all               | postMessage of the SAB           |
 * | 4            | u32   | page bytes                 | creator             | all               | "                                |
 * | 8            | u32   | writers                    | creator             | all               | "                                |
 * | 16           | f64   | hrtime origin              | creator             | clocks            | "                                |
 * | region + 0   | f64x4 | stored, dropped full, dropped nmi lock, timeouts | writer, at close | reader, main | before the writer's producerDone |
 * | region + 64  | i32   | reader page                | reader, under lock  | writer, under lock| the lock                         |
 * | region + 128 | i32   | lock (lock.ts)             | writer and reader   | both              | lock.ts                          |
 * | region + 256 | pages | N x page bytes, each with ringtrace's page header (seq, commit, size, first entry, base timestamp, dropped before) | writer | reader | commit: Atomics.store / Atomics.load |
 *
 * The writer's tail, write offset and nesting depth are private to its thread (plain
 * fields); the reader page and the lock sit on lines of their own.
 */
const G_PAGES = 0;
const G_PAGE_BYTES = 4;
const G_WRITERS = 8;
const G_ORIGIN = 16;
const GLOBAL_BYTES = 64;
const R_COUNTS = 0;
const R_READER_PAGE = 64;
const R_LOCK = 128;
const REGION_HEADER = 256;
const W_STORED = 0;
const W_FULL = 1;
const W_NMI_LOCK = 2;
const W_TIMEOUT = 3;
/** The reader's lock id: above every writer's (writer w is w + 1). */
const READER_ID = MAX_LOCK_ID;

const RETRY = 0;
const DROP_FULL = 1;
const DROP_NMI = 2;
const DROP_TIMEOUT = 3;
/** Page switches inside one reservation; each needs a nested write to fill a page. */
const RESERVE_LOOP_LIMIT = 1000;

function regionBytes(g: { pagesPerWriter: number; pageBytes: number }): number {
  return REGION_HEADER + g.pagesPerWriter * g.pageBytes;
}

function regionOf(writer: number, g: { pagesPerWriter: number; pageBytes: number }): number {
  return GLOBAL_BYTES + writer * regionBytes(g);
}

function geometryOf(i32: Int32Array): { pagesPerWriter: number; pageBytes: number; writers: number } {
  return { pagesPerWriter: i32[G_PAGES >> 2]!, pageBytes: i32[G_PAGE_BYTES >> 2]!, writers: i32[G_WRITERS >> 2]! };
}

function create(writers: number, g: DesignGeometry): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(GLOBAL_BYTES + writers * regionBytes(g));
  const i32 = new Int32Array(sab);
  i32[G_PAGES >> 2] = g.pagesPerWriter;
  i32[G_PAGE_BYTES >> 2] = g.pageBytes;
  i32[G_WRITERS >> 2] = writers;
  new Float64Array(sab)[G_ORIGIN >> 3] = hrtimeOriginNs();
  for (let w = 0; w < writers; w++) {
    // Page 0 opened: seq 0, nothing committed, first entry 0, base timestamp 0.
    const page = regionOf(w, g) + REGION_HEADER;
    i32[(page + P_COMMIT) >> 2] = PAGE_HEADER_BYTES;
    i32[(page + P_SIZE) >> 2] = g.pageBytes;
  }
  return sab;
}

class LockedPageWriter implements ContentionWriter {
  hook: InterruptHook | null = null;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly clock: HrtimeClock;
  private readonly id: number;
  private readonly pages: number;
  private readonly pageBytes: number;
  private readonly region: number;
  private readonly pagesBase: number;
  private readonly lock: number;
  private readonly readerPage: number;
  // Private to the writer's thread (nested writes run on it, at the hook points only).
  private tail = 0;
  private tailSeq = 0;
  private write_ = PAGE_HEADER_BYTES;
  private depth = 0;
  private commitPage = 0;
  private committed = PAGE_HEADER_BYTES;
  private lastTs = 0;
  private entries = 0;
  private full = 0;
  private nmiLock = 0;
  private timeouts = 0;

  constructor(sab: SharedArrayBuffer, index: number) {
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    const g = geometryOf(this.i32);
    this.pages = g.pagesPerWriter;
    this.pageBytes = g.pageBytes;
    this.region = regionOf(index, g);
    this.pagesBase = this.region + REGION_HEADER;
    this.lock = (this.region + R_LOCK) >> 2;
    this.readerPage = (this.region + R_READER_PAGE) >> 2;
    this.id = index + 1;
    this.clock = new HrtimeClock(this.f64[G_ORIGIN >> 3]!);
  }

  private pageAt(p: number): number {
    return this.pagesBase + p * this.pageBytes;
  }

  write(type: number, w0: number, w1: number, w2: number, w3: number): boolean {
    const hook = this.hook;
    const i32 = this.i32;
    /* A: enter. */
    this.depth++;
    if (hook !== null) hook(HookPoint.entered);
    /* B: read the clock. */
    let ts = this.clock.now();
    if (hook !== null) hook(HookPoint.clockRead);
    /* C: clamp, then claim bytes in the tail page; a full page needs the lock (switchPage). */
    let rec = -1;
    let absolute = false;
    for (let attempt = 0; attempt < RESERVE_LOOP_LIMIT; attempt++) {
      if (ts < this.lastTs) ts = this.lastTs;
      else this.lastTs = ts;
      const page = this.pageAt(this.tail);
      const delta = ts - this.f64[(page + P_BASE_TS) >> 3]!;
      absolute = !(delta >= 0 && delta <= MAX_DELTA);
      const size = recordBytes(16, absolute);
      const off = this.write_;
      if (off + size <= this.pageBytes) {
        this.write_ = off + size;
        this.entries++;
        rec = page + off;
        const w = rec >> 2;
        i32[w] = packHeader(absolute ? RecordKind.absolute : RecordKind.data, 16, type);
        if (absolute) {
          i32[w + 1] = 0;
          i32[w + 2] = splitLow(ts);
          i32[w + 3] = splitHigh(ts);
        } else {
          i32[w + 1] = delta | 0;
        }
        break;
      }
      const why = this.switchPage(ts, hook);
      if (why !== RETRY) {
        if (why === DROP_FULL) this.full++;
        else if (why === DROP_NMI) this.nmiLock++;
        else this.timeouts++;
        this.leave();
        return false;
      }
    }
    if (rec < 0) {
      this.timeouts++;
      this.leave();
      return false;
    }
    if (hook !== null) hook(HookPoint.reserved);
    /* D: fill. */
    const p = (rec + RECORD_HEADER_BYTES + (absolute ? 8 : 0)) >> 2;
    i32[p] = w0;
    i32[p + 1] = w1;
    i32[p + 2] = w2;
    i32[p + 3] = w3;
    if (hook !== null) hook(HookPoint.filled);
    /* E: only the outermost write publishes, everything reserved so far. */
    if (this.depth === 1) this.publishCommit();
    if (hook !== null) hook(HookPoint.committed);
    /* F */
    this.leave();
    return true;
  }

  /** F: leave; a write nested at E left its record unpublished: publish it now. */
  private leave(): void {
    if (--this.depth === 0 && (this.commitPage !== this.tail || this.committed !== this.write_)) this.publishCommit();
  }

  /** Moves the tail to the next page, under the lock the reader takes to swap pages. */
  private switchPage(ts: number, hook: InterruptHook | null): number {
    const i32 = this.i32;
    const got = acquire(i32, this.lock, this.id, LOCK_TIMEOUT_MS);
    if (got === LockResult.self) return DROP_NMI;
    if (got === LockResult.timeout) return DROP_TIMEOUT;
    /* S0 (locked): an NMI from here to S2 finds the lock held by its own thread. */
    if (hook !== null) hook(HookPoint.pageFull);
    const next = this.tail + 1 === this.pages ? 0 : this.tail + 1;
    // Under the lock: the reader changes its page only holding it.
    if (next === i32[this.readerPage]) {
      release(i32, this.lock);
      return DROP_FULL;
    }
    const old = this.pageAt(this.tail);
    i32[(old + P_SIZE) >> 2] = this.write_;
    /* S1: open the next page. The reader looks at it only after the old page's commit is
       closed (publishCommit, after this), which publishes these words too. */
    const page = this.pageAt(next);
    this.tailSeq++;
    i32[(page + P_SEQ) >> 2] = this.tailSeq | 0;
    i32[(page + P_SIZE) >> 2] = this.pageBytes;
    this.f64[(page + P_FIRST_ENTRY) >> 3] = this.entries;
    this.f64[(page + P_BASE_TS) >> 3] = ts;
    this.f64[(page + P_DROPPED_BEFORE) >> 3] = this.full + this.nmiLock + this.timeouts;
    i32[(page + P_COMMIT) >> 2] = PAGE_HEADER_BYTES;
    /* S2: move the tail. */
    this.tail = next;
    this.write_ = PAGE_HEADER_BYTES;
    if (hook !== null) hook(HookPoint.tailMoved);
    release(i32, this.lock);
    return RETRY;
  }

  /** Closes every page the commit passes and publishes the tail page's end. */
  private publishCommit(): void {
    const i32 = this.i32;
    let p = this.commitPage;
    for (let n = 0; p !== this.tail && n < this.pages; n++) {
      const page = this.pageAt(p);
      // Publishes the page's records and closes it; pairs with the reader's Atomics.load of commit.
      Atomics.store(i32, (page + P_COMMIT) >> 2, i32[(page + P_SIZE) >> 2]! | COMMIT_CLOSED);
      p = p + 1 === this.pages ? 0 : p + 1;
    }
    // Publishes the tail page's records; pairs with the reader's Atomics.load of commit.
    Atomics.store(i32, (this.pageAt(this.tail) + P_COMMIT) >> 2, this.write_);
    this.commitPage = this.tail;
    this.committed = this.write_;
  }

  close(): void {
    const f = (this.region + R_COUNTS) >> 3;
    this.f64[f + W_STORED] = this.entries;
    this.f64[f + W_FULL] = this.full;
    this.f64[f + W_NMI_LOCK] = this.nmiLock;
    this.f64[f + W_TIMEOUT] = this.timeouts;
  }
}

/**
 * Reads each writer's buffer in turn (per-writer order; no merge by time). While the
 * writers run it takes whole pages only, as percpu's reader does, so it never reads the
 * commit word of the page a writer is filling; finish() takes the rest.
 */
class LockedPageReader implements ContentionReader {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly pages: number;
  private readonly pageBytes: number;
  private readonly writers: number;
  private readonly regions: number[];
  private readonly page: Int32Array;
  private readonly seq: Float64Array;
  private readonly offset: Int32Array;
  private readonly index: Float64Array;
  private readonly droppedReported: Float64Array;
  private readonly view: EventView;
  private failed = false;
  private wholePages = true;

  constructor(sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
    const g = geometryOf(this.i32);
    this.pages = g.pagesPerWriter;
    this.pageBytes = g.pageBytes;
    this.writers = g.writers;
    this.regions = Array.from({ length: g.writers }, (_, w) => regionOf(w, g));
    this.page = new Int32Array(g.writers);
    this.seq = new Float64Array(g.writers);
    this.offset = new Int32Array(g.writers).fill(PAGE_HEADER_BYTES);
    this.index = new Float64Array(g.writers);
    this.droppedReported = new Float64Array(g.writers);
    this.view = new EventView(this.i32);
  }

  read(verifier: StreamVerifier, maxEvents: number): number {
    let n = 0;
    for (let w = 0; w < this.writers && n < maxEvents && !this.failed; w++) n += this.readWriter(w, verifier, maxEvents - n);
    return n;
  }

  private readWriter(w: number, verifier: StreamVerifier, max: number): number {
    const i32 = this.i32;
    const view = this.view;
    const pagesBase = this.regions[w]! + REGION_HEADER;
    let n = 0;
    for (let swaps = 0; swaps <= this.pages && n < max; swaps++) {
      const page = pagesBase + this.page[w]! * this.pageBytes;
      // Pairs with the writer's Atomics.store of commit in publishCommit().
      const commit = Atomics.load(i32, (page + P_COMMIT) >> 2);
      if (this.wholePages && (commit & COMMIT_CLOSED) === 0) return n;
      const end = commit & COMMIT_OFFSET_MASK;
      let off = this.offset[w]!;
      const base = this.f64[(page + P_BASE_TS) >> 3]!;
      while (off < end && n < max) {
        const rec = page + off;
        const header = i32[rec >> 2]!;
        const kind = headerKind(header);
        const length = headerLength(header);
        if (kind !== RecordKind.data && kind !== RecordKind.absolute) {
          verifier.corrupt({ cpu: w, pageSeq: this.seq[w]!, offset: off, reason: `record header 0x${(header >>> 0).toString(16)}` });
          this.failed = true;
          return n;
        }
        const absolute = kind === RecordKind.absolute;
        view.cpu = w;
        view.index = this.index[w]!++;
        view.type = headerType(header);
        view.timestamp = absolute ? joinTimestamp(i32[(rec >> 2) + 2]!, i32[(rec >> 2) + 3]!) : base + (i32[(rec >> 2) + 1]! >>> 0);
        view.length = length;
        view.offset = rec + RECORD_HEADER_BYTES + (absolute ? 8 : 0);
        verifier.event(view);
        n++;
        off += RECORD_HEADER_BYTES + (absolute ? 8 : 0) + align8(length);
      }
      this.offset[w] = off;
      if (off < end || (commit & COMMIT_CLOSED) === 0) return n;
      // Page finished and closed: hand it back and take the next one, under the writer's lock.
      const region = this.regions[w]!;
      if (acquire(i32, (region + R_LOCK) >> 2, READER_ID, LOCK_TIMEOUT_MS) !== LockResult.acquired) {
        verifier.corrupt({ cpu: w, pageSeq: this.seq[w]!, offset: off, reason: `reader: lock not taken within ${LOCK_TIMEOUT_MS} ms` });
        this.failed = true;
        return n;
      }
      const next = this.page[w]! + 1 === this.pages ? 0 : this.page[w]! + 1;
      i32[(region + R_READER_PAGE) >> 2] = next;
      release(i32, (region + R_LOCK) >> 2);
      this.page[w] = next;
      this.seq[w]!++;
      this.offset[w] = PAGE_HEADER_BYTES;
      const opened = pagesBase + next * this.pageBytes;
      if (i32[(opened + P_SEQ) >> 2] !== (this.seq[w]! | 0)) {
        verifier.corrupt({ cpu: w, pageSeq: this.seq[w]!, offset: 0, reason: `page seq ${i32[(opened + P_SEQ) >> 2]}` });
        this.failed = true;
        return n;
      }
      // Events dropped before this page opened: no index, the loss sits before its first entry.
      const before = this.f64[(opened + P_DROPPED_BEFORE) >> 3]!;
      const first = this.f64[(opened + P_FIRST_ENTRY) >> 3]!;
      if (before > this.droppedReported[w]!) {
        verifier.lost({ cpu: w, count: before - this.droppedReported[w]!, cause: 'dropped', beforeIndex: first });
        this.droppedReported[w] = before;
      }
      this.index[w] = first;
    }
    return n;
  }

  finish(verifier: StreamVerifier): number {
    this.wholePages = false;
    let n = 0;
    for (let k = this.read(verifier, 1 << 20); k > 0; k = this.read(verifier, 1 << 20)) n += k;
    for (let w = 0; w < this.writers; w++) {
      const f = (this.regions[w]! + R_COUNTS) >> 3;
      const dropped = this.f64[f + W_FULL]! + this.f64[f + W_NMI_LOCK]! + this.f64[f + W_TIMEOUT]!;
      const left = dropped - this.droppedReported[w]!;
      if (left > 0) verifier.lost({ cpu: w, count: left, cause: 'dropped', beforeIndex: this.index[w]! });
      this.droppedReported[w] = dropped;
    }
    return n;
  }
}

function stats(sab: SharedArrayBuffer, readPerWriter: readonly number[]): { stats: ReturnType<typeof discardStats>[]; lost: LostByCause } {
  const i32 = new Int32Array(sab);
  const f64 = new Float64Array(sab);
  const g = geometryOf(i32);
  const out = [];
  const lost = { full: 0, nmiLock: 0, timeout: 0, other: 0 };
  for (let w = 0; w < g.writers; w++) {
    const f = (regionOf(w, g) + R_COUNTS) >> 3;
    const full = f64[f + W_FULL]!;
    const nmiLock = f64[f + W_NMI_LOCK]!;
    const timeout = f64[f + W_TIMEOUT]!;
    lost.full += full;
    lost.nmiLock += nmiLock;
    lost.timeout += timeout;
    out.push(discardStats(w, f64[f + W_STORED]!, full + nmiLock + timeout, readPerWriter[w] ?? 0, 0));
  }
  return { stats: out, lost };
}

export const lockedPageDesign: Design = {
  name: 'locked-page',
  create,
  writer: (sab, index) => new LockedPageWriter(sab, index),
  reader: (sab) => new LockedPageReader(sab),
  stats,
};
