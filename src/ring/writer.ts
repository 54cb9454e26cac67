import { threadId } from 'node:worker_threads';
import {
  C_BLOCKED,
  C_BLOCKED_MS,
  C_BLOCK_WAITING,
  C_BYTES,
  C_COMMITTED,
  C_COMMITTING,
  C_COMMIT_OVERRUN,
  C_COMMIT_PHYS,
  C_COMMIT_SEQ,
  C_DROPPED,
  C_ENTRIES,
  C_LAST_TS,
  C_MAX_NESTING,
  C_OVERRUN,
  C_PAGE_FREED,
  C_PUBLISHED_TAIL,
  C_TAIL_PHYS,
  C_TAIL_SEQ,
  C_WRITE,
  C_WRITER_CORRUPT,
  C_RELEASE_GAVE_UP,
  COMMIT_CLOSED,
  G_READER_OWNER,
  PAGE_HEADER_BYTES,
  P_BASE_TS,
  P_CHECK,
  P_COMMIT,
  P_DROPPED_BEFORE,
  P_ENTRIES,
  P_FIRST_ENTRY,
  P_NEXT,
  NEXT_OPENED,
  NEXT_UNKNOWN,
  P_SEQ,
  P_SIZE,
  WRITE_FULL,
  pageHeaderCheck,
  slotPhys,
  slotTag,
  slotWord,
  tagOf,
} from './layout.js';
import {
  MAX_DELTA,
  MAX_TYPE,
  RECORD_HEADER_BYTES,
  RecordKind,
  headerKind,
  headerLength,
  packHeader,
  recordBytes,
  splitHigh,
  splitLow,
} from './record.js';
import type { TraceClock } from './clock.js';
import { HookPoint, type InterruptHook } from './interrupt.js';
import type { RingView } from './ring-view.js';
import { RingBlockOnReaderError, RingClosedError, RingUnpairedError } from './errors.js';

/** Why a reservation failed. `reserve` returns one of these (negative) instead of an offset. */
export const ReserveFailure = {
  /** discard mode (block mode after the block timeout, or nested): no free page; the event is dropped and counted. */
  full: -1,
  /** overwrite mode: the ring is full of pages an interrupted write has not committed yet. */
  commitOverrun: -2,
  /** the control words of this CPU's ring are not consistent; counted, nothing written. */
  corrupt: -3,
} as const;
export type ReserveFailure = (typeof ReserveFailure)[keyof typeof ReserveFailure];

const RETRY = 0;
/** packHeader(RecordKind.data, 0, 0): or in the length and type. */
const DATA_HEADER = packHeader(RecordKind.data, 0, 0);
/** Bound on page switches inside one reservation; each needs a nested writer to fill a page. */
const RESERVE_LOOP_LIMIT = 1000;
/** Deepest nesting of writes on one CPU (the kernel has 4 contexts; we allow many more). */
export const MAX_NESTING = 64;

/**
 * The writer of one CPU buffer: lock-free reserve/commit. Exactly one thread writes a
 * CPU buffer; nested writes (simulated IRQs/NMIs) run on that same thread at the hook
 * points and complete before the write they interrupted, like a stack.
 *
 * Pairing rule: every reservation that returns an offset (>= 0) is followed by exactly
 * one `commit()` or `discard()`, innermost first. A failed reservation needs neither.
 * `writeWith()` keeps the rule for code that may throw. A write that starts while another
 * is open nests in it, as an interrupt's write nests in the write it interrupted; that
 * happens only inside the interrupt hook or inside `writeWith()`'s fill. A reservation
 * handed back to its caller by `reserve()` and still open when the next write starts was
 * left open (its fill threw past the commit): that write throws `RingUnpairedError`
 * instead of nesting in it unseen.
 *
 * The per-CPU state lives in the shared control block (layout.ts) so that any thread
 * can take over a CPU buffer; only the owning thread touches the private words, so
 * they need no Atomics: the only things that can run between two steps of a write are
 * nested writes on the same thread, and they run only at the labelled hook points.
 * Words another thread reads are published with Atomics.store.
 */
export class CpuWriter {
  readonly cpu: number;
  /** Interrupt hook for tests and the simulated machine; `null` in production. */
  hook: InterruptHook | null = null;
  /** Views of the whole buffer; fill a reservation's payload through these at the returned byte offset. */
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;

  private readonly clock: TraceClock;
  private readonly pages: number;
  private readonly pageBytes: number;
  private readonly pagesBase: number;
  private readonly slotBase: number;
  /** Largest payload; -1 once closed, so that every reserve() fails into badArguments(), which throws. */
  private maxPayload: number;
  private readonly overwrite: boolean;
  /** Block mode's bound on one write's wait for a free page, ms; 0 in the other modes. */
  private readonly blockTimeoutMs: number;
  /** Block mode: when the blocked time was last added to the counter (performance.now() ms). */
  private blockMark = 0;
  /** Record start of the write at each nesting depth, for discard(). */
  private readonly recordStack = new Int32Array(MAX_NESTING + 1);
  /**
   * 1 at a depth whose reservation reserve() handed back to its caller (its fill code runs
   * outside the writer); 0 while the writer itself runs there (hooks) or inside writeWith()'s
   * fill. Only a depth at 0 may have a write nest in it.
   */
  private readonly handedOut = new Uint8Array(MAX_NESTING + 1);
  private readonly onClose: () => void;
  private closed = false;

  // Word indices into i32 / f64 of this CPU's control block.
  private readonly iTailSeq: number;
  private readonly iCommitSeq: number;
  private readonly iLastTs: number;
  private readonly iTailPhys: number;
  private readonly iWrite: number;
  private readonly iCommitting: number;
  private readonly iCommitPhys: number;
  private readonly iCommitted: number;
  private readonly iMaxNesting: number;
  private readonly iEntries: number;
  private readonly iPublishedTail: number;
  private readonly iBytes: number;
  private readonly iDropped: number;
  private readonly iOverrun: number;
  private readonly iCommitOverrun: number;
  private readonly iWriterCorrupt: number;
  private readonly iReleaseGaveUp: number;
  private readonly iBlockWaiting: number;
  private readonly iBlocked: number;
  private readonly iBlockedMs: number;
  private readonly iPageFreed: number;

  constructor(view: RingView, cpu: number, clock: TraceClock, onClose: () => void) {
    this.cpu = cpu;
    this.u8 = view.u8;
    this.i32 = view.i32;
    this.f64 = view.f64;
    this.clock = clock;
    this.pages = view.config.pagesPerCpu;
    this.pageBytes = view.config.pageBytes;
    this.maxPayload = view.config.maxPayloadBytes;
    this.overwrite = view.config.mode === 'overwrite';
    this.blockTimeoutMs = view.config.blockTimeoutMs;
    this.pagesBase = view.pagesBase(cpu);
    this.slotBase = view.slotBase(cpu);
    this.onClose = onClose;
    const c = view.controlBase(cpu);
    this.iTailSeq = (c + C_TAIL_SEQ) >> 3;
    this.iCommitSeq = (c + C_COMMIT_SEQ) >> 3;
    this.iLastTs = (c + C_LAST_TS) >> 3;
    this.iTailPhys = (c + C_TAIL_PHYS) >> 2;
    this.iWrite = (c + C_WRITE) >> 2;
    this.iCommitting = (c + C_COMMITTING) >> 2;
    this.iCommitPhys = (c + C_COMMIT_PHYS) >> 2;
    this.iCommitted = (c + C_COMMITTED) >> 2;
    this.iMaxNesting = (c + C_MAX_NESTING) >> 2;
    this.iEntries = (c + C_ENTRIES) >> 3;
    this.iPublishedTail = (c + C_PUBLISHED_TAIL) >> 2;
    this.iBytes = (c + C_BYTES) >> 3;
    this.iDropped = (c + C_DROPPED) >> 3;
    this.iOverrun = (c + C_OVERRUN) >> 3;
    this.iCommitOverrun = (c + C_COMMIT_OVERRUN) >> 3;
    this.iWriterCorrupt = (c + C_WRITER_CORRUPT) >> 3;
    this.iReleaseGaveUp = (c + C_RELEASE_GAVE_UP) >> 3;
    this.iBlockWaiting = (c + C_BLOCK_WAITING) >> 2;
    this.iBlocked = (c + C_BLOCKED) >> 3;
    this.iBlockedMs = (c + C_BLOCKED_MS) >> 3;
    this.iPageFreed = (c + C_PAGE_FREED) >> 2;
  }

  /** Current nesting depth: 0 outside a write. */
  get depth(): number {
    return this.i32[this.iCommitting]!;
  }

  /**
   * Reserves room for one event. Returns the byte offset of its payload in the buffer
   * (fill it through `u8`/`i32`/`f64`, then `commit()`), or a negative `ReserveFailure`
   * when the event was dropped (counted). Throws RangeError/TypeError for a bad type or
   * length and then writes nothing.
   */
  reserve(type: number, length: number): number {
    // One test each: an integer in range maps to itself; anything else (NaN, a string, 1.5, -1) does not.
    if ((type & MAX_TYPE) !== type || (length >>> 0) !== length || length > this.maxPayload) this.badArguments(type, length);
    const i32 = this.i32;
    const f64 = this.f64;
    const hook = this.hook;
    /* A: enter. From here on every path leaves through commit(), discard() or release(). */
    const depth = ++i32[this.iCommitting]!;
    if (depth !== 1 || hook !== null) this.enter(depth, hook);
    if (hook !== null) hook(HookPoint.entered);
    /* B: read the clock. A nested writer between B and C is fine: C clamps. */
    let ts = this.clock.now();
    if (hook !== null) hook(HookPoint.clockRead);
    /* C: clamp the timestamp (clamp()), then claim bytes at the tail. This is the common
       case; reserveRecord() below is the general one (absolute timestamp, page switch). */
    ts = this.clamp(ts);
    const page = this.pagesBase + i32[this.iTailPhys]! * this.pageBytes;
    const delta = ts - f64[(page + P_BASE_TS) >> 3]!;
    const off = i32[this.iWrite]!;
    const end = off + RECORD_HEADER_BYTES + ((length + 7) & ~7);
    if (end <= this.pageBytes && delta >= 0 && delta <= MAX_DELTA) {
      i32[this.iWrite] = end;
      i32[(page + P_ENTRIES) >> 2]!++;
      f64[this.iEntries]! += 1;
      const rec = page + off;
      this.recordStack[depth] = rec;
      i32[rec >> 2] = DATA_HEADER | (length << 16) | type;
      i32[(rec >> 2) + 1] = delta | 0;
      if (hook !== null) hook(HookPoint.reserved);
      this.handedOut[depth] = 1;
      return rec + RECORD_HEADER_BYTES;
    }
    return this.reserveGeneral(type, length, ts, depth, hook);
  }

  /** Step C in general (absolute timestamp, page switch), then the rest of reserve(). */
  private reserveGeneral(type: number, length: number, ts: number, depth: number, hook: InterruptHook | null): number {
    const at = this.reserveRecord(type, length, ts, depth, hook);
    if (at < 0) {
      this.release(hook);
      return at;
    }
    if (hook !== null) hook(HookPoint.reserved);
    this.handedOut[depth] = 1;
    return at;
  }

  /** Publishes the innermost reservation (and, if outermost, every nested one before it). */
  commit(): void {
    const i32 = this.i32;
    const hook = this.hook;
    const depth = i32[this.iCommitting]!;
    if (depth <= 0) throw new Error(`commit() without a reservation on cpu ${this.cpu}`);
    const tailPhys = i32[this.iTailPhys]!;
    const write = i32[this.iWrite]!;
    if (hook === null && depth === 1 && i32[this.iCommitPhys] === tailPhys && write !== WRITE_FULL) {
      // The common case, steps E-F at once: outermost, commit already on the tail page, and
      // no hook, so nothing can run between the publish and leaving.
      // Publishes the records up to write; pairs with the reader's Atomics.load of commit.
      Atomics.store(i32, (this.pagesBase + tailPhys * this.pageBytes + P_COMMIT) >> 2, write);
      i32[this.iCommitted] = write;
      i32[this.iCommitting] = 0;
      return;
    }
    this.handedOut[depth] = 0; // back in the writer: hooks from here on may nest writes
    if (hook !== null) hook(HookPoint.filled);
    this.release(hook);
  }

  /**
   * Turns the innermost reservation into padding the reader skips (and counts as
   * discarded), then releases it like commit().
   */
  discard(): void {
    const i32 = this.i32;
    const depth = i32[this.iCommitting]!;
    if (depth <= 0) throw new Error(`discard() without a reservation on cpu ${this.cpu}`);
    const w = this.recordStack[depth]! >> 2;
    const header = i32[w]!;
    // Same bytes as the record: the padding covers everything after its header.
    const covered = recordBytes(headerLength(header), headerKind(header) === RecordKind.absolute) - RECORD_HEADER_BYTES;
    i32[w] = packHeader(RecordKind.padding, covered, 0);
    this.commit();
  }

  /**
   * One-call write of a 16-byte payload made of four u32 words. Returns whether the
   * event was stored (false: dropped and counted).
   */
  write(type: number, w0: number, w1: number, w2: number, w3: number): boolean {
    const at = this.reserve(type, 16);
    if (at < 0) return false;
    const i32 = this.i32;
    const w = at >> 2;
    i32[w] = w0;
    i32[w + 1] = w1;
    i32[w + 2] = w2;
    i32[w + 3] = w3;
    this.commit();
    return true;
  }

  /**
   * One-call write of an arbitrary payload (copied). Returns whether the event was stored.
   * A payload that is not a Uint8Array (a Buffer is one) is a TypeError, and nothing is written.
   */
  writeBytes(type: number, payload: Uint8Array): boolean {
    if (!(payload instanceof Uint8Array)) {
      throw new TypeError(`payload must be a Uint8Array (got ${payload === null ? 'null' : typeof payload === 'object' ? (payload as object).constructor?.name ?? 'object' : typeof payload})`);
    }
    const at = this.reserve(type, payload.length);
    if (at < 0) return false;
    this.u8.set(payload, at);
    this.commit();
    return true;
  }

  /**
   * One-call write of a payload that `fill(at)` writes at byte offset `at` (through `u8`,
   * `i32`, `f64`): the safe shape of reserve / fill / commit. Commits when `fill` returns;
   * when it throws, discards the reservation (the reader skips it, counted as discarded)
   * and rethrows, so the CPU buffer never stays inside a write. Writes that `fill` makes
   * nest inside this one, as an interrupting write would. Returns whether the event was
   * stored (false: dropped and counted, and `fill` was not called). `fill` must leave the
   * pairing alone: reservations it leaves open are discarded and reported by a
   * `RingUnpairedError` after this event is committed.
   */
  writeWith(type: number, length: number, fill: (at: number) => void): boolean {
    if (typeof fill !== 'function') throw new TypeError(`fill must be a function (got ${fill === null ? 'null' : typeof fill})`);
    const at = this.reserve(type, length);
    if (at < 0) return false;
    const depth = this.i32[this.iCommitting]!;
    this.handedOut[depth] = 0; // fill runs inside the write: its writes nest in it
    try {
      fill(at);
    } catch (err) {
      this.unwindTo(depth);
      this.discard();
      throw err;
    }
    const left = this.unwindTo(depth);
    this.commit();
    if (left > 0) {
      throw new RingUnpairedError(
        `cpu ${this.cpu}: writeWith()'s fill left ${left} reservation(s) open; they were discarded (pair each reserve() with commit() or discard())`,
      );
    }
    return true;
  }

  /**
   * Discards the reservations nested deeper than `depth` (left open by a fill) and returns
   * how many there were; throws if the reservation at `depth` itself was closed.
   */
  private unwindTo(depth: number): number {
    let left = 0;
    while (this.i32[this.iCommitting]! > depth && left <= MAX_NESTING) {
      this.discard();
      left++;
    }
    if (this.i32[this.iCommitting]! !== depth) {
      throw new RingUnpairedError(`cpu ${this.cpu}: writeWith()'s fill committed or discarded the reservation writeWith() made (leave that to writeWith)`);
    }
    return left;
  }

  /**
   * Recovery after the owning thread died inside a write (it never committed): every
   * record between the commit and the tail is turned into padding — kept in place, so each
   * still takes its index and the reader counts it as discarded — and the commit is
   * published. Run only while no thread writes this CPU buffer. Returns the records padded.
   */
  abandonInFlight(): number {
    const i32 = this.i32;
    const f64 = this.f64;
    if (i32[this.iCommitting]! === 0) return 0;
    let padded = 0;
    let seq = f64[this.iCommitSeq]!;
    let phys = i32[this.iCommitPhys]!;
    let from = i32[this.iCommitted]!;
    const tail = f64[this.iTailSeq]!;
    for (let n = 0; n <= this.pages; n++) {
      const page = this.pageAt(phys);
      const end = seq === tail ? this.tailEnd() : i32[(page + P_SIZE) >> 2]!;
      for (let off = from; off < end && off + RECORD_HEADER_BYTES <= this.pageBytes; ) {
        const w = (page + off) >> 2;
        const header = i32[w]!;
        const kind = headerKind(header);
        const bytes = recordBytes(headerLength(header), kind === RecordKind.absolute);
        if (kind === RecordKind.invalid) break;
        if (kind !== RecordKind.padding) {
          i32[w] = packHeader(RecordKind.padding, bytes - RECORD_HEADER_BYTES, 0);
          padded++;
        }
        off += bytes;
      }
      if (seq === tail) break;
      phys = i32[(page + P_NEXT) >> 2]!;
      seq++;
      from = PAGE_HEADER_BYTES;
    }
    i32[this.iCommitting] = 1;
    this.publishCommit();
    i32[this.iCommitting] = 0;
    return padded;
  }

  /** Releases the CPU buffer so another thread may write it. */
  close(): void {
    if (this.closed) return;
    if (this.i32[this.iCommitting]! !== 0) {
      throw new Error(`close() inside a write on cpu ${this.cpu} (depth ${this.i32[this.iCommitting]})`);
    }
    this.closed = true;
    // The next reserve() fails its argument check (no length is <= -1) and badArguments()
    // throws: no test of `closed` on the hot path.
    this.maxPayload = -1;
    this.onClose();
  }

  /** Step A off the common path: a nested write (checked), a hooked write, or a new deepest nesting. */
  private enter(depth: number, hook: InterruptHook | null): void {
    // The writer runs at this depth until reserve() returns: a write a hook makes here nests legitimately.
    if (hook !== null) this.handedOut[depth] = 0;
    if (depth > 1 && this.handedOut[depth - 1] === 1) {
      this.i32[this.iCommitting]!--;
      throw new RingUnpairedError(
        `cpu ${this.cpu}: a reservation at depth ${depth - 1} is still open (reserve() returned an offset and no commit() or discard() followed: ` +
          'did its fill code throw?); discard() it to go on, and use writeWith() to fill safely',
      );
    }
    if (depth > MAX_NESTING) {
      this.i32[this.iCommitting]!--;
      throw new RangeError(`writes nest at most ${MAX_NESTING} deep on one CPU (cpu ${this.cpu})`);
    }
    // Only depths above 1 are recorded (stats() reports 1 once anything was written).
    if (depth > this.i32[this.iMaxNesting]!) this.i32[this.iMaxNesting] = depth;
  }

  /**
   * Step C's clamp: one CPU's records never go back in time in reservation order (a writer
   * that interrupted us between B and C reserved first, with a later time).
   */
  private clamp(ts: number): number {
    const last = this.f64[this.iLastTs]!;
    if (ts < last) return last;
    this.f64[this.iLastTs] = ts;
    return ts;
  }

  private pageAt(phys: number): number {
    return this.pagesBase + phys * this.pageBytes;
  }

  /** Step C, with the page switch (C1, S0-S2) when the tail page has no room. */
  private reserveRecord(type: number, length: number, ts: number, depth: number, hook: InterruptHook | null): number {
    const i32 = this.i32;
    const f64 = this.f64;
    /** When this write started to wait for a free page (block mode), performance.now() ms; -1 before. */
    let blockedSince = -1;
    for (let attempt = 0; attempt < RESERVE_LOOP_LIMIT; attempt++) {
      /* C: clamp the timestamp (clamp()), then claim bytes at the tail. */
      ts = this.clamp(ts);
      const page = this.pageAt(i32[this.iTailPhys]!);
      const delta = ts - f64[(page + P_BASE_TS) >> 3]!;
      const absolute = !(delta >= 0 && delta <= MAX_DELTA);
      const size = RECORD_HEADER_BYTES + (absolute ? 8 : 0) + ((length + 7) & ~7);
      const off = i32[this.iWrite]!;
      if (off + size <= this.pageBytes) {
        i32[this.iWrite] = off + size;
        i32[(page + P_ENTRIES) >> 2]!++;
        f64[this.iEntries]! += 1;
        const rec = page + off;
        const w = rec >> 2;
        this.recordStack[depth] = rec;
        if (absolute) {
          i32[w] = packHeader(RecordKind.absolute, length, type);
          i32[w + 1] = 0;
          i32[w + 2] = splitLow(ts);
          i32[w + 3] = splitHigh(ts);
          return rec + RECORD_HEADER_BYTES + 8;
        }
        i32[w] = packHeader(RecordKind.data, length, type);
        i32[w + 1] = delta | 0;
        return rec + RECORD_HEADER_BYTES;
      }
      /* C1: no room. The first writer to find the page full records where its data ends;
         every later reservation on this page (nested or not) fails the same test. */
      if (off !== WRITE_FULL) {
        i32[(page + P_SIZE) >> 2] = off;
        i32[this.iWrite] = WRITE_FULL;
      }
      const from = f64[this.iTailSeq]!;
      if (hook !== null) hook(HookPoint.pageFull);
      const switched = this.switchPage(from, hook);
      if (switched !== RETRY) {
        /* W: block mode waits for the reader to free page from + 1 - N, only at depth 1: a
           nested write interrupted a write on this thread, which cannot go on while it
           sleeps, so it drops as discard mode does. Nothing is reserved at this depth yet, so
           every page the reader may take is committed and closed already. The event keeps
           the timestamp it read at B. */
        if (switched === ReserveFailure.full && this.blockTimeoutMs !== 0 && depth === 1) {
          /* W1 */
          if (blockedSince < 0) blockedSince = this.startBlocking(hook);
          if (this.awaitFreePage(from + 1, blockedSince)) continue;
        }
        this.countDrop(switched);
        return switched;
      }
    }
    // Past the bound: a drop counted once, as writer damage (countDrop counts both).
    this.countDrop(ReserveFailure.corrupt);
    return ReserveFailure.corrupt;
  }

  /**
   * Moves the tail from page `from` to `from + 1`. Every step re-checks that nobody
   * (a nested writer at a hook point) finished the switch already, and each step is
   * idempotent, so whichever writer gets there first completes it and the others
   * retry their reservation on the new tail. Nobody waits for anybody.
   */
  private switchPage(from: number, hook: InterruptHook | null): number {
    const i32 = this.i32;
    const f64 = this.f64;
    const pages = this.pages;
    /* S0: claim the slot of page next. */
    if (f64[this.iTailSeq] !== from) return RETRY;
    const next = from + 1;
    const si = (this.slotBase >> 2) + (next % pages);
    // Pairs with the reader's compareExchange that left a free page here.
    let word = Atomics.load(i32, si);
    let phys = slotPhys(word);
    if (slotTag(word) !== tagOf(next)) {
      if (slotTag(word) !== tagOf(next - pages) || phys > pages) return ReserveFailure.corrupt;
      // The slot still holds page next - N, which the reader has not taken.
      if (!this.overwrite) return ReserveFailure.full;
      if (next - pages >= f64[this.iCommitSeq]!) return ReserveFailure.commitOverrun;
      // Pairs with the reader's compareExchange on the same slot: exactly one of us gets page next - N.
      const seen = Atomics.compareExchange(i32, si, word, slotWord(next, phys));
      if (seen === word) {
        f64[this.iOverrun]! += i32[(this.pageAt(phys) + P_ENTRIES) >> 2]!;
      } else {
        // The reader took page next - N just now and left its spare page, tagged for us.
        word = seen;
        phys = slotPhys(word);
        if (slotTag(word) !== tagOf(next)) return ReserveFailure.corrupt;
      }
    }
    if (phys > pages) return ReserveFailure.corrupt;
    if (hook !== null) hook(HookPoint.slotClaimed);
    /* S1: open page next: its header, invisible to the reader until S2 publishes the tail. */
    if (f64[this.iTailSeq] !== from) return RETRY;
    const page = this.pageAt(phys);
    if (i32[(page + P_SEQ) >> 2] !== (next | 0) || i32[(page + P_NEXT) >> 2] !== NEXT_OPENED) {
      i32[(page + P_ENTRIES) >> 2] = 0;
      i32[(page + P_SIZE) >> 2] = this.pageBytes;
      f64[(page + P_FIRST_ENTRY) >> 3] = f64[this.iEntries]!;
      f64[(page + P_BASE_TS) >> 3] = f64[this.iLastTs]!;
      f64[(page + P_DROPPED_BEFORE) >> 3] = f64[this.iDropped]!;
      Atomics.store(i32, (page + P_COMMIT) >> 2, PAGE_HEADER_BYTES);
      i32[(page + P_SEQ) >> 2] = next | 0;
      i32[(page + P_CHECK) >> 2] = pageHeaderCheck(f64, i32, page);
      i32[(page + P_NEXT) >> 2] = NEXT_OPENED;
    }
    if (hook !== null) hook(HookPoint.pageOpened);
    /* S2: move the tail onto the opened page. */
    if (f64[this.iTailSeq] !== from) return RETRY;
    const old = this.pageAt(i32[this.iTailPhys]!);
    i32[(old + P_NEXT) >> 2] = phys;
    f64[this.iBytes]! += i32[(old + P_SIZE) >> 2]! - PAGE_HEADER_BYTES;
    i32[(page + P_NEXT) >> 2] = NEXT_UNKNOWN;
    f64[this.iTailSeq] = next;
    i32[this.iTailPhys] = phys;
    i32[this.iWrite] = PAGE_HEADER_BYTES;
    // Publishes the opened page's header; pairs with the reader's Atomics.load before its swap.
    Atomics.store(i32, this.iPublishedTail, next | 0);
    if (hook !== null) hook(HookPoint.tailMoved);
    return RETRY;
  }

  /**
   * The first wait of a write: refuses to wait on the reader's thread (it would wait for
   * itself), counts the write as blocked and returns when it started waiting.
   */
  private startBlocking(hook: InterruptHook | null): number {
    if (Atomics.load(this.i32, G_READER_OWNER >> 2) === threadId + 1) {
      this.countDrop(ReserveFailure.full);
      this.release(hook);
      throw new RingBlockOnReaderError(
        `cpu ${this.cpu}: a write in mode 'block' found the ring full on thread ${threadId}, which holds the ring's reader role and would have to free the page itself ` +
          "(the event was dropped; consume from another thread, such as a drain thread, or use mode 'discard')",
      );
    }
    this.f64[this.iBlocked]! += 1;
    this.blockMark = performance.now();
    return this.blockMark;
  }

  /**
   * One bounded wait for the reader to free page `next - N` (its slot then names page
   * `next`). Returns false once the block timeout has passed since `since`: drop. A true
   * return means "look again", not that a page is free.
   */
  private awaitFreePage(next: number, since: number): boolean {
    const i32 = this.i32;
    const now = performance.now();
    const left = since + this.blockTimeoutMs - now;
    // Blocked time is wall time since the write found the ring full, gaps between waits
    // included (a thread descheduled between two waits was still held up).
    this.f64[this.iBlockedMs]! += now - this.blockMark;
    this.blockMark = now;
    if (left <= 0) return false;
    /* W2: loaded before the flag is raised: a page freed from here on changes it, so the
       wait below returns at once instead of missing the wake. */
    const freed = Atomics.load(i32, this.iPageFreed);
    /* W3: raise the flag, then (W4) look at the slot; pairs with the reader's compareExchange
       on the slot followed by its Atomics.load of the flag: one of the two sees the other's write. */
    Atomics.store(i32, this.iBlockWaiting, 1);
    const word = Atomics.load(i32, (this.slotBase >> 2) + (next % this.pages));
    // Pairs with the reader's Atomics.add + Atomics.notify of page freed (reader.ts swap).
    if (slotTag(word) === tagOf(next - this.pages)) Atomics.wait(i32, this.iPageFreed, freed, left);
    /* W5 */
    Atomics.store(i32, this.iBlockWaiting, 0);
    const woke = performance.now();
    this.f64[this.iBlockedMs]! += woke - this.blockMark;
    this.blockMark = woke;
    return true;
  }

  private countDrop(reason: number): void {
    this.f64[this.iDropped]! += 1;
    if (reason === ReserveFailure.commitOverrun) this.f64[this.iCommitOverrun]! += 1;
    else if (reason === ReserveFailure.corrupt) this.f64[this.iWriterCorrupt]! += 1;
  }

  /**
   * Steps E-F: leave the write. Only the outermost writer (depth 1) publishes the commit,
   * and it publishes everything reserved so far, nested writes included. A writer that
   * interrupts at E (after the publish, before the depth drops) sees depth 2 and leaves
   * its record to us, so after dropping the depth we check again, as the kernel's
   * rb_end_commit does, and take the commit role back if the tail moved.
   */
  private release(hook: InterruptHook | null): void {
    const i32 = this.i32;
    for (let loop = 0; loop < RESERVE_LOOP_LIMIT; loop++) {
      /* E */
      if (i32[this.iCommitting] === 1) this.publishCommit();
      if (hook !== null) hook(HookPoint.committed);
      /* F */
      const depth = --i32[this.iCommitting]!;
      if (depth !== 0 || this.commitAtTail()) return;
      i32[this.iCommitting] = 1;
    }
    // Past the bound (the kernel's RB_WARN_ON): the commit may lag the tail. Counted as
    // writer damage and on its own, so stats and the stress verdicts show it by name.
    this.f64[this.iWriterCorrupt]! += 1;
    this.f64[this.iReleaseGaveUp]! += 1;
  }

  private tailEnd(): number {
    const w = this.i32[this.iWrite]!;
    return w === WRITE_FULL ? this.i32[(this.pageAt(this.i32[this.iTailPhys]!) + P_SIZE) >> 2]! : w;
  }

  private commitAtTail(): boolean {
    return this.f64[this.iCommitSeq] === this.f64[this.iTailSeq] && this.i32[this.iCommitted] === this.tailEnd();
  }

  /** Moves the commit to the tail: closes every page it passes, then the tail page's end. */
  private publishCommit(): void {
    const i32 = this.i32;
    const f64 = this.f64;
    let seq = f64[this.iCommitSeq]!;
    let phys = i32[this.iCommitPhys]!;
    const tail = f64[this.iTailSeq]!;
    for (let n = 0; seq !== tail && n <= this.pages; n++) {
      const page = this.pageAt(phys);
      // Read the link first: once closed, the reader may hand this page back to the ring.
      const next = i32[(page + P_NEXT) >> 2]!;
      // Publishes every record of the page and closes it; pairs with the reader's Atomics.load of commit.
      Atomics.store(i32, (page + P_COMMIT) >> 2, i32[(page + P_SIZE) >> 2]! | COMMIT_CLOSED);
      if ((next >>> 0) > this.pages) {
        // A damaged link (stray write, damaged memory): the pages after it cannot be found
        // to close. Counted; the commit goes on at the tail so later writes still publish.
        f64[this.iWriterCorrupt]! += 1;
        seq = tail;
        phys = i32[this.iTailPhys]!;
        break;
      }
      phys = next;
      seq++;
    }
    const end = this.tailEnd();
    // Publishes the tail page's records up to end; pairs with the reader's Atomics.load of commit.
    Atomics.store(i32, (this.pageAt(i32[this.iTailPhys]!) + P_COMMIT) >> 2, end);
    f64[this.iCommitSeq] = seq;
    i32[this.iCommitPhys] = phys;
    i32[this.iCommitted] = end;
  }

  private badArguments(type: unknown, length: unknown): never {
    if (this.closed) throw new RingClosedError(`cpu ${this.cpu}: this writer is closed (ring.writer(${this.cpu}) claims the CPU buffer again)`);
    if (((type as number) & MAX_TYPE) !== type) this.badType(type);
    this.badLength(length);
  }

  private badType(type: unknown): never {
    if (typeof type !== 'number') throw new TypeError(`type must be a number (got ${typeof type})`);
    throw new RangeError(`type must be an integer between 0 and ${MAX_TYPE} (got ${type})`);
  }

  private badLength(length: unknown): never {
    if (typeof length !== 'number') throw new TypeError(`length must be a number (got ${typeof length})`);
    throw new RangeError(
      `event payload must be an integer number of bytes between 0 and maxPayloadBytes = ${this.maxPayload} (got ${length})`,
    );
  }
}
