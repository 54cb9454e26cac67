/**
 * The byte map of a ring buffer's SharedArrayBuffer. This module owns the layout:
 * every other file uses these names, never a bare offset.
 *
 * ```
 * 0                 global header (256 bytes)
 * 256               cpu 0: control block (256) | slot table (N x i32, padded to 64) | N+1 pages
 * 256 + stride      cpu 1: ...
 * ```
 *
 * Global header. Written once by the creator before the buffer is shared, except the
 * clock words.
 *
 * | off | width | word            | written by                   | read by      | published by                     |
 * |-----|-------|-----------------|------------------------------|--------------|----------------------------------|
 * | 0   | u32   | magic           | creator                      | attach       | postMessage of the SAB           |
 * | 4   | u32   | layout version  | creator                      | attach       | "                                |
 * | 8   | u32   | cpu count       | creator                      | all          | "                                |
 * | 12  | u32   | pages per cpu N | creator                      | all          | "                                |
 * | 16  | u32   | page bytes      | creator                      | all          | "                                |
 * | 20  | u32   | max payload     | creator                      | all          | "                                |
 * | 24  | u32   | mode            | creator                      | all          | "                                |
 * | 28  | u32   | clock           | creator                      | all          | "                                |
 * | 32  | u32   | cpu stride      | creator                      | all          | "                                |
 * | 36  | u32   | total bytes     | creator                      | attach       | "                                |
 * | 40  | i32   | reader owner    | reader (claim/release)       | reader       | Atomics.compareExchange          |
 * | 44  | u32   | block timeout ms| creator                      | writers      | postMessage of the SAB           |
 * | 48  | f64   | hrtime origin   | creator                      | hrtime clock | postMessage of the SAB           |
 * | 64  | i32   | counter low     | every writer (counter clock) | writers      | Atomics.add                      |
 * | 128 | i32   | epoch, low half | counter clock, once per 2^32 | writers      | Atomics.store + Atomics.add(,0)  |
 * | 132 | i32   | epoch, up half  | counter clock, once per 2^32 | writers      | Atomics.store + Atomics.add(,0)  |
 * | 192 | i32   | coarse us, low  | coarse ticker thread         | writers      | Atomics.store / Atomics.load     |
 * | 196 | i32   | coarse epoch lo | coarse ticker thread         | writers      | before the low word's store      |
 * | 200 | i32   | coarse epoch hi | coarse ticker thread         | writers      | before the low word's store      |
 * | 204 | i32   | coarse stop     | RingBuffer.close()           | ticker       | Atomics.store + Atomics.notify   |
 * | 208 | i32   | coarse period us| creator                      | ticker       | posting the SAB                  |
 *
 * The counter word sits alone on its cache line (64..127): every writer on every CPU
 * bounces it. The epoch words are read-mostly and live on the next line. The block
 * timeout is 0 unless the mode is `block`; a writer in block mode reads the reader owner
 * before it waits, to refuse waiting on the thread that would have to wake it.
 */

export const MAGIC = 0x52545242; // "RTRB"
export const LAYOUT_VERSION = 1;

export const CACHE_LINE = 64;
export const GLOBAL_HEADER_BYTES = 256;

// Global header, byte offsets.
export const G_MAGIC = 0;
export const G_VERSION = 4;
export const G_CPU_COUNT = 8;
export const G_PAGES_PER_CPU = 12;
export const G_PAGE_BYTES = 16;
export const G_MAX_PAYLOAD = 20;
export const G_MODE = 24;
export const G_CLOCK = 28;
export const G_CPU_STRIDE = 32;
export const G_TOTAL_BYTES = 36;
export const G_READER_OWNER = 40;
export const G_BLOCK_TIMEOUT_MS = 44;
export const G_HRTIME_ORIGIN = 48;
export const G_COUNTER = 64;
export const G_EPOCH_LOW = 128;
export const G_EPOCH_HIGH = 132;
export const G_COARSE_US = 192;
export const G_COARSE_EPOCH_LOW = 196;
export const G_COARSE_EPOCH_HIGH = 200;
export const G_COARSE_STOP = 204;
export const G_COARSE_PERIOD_US = 208;

/**
 * Per-CPU control block, byte offsets from the CPU region's start. Four cache lines:
 * the writer's private words, the words the writer publishes, the reader's words,
 * and the writer's loss counters (rarely written, read by stats).
 *
 * | off | width | word                | written by   | read by             | how                                 |
 * |-----|-------|---------------------|--------------|---------------------|-------------------------------------|
 * | 0   | f64   | tail seq            | writer       | writer              | plain (same thread only)            |
 * | 8   | f64   | commit seq          | writer       | writer              | plain                               |
 * | 16  | f64   | last timestamp      | writer       | writer, stats       | plain                               |
 * | 24  | i32   | tail phys           | writer       | writer              | plain                               |
 * | 28  | i32   | write (tail offset) | writer       | writer              | plain                               |
 * | 32  | i32   | committing (depth)  | writer       | writer              | plain                               |
 * | 36  | i32   | commit phys         | writer       | writer              | plain                               |
 * | 40  | i32   | committed offset    | writer       | writer              | plain                               |
 * | 44  | i32   | max nesting (>= 2)  | writer       | stats               | plain (racy getter)                 |
 * | 48  | f64   | entries (reserved)  | writer       | writer, stats       | plain (racy getter)                 |
 * | 56  | f64   | (unused)            |              |                     |                                     |
 * | 64  | i32   | published tail seq  | writer       | reader              | Atomics.store / Atomics.load        |
 * | 68  | i32   | writer owner        | writer claim | writer claim        | Atomics.compareExchange             |
 * | 72  | f64   | bytes of left pages | writer       | stats               | plain (racy getter)                 |
 * | 80  | i32   | block waiting       | writer       | reader (each swap)  | Atomics.store / Atomics.load        |
 * | 88  | f64   | blocked (writes)    | writer       | stats               | plain (racy getter)                 |
 * | 96  | f64   | blocked ms          | writer       | stats               | plain (racy getter)                 |
 * | 128 | f64   | read seq            | reader       | reader, snapshot    | plain                               |
 * | 136 | f64   | next index          | reader       | reader              | plain                               |
 * | 144 | f64   | read (events)       | reader       | stats               | plain (racy getter)                 |
 * | 152 | f64   | discarded seen      | reader       | stats               | plain                               |
 * | 160 | f64   | dropped reported    | reader       | reader              | plain                               |
 * | 168 | f64   | corrupt reports     | reader       | stats               | plain                               |
 * | 176 | f64   | last read timestamp | reader       | reader              | plain                               |
 * | 184 | i32   | reader phys         | reader       | reader, snapshot    | plain                               |
 * | 188 | i32   | read offset         | reader       | reader, snapshot    | plain                               |
 * | 192 | f64   | dropped             | writer       | reader, stats       | plain (racy getter)                 |
 * | 200 | f64   | overrun             | writer       | stats               | plain (racy getter)                 |
 * | 208 | f64   | commit overrun      | writer       | stats               | plain (racy getter)                 |
 * | 216 | f64   | writer corrupt      | writer       | stats               | plain (racy getter)                 |
 * | 224 | f64   | lost to corruption  | reader       | stats               | plain (racy getter)                 |
 * | 232 | i32   | last page abandoned | reader       | reader              | plain                               |
 * | 236 | i32   | page freed          | reader       | writer (blocked)    | Atomics.add + Atomics.notify        |
 * | 240 | f64   | abandoned page end  | reader       | reader              | plain                               |
 * | 248 | f64   | release gave up     | writer       | stats               | plain (racy getter)                 |
 *
 * Block mode (docs/DESIGN.md, "Back-pressure"): a writer that finds no free page sets
 * `block waiting`, re-checks the slot, and `Atomics.wait`s on `page freed`; the reader,
 * after each page it swaps out, loads `block waiting` (a line it has just read the
 * published tail from) and only when it is set bumps and notifies `page freed`. The
 * waiting flag is the writer's and sits on its published line; `page freed` is the
 * reader's and sits on the rarely written line, which the reader touches only while a
 * writer sleeps, so neither side's common path writes a line the other reads.
 *
 * Sequence numbers (page seqs) are exact integers held in f64 words; only their low 32
 * bits are published (published tail, page header seq) and compared modulo 2^32.
 */
export const CONTROL_BYTES = 256;
export const C_TAIL_SEQ = 0;
export const C_COMMIT_SEQ = 8;
export const C_LAST_TS = 16;
export const C_TAIL_PHYS = 24;
export const C_WRITE = 28;
export const C_COMMITTING = 32;
export const C_COMMIT_PHYS = 36;
export const C_COMMITTED = 40;
export const C_MAX_NESTING = 44;
export const C_ENTRIES = 48;
export const C_PUBLISHED_TAIL = 64;
export const C_WRITER_OWNER = 68;
export const C_BYTES = 72;
export const C_BLOCK_WAITING = 80;
export const C_BLOCKED = 88;
export const C_BLOCKED_MS = 96;
export const C_READ_SEQ = 128;
export const C_NEXT_INDEX = 136;
export const C_READ = 144;
export const C_DISCARDED = 152;
export const C_DROPPED_REPORTED = 160;
export const C_CORRUPT = 168;
export const C_LAST_READ_TS = 176;
export const C_READER_PHYS = 184;
export const C_READ_OFFSET = 188;
export const C_DROPPED = 192;
export const C_OVERRUN = 200;
export const C_COMMIT_OVERRUN = 208;
export const C_WRITER_CORRUPT = 216;
export const C_LOST_CORRUPT = 224;
export const C_ABANDONED = 232;
export const C_PAGE_FREED = 236;
export const C_ABANDON_END = 240;
export const C_RELEASE_GAVE_UP = 248;

/** Reader's read offset while it skips a damaged page. */
export const READ_ABANDONED = -1;

/**
 * Slot table: N i32 words after the control block. Slot `s % N` holds the physical
 * page currently standing for page seq `s`, and a tag naming that seq:
 * `word = (seq mod 2^TAG_BITS) << PHYS_BITS | phys`.
 *
 * - tag == seq(s): page of seq s (being written, written, or free for the writer to open).
 * - Exactly two parties change a slot, both with Atomics.compareExchange from the same
 *   expected word: the reader swapping the page out (it puts its spare page there, tagged
 *   s + N), and an overwriting writer pushing the reader back (same phys, tagged s + N).
 *   Whoever wins owns page s; see docs/DESIGN.md, invariant I3.
 */
export const PHYS_BITS = 13;
export const PHYS_MASK = (1 << PHYS_BITS) - 1;
export const TAG_BITS = 32 - PHYS_BITS;
export const TAG_MODULUS = 2 ** TAG_BITS;

export function tagOf(seq: number): number {
  return seq % TAG_MODULUS;
}

export function slotWord(seq: number, phys: number): number {
  return ((tagOf(seq) << PHYS_BITS) | phys) | 0;
}

export function slotTag(word: number): number {
  return word >>> PHYS_BITS;
}

export function slotPhys(word: number): number {
  return word & PHYS_MASK;
}

/**
 * Page header, byte offsets from the page's start. Data starts at PAGE_HEADER_BYTES.
 *
 * | off | width | word           | written by                 | read by           | how                         |
 * |-----|-------|----------------|----------------------------|-------------------|-----------------------------|
 * | 0   | i32   | seq (low 32)   | writer, when opening page  | reader (validate) | before publishing tail      |
 * | 4   | i32   | commit         | writer (outermost commit)  | reader, snapshot  | Atomics.store / Atomics.load|
 * | 8   | i32   | entries        | writer                     | writer (overrun)  | plain                       |
 * | 12  | i32   | next phys      | writer (tail move)         | writer (commit)   | plain                       |
 * | 16  | i32   | size (data end)| writer (page full)         | writer (commit)   | plain                       |
 * | 20  | i32   | header check   | writer, when opening page  | reader (validate) | before publishing tail      |
 * | 24  | f64   | first entry    | writer, when opening page  | reader (losses)   | before publishing tail      |
 * | 32  | f64   | base timestamp | writer, when opening page  | reader (decode)   | before publishing tail      |
 * | 40  | f64   | dropped before | writer, when opening page  | reader (losses)   | before publishing tail      |
 *
 * commit = committed data end (bytes from page start) | COMMIT_CLOSED once the commit has
 * moved past the page (no write into it is pending or possible).
 */
export const PAGE_HEADER_BYTES = 64;
export const P_SEQ = 0;
export const P_COMMIT = 4;
export const P_ENTRIES = 8;
export const P_NEXT = 12;
/** P_NEXT of the tail page: the page after it is not known yet. */
export const NEXT_UNKNOWN = -1;
/** P_NEXT of a page S1 has opened before S2 moved the tail onto it (S1 is done for its seq). */
export const NEXT_OPENED = -2;
export const P_SIZE = 16;
export const P_CHECK = 20;
export const P_FIRST_ENTRY = 24;
export const P_BASE_TS = 32;
export const P_DROPPED_BEFORE = 40;
export const COMMIT_CLOSED = 0x40000000;
export const COMMIT_OFFSET_MASK = COMMIT_CLOSED - 1;

/**
 * Check word over the fields a page header gets when it is opened (seq, first entry,
 * base timestamp, dropped before), so the reader can tell a damaged header from a
 * legitimate gap. Computed once per page.
 */
export function pageHeaderCheck(f64: Float64Array, i32: Int32Array, page: number): number {
  let h = Math.imul(i32[(page + P_SEQ) >> 2]! ^ 0x5bd1e995, 0x9e3779b1);
  for (let w = (page + P_FIRST_ENTRY) >> 2; w < (page + P_DROPPED_BEFORE + 8) >> 2; w++) {
    h = Math.imul(h ^ i32[w]!, 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h | 0;
}

/** The write offset of a tail page that has no room left (greater than any page size). */
export const WRITE_FULL = 0x20000000;

export const MIN_PAGE_BYTES = 256;
export const MAX_PAGE_BYTES = 1 << 20;
export const MIN_PAGES_PER_CPU = 2;
export const MAX_PAGES_PER_CPU = 4096; // N + 1 physical pages must fit PHYS_BITS
export const MAX_CPUS = 256;

export interface RingGeometry {
  readonly cpuCount: number;
  readonly pagesPerCpu: number;
  readonly pageBytes: number;
  readonly slotBytes: number;
  readonly cpuStride: number;
  readonly totalBytes: number;
}

export function geometry(cpuCount: number, pagesPerCpu: number, pageBytes: number): RingGeometry {
  const slotBytes = Math.ceil((pagesPerCpu * 4) / CACHE_LINE) * CACHE_LINE;
  const cpuStride = CONTROL_BYTES + slotBytes + (pagesPerCpu + 1) * pageBytes;
  return {
    cpuCount,
    pagesPerCpu,
    pageBytes,
    slotBytes,
    cpuStride,
    totalBytes: GLOBAL_HEADER_BYTES + cpuCount * cpuStride,
  };
}

/** Byte offset of a CPU's region. */
export function cpuBase(g: RingGeometry, cpu: number): number {
  return GLOBAL_HEADER_BYTES + cpu * g.cpuStride;
}

/** Byte offset of a CPU's slot table. */
export function slotTableBase(g: RingGeometry, cpu: number): number {
  return cpuBase(g, cpu) + CONTROL_BYTES;
}

/** Byte offset of a CPU's physical page 0. */
export function pagesBase(g: RingGeometry, cpu: number): number {
  return cpuBase(g, cpu) + CONTROL_BYTES + g.slotBytes;
}

/**
 * What a writer does when its ring has no free page: `overwrite` takes the oldest page
 * (its events are lost), `discard` drops the new event, `block` waits for the reader to
 * free a page, at most the block timeout, then drops the event as `discard` does.
 */
export const Mode = { overwrite: 1, discard: 2, block: 3 } as const;
export type ModeName = keyof typeof Mode;
export const ClockKind = { hrtime: 1, counter: 2, coarse: 3 } as const;
export type ClockName = keyof typeof ClockKind;
