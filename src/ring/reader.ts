import {
  C_ABANDONED,
  C_ABANDON_END,
  C_BLOCK_WAITING,
  C_CORRUPT,
  C_DISCARDED,
  C_DROPPED,
  C_DROPPED_REPORTED,
  C_ENTRIES,
  C_LAST_READ_TS,
  C_LAST_TS,
  C_LOST_CORRUPT,
  C_NEXT_INDEX,
  C_PAGE_FREED,
  C_PUBLISHED_TAIL,
  C_READ,
  C_READER_PHYS,
  C_READ_OFFSET,
  C_READ_SEQ,
  C_TAIL_SEQ,
  COMMIT_CLOSED,
  COMMIT_OFFSET_MASK,
  PAGE_HEADER_BYTES,
  P_BASE_TS,
  P_CHECK,
  P_COMMIT,
  P_DROPPED_BEFORE,
  P_ENTRIES,
  P_FIRST_ENTRY,
  P_SEQ,
  READ_ABANDONED,
  TAG_MODULUS,
  pageHeaderCheck,
  slotPhys,
  slotTag,
  slotWord,
  tagOf,
} from './layout.js';
import { RecordKind, frameBytes, frameDamageReason, headerKind, headerLength, headerType, recordTimestamp } from './record.js';
import type { RingView } from './ring-view.js';
import { RingClosedError } from './errors.js';
import { checkOptionNames } from '../option-check.js';

export type LossCause = 'overrun' | 'dropped' | 'corrupt';

/** Events of one CPU that the reader will never see, and where in that CPU's stream they were. */
export interface LostEvents {
  readonly cpu: number;
  readonly count: number;
  readonly cause: LossCause;
  /** Per-CPU index of the first event after the gap (the gap is `beforeIndex - count .. beforeIndex - 1`). */
  readonly beforeIndex: number;
}

/** Bytes the reader refused, and why. It skips the rest of that page and goes on. */
export interface CorruptionReport {
  readonly cpu: number;
  readonly pageSeq: number;
  readonly offset: number;
  readonly reason: string;
}

export interface ReadVisitor {
  /** One committed event. The view is reused: copy what you keep. */
  event(view: EventView): void;
  lost?(loss: LostEvents): void;
  corrupt?(report: CorruptionReport): void;
}

/** Where losses and damage are reported: the part of a visitor every reading path shares. */
export type LossVisitor = Pick<ReadVisitor, 'lost' | 'corrupt'>;

export interface ReadOptions {
  /** Stop after this many events. Defaults to no limit. */
  readonly maxEvents?: number;
  /**
   * Only take pages the writer has left (whole pages), never the page it is writing.
   * Cheaper for a reader that keeps up with a fast writer (the commit word stops
   * bouncing between cores); events on the tail page wait. Defaults to false.
   */
  readonly wholePages?: boolean;
}

/** A flyweight view of the event being visited. Valid only during the visit. */
export class EventView {
  cpu = 0;
  /** Per-CPU index: the number of events this CPU reserved before this one. */
  index = 0;
  type = 0;
  /** ns since the buffer's origin (`hrtime`) or ticket (`counter`). */
  timestamp = 0;
  /** Byte offset of the payload in the buffer (8-byte aligned). */
  offset = 0;
  length = 0;
  readonly u8: Uint8Array;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;

  /** Over a ring's memory, or any aligned copy of pages (a trace file's reader). */
  constructor(view: Pick<RingView, 'u8' | 'i32' | 'f64'>) {
    this.u8 = view.u8;
    this.i32 = view.i32;
    this.f64 = view.f64;
  }

  /** Payload word `i` as an unsigned 32-bit integer. */
  u32(i: number): number {
    return this.i32[(this.offset >> 2) + i]! >>> 0;
  }

  /** Payload word `i` as a signed 32-bit integer. */
  int32(i: number): number {
    return this.i32[(this.offset >> 2) + i]!;
  }

  /** Payload double `i` (payloads are 8-byte aligned). */
  float64(i: number): number {
    return this.f64[(this.offset >> 3) + i]!;
  }

  /** A copy of the payload. */
  bytes(): Uint8Array {
    return this.u8.slice(this.offset, this.offset + this.length);
  }
}

const PAGE_LOOP_SLACK = 4;
/** readerOffset(): the reader's words were repaired; look again. */
const WORDS_REPAIRED = -2;
/** readerOffset(): this CPU is no longer read. */
const CPU_GIVEN_UP = -3;

/** Receives committed page bytes from `RingReader.copy()`. */
export interface PageCopyVisitor {
  /**
   * Bytes `from..to` of the page that starts at byte `page` of the ring (`u8` of the
   * ring's view), holding `records` records of CPU `cpu`, page `pageSeq` (`events`
   * events and the rest padding), the first with per-CPU index `firstIndex`; the page header is bytes
   * `page..page + PAGE_HEADER_BYTES`. `from` is PAGE_HEADER_BYTES for a page's first
   * chunk. Valid only during the call: copy what you keep.
   */
  chunk(cpu: number, pageSeq: number, page: number, from: number, to: number, firstIndex: number, events: number, records: number): void;
  lost?(loss: LostEvents): void;
  corrupt?(report: CorruptionReport): void;
}

export interface CopyOptions {
  /** As `ReadOptions.wholePages`: only pages the writer has left. Defaults to false. */
  readonly wholePages?: boolean;
}

const READ_OPTION_NAMES: readonly (keyof ReadOptions)[] = ['maxEvents', 'wholePages'];

/** Whether a loss counter or an index can be what it stands for: a whole number of events. */
function isCount(x: number): boolean {
  return Number.isSafeInteger(x) && x >= 0;
}

/**
 * The consuming reader. One per buffer at a time (it claims the role); it may run on any
 * thread, concurrently with the writers. It reads only pages it has swapped out of a
 * CPU's ring, so a writer can never overwrite what it is reading, and it waits for
 * nobody: when a CPU has nothing committed it moves on.
 *
 * `read()` merges the CPUs by timestamp (each CPU's stream is already in order) and
 * reports losses where they happened. Damaged bytes are reported and skipped, never
 * thrown; every loop is bounded, so corrupt memory cannot hang it.
 */
export class RingReader {
  private readonly view: RingView;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly cpus: number;
  private readonly pages: number;
  private readonly pageBytes: number;
  private readonly maxPayload: number;
  private readonly overwrite: boolean;
  /** Mode block: after each swap, wake a writer that waits for a free page. */
  private readonly block: boolean;
  private readonly eventView: EventView;
  private readonly ctl: Int32Array;
  // The next record of each CPU, decoded ahead for the merge (-1: none).
  private readonly stashRecord: Int32Array;
  private readonly stashEnd: Int32Array;
  private readonly stashTs: Float64Array;
  // Cached commit end of each CPU's current page, to avoid reloading it per record, and the
  // writer's last timestamp loaded with it: an upper bound for every record below that end.
  private readonly knownEnd: Int32Array;
  private readonly tsBound: Float64Array;
  /** CPUs whose reader state was damaged beyond repair: reported once, then no longer read. */
  private readonly disabled: Uint8Array;
  /** Scratch for finding the reader's page after damage: how many slots name each physical page. */
  private readonly physSeen: Uint8Array;
  /** CPUs whose drop counts are damaged beyond repair: reported once, then their drops are no longer announced. */
  private readonly dropsDamaged: Uint8Array;
  /** The last options object read() checked, so a caller reusing one pays for the check once. */
  private checkedOptions: ReadOptions | undefined = undefined;
  private readonly onClose: () => void;
  private closed = false;
  /** frame()'s count of the events it walked. */
  private copiedEvents = 0;

  constructor(view: RingView, onClose: () => void) {
    this.view = view;
    this.i32 = view.i32;
    this.f64 = view.f64;
    this.cpus = view.config.cpus;
    this.pages = view.config.pagesPerCpu;
    this.pageBytes = view.config.pageBytes;
    this.maxPayload = view.config.maxPayloadBytes;
    this.overwrite = view.config.mode === 'overwrite';
    this.block = view.config.mode === 'block';
    this.eventView = new EventView(view);
    this.ctl = new Int32Array(this.cpus);
    for (let cpu = 0; cpu < this.cpus; cpu++) this.ctl[cpu] = view.controlBase(cpu);
    this.stashRecord = new Int32Array(this.cpus).fill(-1);
    this.stashEnd = new Int32Array(this.cpus);
    this.stashTs = new Float64Array(this.cpus);
    this.knownEnd = new Int32Array(this.cpus);
    this.tsBound = new Float64Array(this.cpus);
    this.disabled = new Uint8Array(this.cpus);
    this.physSeen = new Uint8Array(this.pages + 1);
    this.dropsDamaged = new Uint8Array(this.cpus);
    this.onClose = onClose;
  }

  /**
   * Consumes committed events of all CPUs, merged by timestamp, into the visitor.
   * Returns the number of events delivered (0: nothing committed right now).
   */
  read(visitor: ReadVisitor, options?: ReadOptions): number {
    if (this.closed) throw new RingClosedError('read() on a closed reader (ring.reader() claims the reader role again)');
    if (options !== this.checkedOptions && options !== undefined) this.checkOptions(options);
    const whole = options?.wholePages === true;
    const max = options?.maxEvents ?? Infinity;
    const cpus = this.cpus;
    const stash = this.stashRecord;
    const ts = this.stashTs;
    for (let cpu = 0; cpu < cpus; cpu++) if (stash[cpu]! < 0) this.peek(cpu, whole, visitor);
    let delivered = 0;
    while (delivered < max) {
      let best = -1;
      let bestTs = Infinity;
      for (let cpu = 0; cpu < cpus; cpu++) {
        if (stash[cpu]! >= 0 && ts[cpu]! < bestTs) {
          best = cpu;
          bestTs = ts[cpu]!;
        }
      }
      if (best < 0) break;
      this.deliver(best, visitor);
      delivered++;
      this.peek(best, whole, visitor);
    }
    return delivered;
  }

  /**
   * Reads until nothing is committed, then reports drops that no later page announced.
   * Call it when the writers are quiescent (stopped or idle) to account for everything.
   */
  drain(visitor: ReadVisitor): number {
    let total = 0;
    for (let n = this.read(visitor); n > 0; n = this.read(visitor)) total += n;
    this.reportDrops(visitor);
    return total;
  }

  /**
   * Reports as `lost` what no page announced yet: the events skipped on a damaged page that
   * is the writer's newest (cause `corrupt`; a later page would announce them), then the
   * drops (discard mode) after the last page read. drain() ends with it; a reader that reads
   * in bounded batches calls it when it has caught up.
   */
  reportDrops(visitor: LossVisitor): void {
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      // A CPU given up for damage says nothing more (its give-up was reported once).
      if (this.disabled[cpu] !== 0) continue;
      this.reportSkipped(cpu, visitor);
      const c = this.ctl[cpu]!;
      if (this.f64[(c + C_DROPPED) >> 3]! === this.f64[(c + C_DROPPED_REPORTED) >> 3]!) continue;
      if (!this.dropCountsSound(cpu, -1, visitor)) continue;
      const dropped = this.f64[(c + C_DROPPED) >> 3]!;
      const reported = this.f64[(c + C_DROPPED_REPORTED) >> 3]!;
      if (dropped > reported) {
        this.f64[(c + C_DROPPED_REPORTED) >> 3] = dropped;
        visitor.lost?.({ cpu, count: dropped - reported, cause: 'dropped', beforeIndex: this.f64[(c + C_NEXT_INDEX) >> 3]! });
      }
    }
  }

  /**
   * The events of a CPU the reader is skipping (a damaged page, or a CPU given up) up to the
   * writer's count, announced as lost to corruption, when no later page will announce them:
   * the skipped page is the newest the writer published (or the CPU is no longer read).
   * The reader's index then moves past them, so a page opened later announces only the rest.
   */
  private reportSkipped(cpu: number, visitor: LossVisitor): void {
    const i32 = this.i32;
    const f64 = this.f64;
    const c = this.ctl[cpu]!;
    const givenUp = this.disabled[cpu] !== 0;
    if (!givenUp && i32[(c + C_READ_OFFSET) >> 2] !== READ_ABANDONED) return;
    // Read before the published tail: the writer counts an event of a later page only after
    // it published that page, so if the tail below is still ours, this counts none of them.
    const entries = f64[(c + C_ENTRIES) >> 3]!;
    const next = f64[(c + C_NEXT_INDEX) >> 3]!;
    if (!(isCount(entries) && isCount(next) && entries > next)) return;
    // Pairs with the writer's Atomics.store of the published tail in switchPage (S2).
    if (!givenUp && Atomics.load(i32, (c + C_PUBLISHED_TAIL) >> 2) !== ((f64[(c + C_READ_SEQ) >> 3]! - 1) | 0)) return;
    f64[(c + C_LOST_CORRUPT) >> 3]! += entries - next;
    f64[(c + C_NEXT_INDEX) >> 3] = entries;
    visitor.lost?.({ cpu, count: entries - next, cause: 'corrupt', beforeIndex: entries });
  }

  /**
   * Checks the words drops are announced from: the writer's dropped count, the reader's count
   * of drops announced, the reader's next index (the place they are announced at). A damaged
   * reader word is repaired from the writer's (reported; the drops in between cannot be
   * counted, so none is announced for them); a damaged writer word is reported once, and then
   * that CPU's drops are no longer announced. So a damaged word never becomes a loss that
   * cannot be: a fraction, a negative or an astronomic count, or a place before 0.
   */
  private dropCountsSound(cpu: number, pageSeq: number, visitor: LossVisitor): boolean {
    const f64 = this.f64;
    const c = this.ctl[cpu]!;
    if (this.dropsDamaged[cpu] !== 0) return false;
    const dropped = f64[(c + C_DROPPED) >> 3]!;
    const entries = f64[(c + C_ENTRIES) >> 3]!;
    if (!isCount(dropped)) {
      this.dropsDamaged[cpu] = 1;
      this.report(visitor, cpu, pageSeq, -1, `the writer's dropped count ${dropped} is impossible: this CPU's drops are no longer announced`);
      return false;
    }
    const reported = f64[(c + C_DROPPED_REPORTED) >> 3]!;
    if (!(isCount(reported) && reported <= dropped)) {
      f64[(c + C_DROPPED_REPORTED) >> 3] = dropped;
      this.report(visitor, cpu, pageSeq, -1, `the reader's count of announced drops ${reported} is impossible; resuming at the writer's ${dropped} (drops in between are not announced)`);
    }
    const next = f64[(c + C_NEXT_INDEX) >> 3]!;
    if (!isCount(next)) {
      if (!isCount(entries)) {
        this.dropsDamaged[cpu] = 1;
        this.report(visitor, cpu, pageSeq, -1, `the reader's next index ${next} and the writer's entries ${entries} are both impossible: this CPU's drops are no longer announced`);
        return false;
      }
      f64[(c + C_NEXT_INDEX) >> 3] = entries;
      this.report(visitor, cpu, pageSeq, -1, `the reader's next index ${next} is impossible; resuming at the writer's entries ${entries}`);
    }
    return true;
  }

  private checkOptions(options: ReadOptions): void {
    checkOptionNames(options, READ_OPTION_NAMES);
    const max = options.maxEvents;
    if (max !== undefined && !(typeof max === 'number' && (Number.isInteger(max) || max === Infinity) && max >= 0)) {
      if (typeof max !== 'number') throw new TypeError(`options.maxEvents must be a number (got ${typeof max})`);
      throw new RangeError(`options.maxEvents must be an integer >= 0, or Infinity (got ${max})`);
    }
    if (options.wholePages !== undefined && typeof options.wholePages !== 'boolean') {
      throw new TypeError(`options.wholePages must be a boolean (got ${typeof options.wholePages})`);
    }
    this.checkedOptions = options;
  }

  /**
   * Where this reader stands in a CPU's stream: the index of the next event it will take,
   * the seq of the page it holds and its offset there (-1 if it is skipping a damaged
   * page). A drain that takes over from another records it, so a page half copied by the
   * one is continued by the other.
   */
  position(cpu: number): { readonly nextIndex: number; readonly pageSeq: number; readonly offset: number } {
    const c = this.ctl[cpu]!;
    return { nextIndex: this.f64[(c + C_NEXT_INDEX) >> 3]!, pageSeq: this.f64[(c + C_READ_SEQ) >> 3]! - 1, offset: this.i32[(c + C_READ_OFFSET) >> 2]! };
  }

  /** Gives the reader role back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private deliver(cpu: number, visitor: ReadVisitor): void {
    const i32 = this.i32;
    const f64 = this.f64;
    const c = this.ctl[cpu]!;
    const rec = this.stashRecord[cpu]!;
    const header = i32[rec >> 2]!;
    const v = this.eventView;
    v.cpu = cpu;
    v.index = f64[(c + C_NEXT_INDEX) >> 3]!;
    v.type = headerType(header);
    v.length = headerLength(header);
    v.offset = rec + (headerKind(header) === RecordKind.absolute ? 16 : 8);
    v.timestamp = this.stashTs[cpu]!;
    // Advance first, so a visitor that throws leaves the reader consistent.
    i32[(c + C_READ_OFFSET) >> 2] = this.stashEnd[cpu]!;
    f64[(c + C_NEXT_INDEX) >> 3]! += 1;
    f64[(c + C_READ) >> 3]! += 1;
    f64[(c + C_LAST_READ_TS) >> 3] = v.timestamp;
    this.stashRecord[cpu] = -1;
    visitor.event(v);
  }

  /** Finds the next record of a CPU, swapping in pages as needed. True if one is stashed. */
  private peek(cpu: number, whole: boolean, visitor: ReadVisitor): boolean {
    const i32 = this.i32;
    const c = this.ctl[cpu]!;
    for (let guard = 0; guard < this.pages + PAGE_LOOP_SLACK; guard++) {
      let off = this.readerOffset(cpu, visitor);
      if (off === WORDS_REPAIRED) continue;
      if (off === CPU_GIVEN_UP) return false;
      if (off !== READ_ABANDONED) {
        const page = this.view.pageAt(cpu, i32[(c + C_READER_PHYS) >> 2]!);
        let end = this.knownEnd[cpu]!;
        let closed = false;
        if (off >= end) {
          const commit = this.loadCommit(cpu, page, visitor);
          if (commit < 0) continue;
          end = commit & COMMIT_OFFSET_MASK;
          closed = (commit & COMMIT_CLOSED) !== 0;
          this.knownEnd[cpu] = end;
          // Read once per commit load, not per record: the word sits on the writer's hot line.
          // The writer stored it before the commit we just loaded, so it bounds every record below end.
          this.tsBound[cpu] = this.f64[(c + C_LAST_TS) >> 3]!;
        }
        if (off < end) {
          const found = this.decode(cpu, page, off, end, visitor);
          if (found) return true;
          if (i32[(c + C_READ_OFFSET) >> 2] === READ_ABANDONED) continue;
          off = end;
          // Decoding consumed padding up to end; recheck commit to learn whether the page is closed.
          const commit = Atomics.load(i32, (page + P_COMMIT) >> 2);
          closed = (commit & COMMIT_CLOSED) !== 0 && (commit & COMMIT_OFFSET_MASK) === end;
        }
        if (!closed) return false;
      }
      if (!this.swap(cpu, whole, visitor)) return false;
    }
    return false;
  }

  /**
   * The reader's offset in its page, after checking its own words before they index
   * memory (only damage breaks them): an offset, READ_ABANDONED, WORDS_REPAIRED (look
   * again) or CPU_GIVEN_UP.
   */
  private readerOffset(cpu: number, visitor: LossVisitor): number {
    const i32 = this.i32;
    const c = this.ctl[cpu]!;
    if (this.disabled[cpu] !== 0) return CPU_GIVEN_UP;
    const phys = i32[(c + C_READER_PHYS) >> 2]!;
    if ((phys >>> 0) > this.pages) return this.repairReaderPage(cpu, phys, visitor) ? WORDS_REPAIRED : CPU_GIVEN_UP;
    const off = i32[(c + C_READ_OFFSET) >> 2]!;
    if (off !== READ_ABANDONED && !(off >= PAGE_HEADER_BYTES && off <= this.pageBytes)) {
      this.abandon(cpu, -1, `the reader's offset ${off} is outside the page`, visitor);
      return WORDS_REPAIRED;
    }
    return off;
  }

  /** The commit word of the reader's page, checked; -1 when it is damaged (the page is abandoned). */
  private loadCommit(cpu: number, page: number, visitor: LossVisitor): number {
    // Pairs with the writer's Atomics.store of commit in publishCommit().
    const commit = Atomics.load(this.i32, (page + P_COMMIT) >> 2);
    const end = commit & COMMIT_OFFSET_MASK;
    if ((commit & ~(COMMIT_OFFSET_MASK | COMMIT_CLOSED)) !== 0 || end > this.pageBytes || end < PAGE_HEADER_BYTES) {
      this.abandon(cpu, P_COMMIT, `commit word 0x${(commit >>> 0).toString(16)} is out of range`, visitor);
      return -1;
    }
    return commit;
  }

  /**
   * Hands committed bytes of every CPU's pages to `visitor.chunk` as they are, without
   * decoding a record: the drain's path out of the ring. Pages are taken out of the ring
   * as `read()` takes them (so losses and damage are found and reported the same way);
   * records are only framed, to count them and to find damage. Use either `read()` or
   * `copy()` on one reader, not both. Returns the events copied.
   */
  copy(visitor: PageCopyVisitor, options?: CopyOptions): number {
    if (this.closed) throw new Error('copy() on a closed reader');
    const whole = options?.wholePages === true;
    let events = 0;
    for (let cpu = 0; cpu < this.cpus; cpu++) {
      if (this.stashRecord[cpu]! >= 0) throw new Error('copy() on a reader that read() is in the middle of a page; use one or the other');
      events += this.copyCpu(cpu, whole, visitor);
    }
    return events;
  }

  private copyCpu(cpu: number, whole: boolean, visitor: PageCopyVisitor): number {
    const i32 = this.i32;
    const f64 = this.f64;
    const c = this.ctl[cpu]!;
    let events = 0;
    for (let guard = 0; guard < this.pages + PAGE_LOOP_SLACK; guard++) {
      const off = this.readerOffset(cpu, visitor);
      if (off === WORDS_REPAIRED) continue;
      if (off === CPU_GIVEN_UP) break;
      if (off !== READ_ABANDONED) {
        const page = this.view.pageAt(cpu, i32[(c + C_READER_PHYS) >> 2]!);
        const commit = this.loadCommit(cpu, page, visitor);
        if (commit < 0) continue;
        const end = commit & COMMIT_OFFSET_MASK;
        if (off < end) {
          const firstIndex = f64[(c + C_NEXT_INDEX) >> 3]!;
          const stop = this.frame(cpu, page, off, end, visitor);
          const n = this.copiedEvents;
          if (stop > off) visitor.chunk(cpu, f64[(c + C_READ_SEQ) >> 3]! - 1, page, off, stop, firstIndex, n, f64[(c + C_NEXT_INDEX) >> 3]! - firstIndex);
          events += n;
          f64[(c + C_READ) >> 3]! += n;
          if (stop < end) continue; // abandoned at the damage; the next page is taken below
          i32[(c + C_READ_OFFSET) >> 2] = end;
        }
        if ((commit & COMMIT_CLOSED) === 0) break;
      }
      if (!this.swap(cpu, whole, visitor)) break;
    }
    return events;
  }

  /**
   * Frames the records from off to end: counts them (into copiedEvents), advances the
   * next index past them and past padding. Returns where it stopped: end, or the damaged
   * record's offset (the page is then abandoned and reported).
   */
  private frame(cpu: number, page: number, off: number, end: number, visitor: PageCopyVisitor): number {
    const i32 = this.i32;
    const f64 = this.f64;
    const c = this.ctl[cpu]!;
    const maxPayload = this.maxPayload;
    let events = 0;
    let padding = 0;
    while (off < end) {
      const header = i32[(page + off) >> 2]!;
      const bytes = frameBytes(header, off, end, maxPayload);
      if (bytes < 0) {
        f64[(c + C_NEXT_INDEX) >> 3]! += events + padding;
        f64[(c + C_DISCARDED) >> 3]! += padding;
        this.copiedEvents = events;
        this.abandon(cpu, off, frameDamageReason(bytes, header, off, end, maxPayload), visitor);
        return off;
      }
      if (headerKind(header) === RecordKind.padding) padding++;
      else events++;
      off += bytes;
    }
    f64[(c + C_NEXT_INDEX) >> 3]! += events + padding;
    f64[(c + C_DISCARDED) >> 3]! += padding;
    this.copiedEvents = events;
    return end;
  }

  /** Decodes from off; stashes the first data record. Padding is counted and skipped. */
  private decode(cpu: number, page: number, off: number, end: number, visitor: ReadVisitor): boolean {
    const i32 = this.i32;
    const f64 = this.f64;
    const c = this.ctl[cpu]!;
    const maxPayload = this.maxPayload;
    while (off < end) {
      const w = (page + off) >> 2;
      const header = i32[w]!;
      const bytes = frameBytes(header, off, end, maxPayload);
      if (bytes < 0) {
        this.abandon(cpu, off, frameDamageReason(bytes, header, off, end, maxPayload), visitor);
        return false;
      }
      if (headerKind(header) === RecordKind.padding) {
        off += bytes;
        i32[(c + C_READ_OFFSET) >> 2] = off;
        f64[(c + C_NEXT_INDEX) >> 3]! += 1;
        f64[(c + C_DISCARDED) >> 3]! += 1;
        continue;
      }
      const ts = recordTimestamp(i32, page + off, f64[(page + P_BASE_TS) >> 3]!);
      // A CPU's timestamps never decrease, and none is later than the writer's last one
      // (its store happens before the commit we loaded).
      if (!(ts >= f64[(c + C_LAST_READ_TS) >> 3]! && ts <= this.tsBound[cpu]!)) {
        this.abandon(cpu, off, `timestamp ${ts} is out of order`, visitor);
        return false;
      }
      this.stashRecord[cpu] = page + off;
      this.stashEnd[cpu] = off + bytes;
      this.stashTs[cpu] = ts;
      return true;
    }
    return false;
  }

  /**
   * Takes the next page out of the CPU's ring in exchange for the finished one.
   * Returns false when there is no page to take yet.
   */
  private swap(cpu: number, whole: boolean, visitor: LossVisitor): boolean {
    const i32 = this.i32;
    const f64 = this.f64;
    const c = this.ctl[cpu]!;
    const pages = this.pages;
    const slots = this.view.slotBase(cpu) >> 2;
    let readSeq = f64[(c + C_READ_SEQ) >> 3]!;
    if (!(Number.isSafeInteger(readSeq) && readSeq >= 0)) {
      readSeq = this.repairReadSeq(cpu, readSeq, visitor);
      if (readSeq < 0) return false;
    }
    let seq = readSeq;
    for (let tries = 0; tries < 2 * pages + PAGE_LOOP_SLACK; tries++) {
      // Pairs with the writer's Atomics.store of the published tail after opening a page.
      // Reloaded each try: a writer that laps us while we look moves the window on.
      const tail = Atomics.load(i32, (c + C_PUBLISHED_TAIL) >> 2);
      let ahead = (tail - (seq | 0)) | 0;
      // Pages older than tail - N + 1 cannot be in the ring any more.
      if (ahead >= pages) {
        seq += ahead - pages + 1;
        ahead = pages - 1;
      }
      if (ahead < 0 || (ahead === 0 && whole)) break;
      const si = slots + (seq % pages);
      const word = Atomics.load(i32, si);
      const phys = slotPhys(word);
      const tag = slotTag(word);
      if (tag === tagOf(seq) && phys <= pages) {
        const spare = i32[(c + C_READER_PHYS) >> 2]!;
        // Pairs with the overwriting writer's compareExchange on this slot: one of us owns page seq.
        if (Atomics.compareExchange(i32, si, word, slotWord(seq + pages, spare)) === word) {
          // The slot now holds a free page. Pairs with the blocked writer's Atomics.store of
          // the flag before it looks at the slot: it sees the free page, or we see the flag.
          if (this.block && Atomics.load(i32, (c + C_BLOCK_WAITING) >> 2) !== 0) {
            // Changes the word the writer waits on (so a wait that starts late returns at once); pairs with its Atomics.wait.
            Atomics.add(i32, (c + C_PAGE_FREED) >> 2, 1);
            Atomics.notify(i32, (c + C_PAGE_FREED) >> 2);
          }
          this.adopt(cpu, seq, phys, visitor);
          return true;
        }
        continue; // the writer took page seq this instant; look at the slot again
      }
      // An overwritten slot is tagged seq + kN (k >= 1: the writer may have lapped us more
      // than once since we loaded the tail). Anything else, and any gap in discard mode, where
      // pages never vanish, is damage.
      const lap = (tag - tagOf(seq) + TAG_MODULUS) % TAG_MODULUS;
      if (!(this.overwrite && lap > 0 && lap % pages === 0 && lap < TAG_MODULUS / 2 && phys <= pages)) {
        this.report(visitor, cpu, seq, -1, `slot word 0x${(word >>> 0).toString(16)} does not hold page ${seq}`);
        this.markAbandoned(cpu, -1);
      }
      seq++;
    }
    if (seq !== readSeq) f64[(c + C_READ_SEQ) >> 3] = seq;
    return false;
  }

  /** The page is ours now: check its header and account for what came before it. */
  private adopt(cpu: number, seq: number, phys: number, visitor: LossVisitor): void {
    const i32 = this.i32;
    const f64 = this.f64;
    const c = this.ctl[cpu]!;
    const page = this.view.pageAt(cpu, phys);
    i32[(c + C_READER_PHYS) >> 2] = phys;
    f64[(c + C_READ_SEQ) >> 3] = seq + 1;
    i32[(c + C_READ_OFFSET) >> 2] = PAGE_HEADER_BYTES;
    this.knownEnd[cpu] = PAGE_HEADER_BYTES;
    if (i32[(page + P_SEQ) >> 2] !== (seq | 0)) {
      this.abandon(cpu, P_SEQ, `page header names seq ${i32[(page + P_SEQ) >> 2]}, slot names ${seq | 0}`, visitor);
      return;
    }
    if (i32[(page + P_CHECK) >> 2] !== pageHeaderCheck(f64, i32, page)) {
      this.abandon(cpu, P_CHECK, 'page header check word does not match its fields', visitor);
      return;
    }
    // The checked base timestamp bounds this page's records from below and every earlier
    // record from above, so it replaces the last timestamp read: one damaged record that
    // slipped through with too late a time cannot poison the pages after it.
    f64[(c + C_LAST_READ_TS) >> 3] = f64[(page + P_BASE_TS) >> 3]!;
    const first = f64[(page + P_FIRST_ENTRY) >> 3]!;
    let next = f64[(c + C_NEXT_INDEX) >> 3]!;
    if (!(Number.isSafeInteger(next) && next >= 0 && next <= f64[(c + C_ENTRIES) >> 3]!) && Number.isSafeInteger(first) && first >= 0) {
      // Our own index is damaged: take this page's word for where we are (the gap is unknown).
      this.report(visitor, cpu, seq, -1, `the reader's next index ${next} is impossible; resuming at this page's first entry ${first}`);
      next = first;
      f64[(c + C_NEXT_INDEX) >> 3] = first;
    }
    if (!(Number.isSafeInteger(first) && first >= next && first <= f64[(c + C_ENTRIES) >> 3]!)) {
      this.abandon(cpu, P_FIRST_ENTRY, `first entry ${first} is outside ${next}..${f64[(c + C_ENTRIES) >> 3]}`, visitor);
      return;
    }
    if (first > next) {
      // After damage, the events the damaged pages held are lost to corruption; in overwrite
      // mode the rest of the gap was overwritten (and counted as overrun by the writer).
      // Where the damaged page's end is unknown, the whole gap is put down to damage.
      let damaged = 0;
      if (i32[(c + C_ABANDONED) >> 2] === 1 || !this.overwrite) {
        const end = f64[(c + C_ABANDON_END) >> 3]!;
        damaged = this.overwrite && Number.isSafeInteger(end) && end >= next ? Math.min(first, end) - next : first - next;
      }
      if (damaged > 0) {
        f64[(c + C_LOST_CORRUPT) >> 3]! += damaged;
        visitor.lost?.({ cpu, count: damaged, cause: 'corrupt', beforeIndex: next + damaged });
      }
      if (first - next > damaged) {
        visitor.lost?.({ cpu, count: first - next - damaged, cause: 'overrun', beforeIndex: first });
      }
      f64[(c + C_NEXT_INDEX) >> 3] = first;
    }
    i32[(c + C_ABANDONED) >> 2] = 0;
    if (!this.dropCountsSound(cpu, seq, visitor)) return;
    const droppedBefore = f64[(page + P_DROPPED_BEFORE) >> 3]!;
    const reported = f64[(c + C_DROPPED_REPORTED) >> 3]!;
    // (The header check word covers this count. One below what was reported is sound: a
    // drain() while the writer ran announced drops past this page's start already.)
    if (!(isCount(droppedBefore) && droppedBefore <= f64[(c + C_DROPPED) >> 3]!)) {
      this.report(visitor, cpu, seq, P_DROPPED_BEFORE, `dropped-before count ${droppedBefore} is impossible`);
    } else if (droppedBefore > reported) {
      f64[(c + C_DROPPED_REPORTED) >> 3] = droppedBefore;
      visitor.lost?.({ cpu, count: droppedBefore - reported, cause: 'dropped', beforeIndex: first });
    }
  }

  /** Reports damage and skips the rest of the page. */
  private abandon(cpu: number, offset: number, reason: string, visitor: LossVisitor): void {
    const c = this.ctl[cpu]!;
    const page = this.view.pageAt(cpu, this.i32[(c + C_READER_PHYS) >> 2]!);
    this.i32[(c + C_READ_OFFSET) >> 2] = READ_ABANDONED;
    this.knownEnd[cpu] = 0;
    // If the page's header is sound and the page closed, its entry count says where its
    // events end, so a later gap can be split into damage and overrun exactly.
    const i32 = this.i32;
    const sound =
      i32[(page + P_SEQ) >> 2] === ((this.f64[(c + C_READ_SEQ) >> 3]! - 1) | 0) &&
      i32[(page + P_CHECK) >> 2] === pageHeaderCheck(this.f64, i32, page) &&
      (Atomics.load(i32, (page + P_COMMIT) >> 2) & COMMIT_CLOSED) !== 0;
    this.markAbandoned(cpu, sound ? this.f64[(page + P_FIRST_ENTRY) >> 3]! + i32[(page + P_ENTRIES) >> 2]! : -1);
    this.report(visitor, cpu, this.f64[(c + C_READ_SEQ) >> 3]! - 1, offset, reason);
  }

  /**
   * The reader's page index is out of range. Its page is the one physical page no slot
   * names (the reader swaps its page with a slot's, so exactly one is missing from the
   * table); take that one and skip it. If the slot table does not say, give the CPU up.
   */
  private repairReaderPage(cpu: number, phys: number, visitor: LossVisitor): boolean {
    const seen = this.physSeen.fill(0);
    const slots = this.view.slotBase(cpu) >> 2;
    for (let s = 0; s < this.pages; s++) {
      const p = slotPhys(Atomics.load(this.i32, slots + s));
      if (p <= this.pages && seen[p]! < 255) seen[p]!++;
    }
    let missing = -1;
    let unnamed = 0;
    for (let p = 0; p <= this.pages; p++) {
      if (seen[p] === 0) {
        missing = p;
        unnamed++;
      }
    }
    if (unnamed !== 1) {
      this.disable(cpu, `the reader's page index ${phys} is out of range and the slot table does not tell which page is the reader's`, visitor);
      return false;
    }
    const c = this.ctl[cpu]!;
    this.i32[(c + C_READER_PHYS) >> 2] = missing;
    this.i32[(c + C_READ_OFFSET) >> 2] = READ_ABANDONED;
    this.knownEnd[cpu] = 0;
    this.markAbandoned(cpu, -1);
    this.report(visitor, cpu, -1, -1, `the reader's page index ${phys} is out of range; took page ${missing}, the one no slot names, and skipped it`);
    return true;
  }

  /** The reader's page seq is damaged: resume at the oldest page the ring can still hold. */
  private repairReadSeq(cpu: number, readSeq: number, visitor: LossVisitor): number {
    const c = this.ctl[cpu]!;
    const tail = this.f64[(c + C_TAIL_SEQ) >> 3]!;
    if (!(Number.isSafeInteger(tail) && tail >= 0)) {
      this.disable(cpu, `the reader's page seq ${readSeq} and the writer's tail seq ${tail} are both damaged`, visitor);
      return -1;
    }
    const seq = Math.max(0, tail - this.pages + 1);
    this.f64[(c + C_READ_SEQ) >> 3] = seq;
    this.markAbandoned(cpu, -1);
    this.report(visitor, cpu, -1, -1, `the reader's page seq ${readSeq} is impossible; resuming at page ${seq}, the oldest the ring can hold`);
    return seq;
  }

  /** Gives a CPU up for good: reported once; its events are no longer read. */
  private disable(cpu: number, reason: string, visitor: LossVisitor): void {
    this.disabled[cpu] = 1;
    this.report(visitor, cpu, -1, -1, `${reason}: this CPU is no longer read`);
  }

  /** Remembers that the stream was damaged here, and where the damaged events end if known (else -1). */
  private markAbandoned(cpu: number, end: number): void {
    const c = this.ctl[cpu]!;
    this.i32[(c + C_ABANDONED) >> 2] = 1;
    this.f64[(c + C_ABANDON_END) >> 3] = end;
  }

  private report(visitor: LossVisitor, cpu: number, pageSeq: number, offset: number, reason: string): void {
    this.f64[(this.ctl[cpu]! + C_CORRUPT) >> 3]! += 1;
    visitor.corrupt?.({ cpu, pageSeq, offset, reason });
  }
}
