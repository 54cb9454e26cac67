import { readFileSync } from 'node:fs';
import { RecordKind, frameBytes, frameDamageReason, headerKind, headerLength, headerType, recordTimestamp } from '../ring/record.js';
import { ClockKind, MAX_CPUS, MAX_PAGE_BYTES, MIN_PAGE_BYTES, Mode, PAGE_HEADER_BYTES, P_BASE_TS, P_CHECK, P_FIRST_ENTRY, P_SEQ, pageHeaderCheck, type ClockName, type ModeName } from '../ring/layout.js';
import { EventView, type ReadVisitor } from '../ring/reader.js';
import {
  CHUNK_FIXED_BYTES,
  CORRUPT_FIXED_BYTES,
  END_COUNTERS,
  K_CHECK,
  K_CPU,
  K_EVENTS,
  K_FIRST_INDEX,
  K_FROM,
  K_HEADER,
  K_PAGE_SEQ,
  K_RECORDS,
  K_TO,
  LOST_BYTES,
  L_CHECK,
  NO_CPU,
  RECORD_HEAD_BYTES,
  RESUME_BYTES,
  R_CHECK,
  R_NEXT_INDEX,
  R_OFFSET,
  R_PAGE_SEQ,
  RecordType,
  SEGMENT_FIXED_BYTES,
  S_CLOCK,
  S_CPUS,
  S_EPOCH_MS,
  S_MAX_PAYLOAD,
  S_MODE,
  S_ORIGIN_NS,
  S_PAGE_BYTES,
  S_VERSION,
  TRACE_MAGIC,
  TRACE_VERSION,
  fieldsCheck,
  lossCauses,
  type SegmentInfo,
} from './trace-file.js';

/** A page header copied out of a chunk record, aligned for its f64 words. */
class HeaderScratch {
  readonly u8 = new Uint8Array(PAGE_HEADER_BYTES);
  readonly i32 = new Int32Array(this.u8.buffer);
  readonly f64 = new Float64Array(this.u8.buffer);

  /** Copies the page header of the chunk whose body starts at `body`; true if it matches its check word. */
  load(f: Buffer, body: number): boolean {
    this.u8.set(f.subarray(body + K_HEADER, body + K_HEADER + PAGE_HEADER_BYTES));
    return this.i32[P_CHECK >> 2] === pageHeaderCheck(this.f64, this.i32, 0);
  }
}

/** One run's part of a trace file. */
export interface TraceSegment {
  readonly info: SegmentInfo;
  /** Event type -> the producer's schema JSON, as the file carries them. */
  readonly schemas: ReadonlyMap<number, string>;
  /** The ring's counters per CPU when the drain stopped (`END_COUNTERS` order), or null if the segment has no end record (cut off). */
  readonly end: readonly (readonly number[])[] | null;
  /** Where the segment record starts in the file. */
  readonly at: number;
}

export interface TraceVisitor extends ReadVisitor {
  /** Called before the first event of each segment. */
  segment?(segment: TraceSegment, index: number): void;
}

export interface TraceReadTotals {
  events: number;
  lost: number;
  corrupt: number;
}

interface SegmentItems {
  readonly segment: TraceSegment;
  /** Per CPU, the byte offsets of its chunk, lost and corrupt records, in file order. */
  readonly items: number[][];
}

/** The scan pass: damage found in the file's framing, reported when the read reaches it. */
interface FileDamage {
  readonly at: number;
  readonly reason: string;
}

/**
 * Reads a trace file. Damage never throws and never hangs (only a file that is not a trace
 * file at all throws, TypeError): a record that does not parse is reported as `corrupt`
 * with its byte offset, and every event the reader has to skip is announced as `lost`
 * (cause `corrupt`) where it would have been. Events of each segment come merged across
 * CPUs by timestamp, each CPU's in its own order, with the losses the drain found where it
 * found them, exactly as `RingReader.read` delivers them from the live ring.
 */
export class TraceFileReader {
  readonly path: string;
  readonly segments: TraceSegment[] = [];
  private readonly file: Buffer;
  private readonly parts: SegmentItems[] = [];
  private readonly damage: FileDamage[] = [];

  private constructor(path: string, file: Buffer) {
    this.path = path;
    this.file = file;
    this.scan();
  }

  static open(path: string, bytes?: Buffer): TraceFileReader {
    // A caller that has read the file already (to tell its kind) passes its bytes.
    const file = bytes ?? readFileSync(path);
    if (!TraceFileReader.is(file)) throw new TypeError(`${path} is not a ringtrace trace file (bad magic)`);
    return new TraceFileReader(path, file);
  }

  /** Whether these bytes start like a trace file. */
  static is(bytes: Uint8Array): boolean {
    return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, TRACE_MAGIC.length)).toString('latin1') === TRACE_MAGIC;
  }

  /** Bytes of the file. */
  get bytes(): number {
    return this.file.length;
  }

  /** Delivers every segment's events, losses and damage, in order. */
  read(visitor: TraceVisitor): TraceReadTotals {
    const totals: TraceReadTotals = { events: 0, lost: 0, corrupt: 0 };
    const counting: TraceVisitor = {
      event: (v) => {
        totals.events++;
        visitor.event(v);
      },
      lost: (l) => {
        totals.lost += l.count;
        visitor.lost?.(l);
      },
      corrupt: (r) => {
        totals.corrupt++;
        visitor.corrupt?.(r);
      },
    };
    let damage = 0;
    const reportDamageBefore = (at: number): void => {
      for (; damage < this.damage.length && this.damage[damage]!.at < at; damage++) {
        const d = this.damage[damage]!;
        counting.corrupt!({ cpu: -1, pageSeq: -1, offset: d.at, reason: `record at byte ${d.at}: ${d.reason}` });
      }
    };
    this.parts.forEach((part, index) => {
      reportDamageBefore(part.segment.at);
      visitor.segment?.(part.segment, index);
      new SegmentMerge(this.file, part).read(counting);
      if (part.segment.end === null) {
        // Not damage in the bytes, but the events the drain had not written are unknown.
        counting.corrupt!({ cpu: -1, pageSeq: -1, offset: part.segment.at, reason: `segment ${index} has no end record: the drain did not finish it (the process was killed, or the file was cut)` });
      }
    });
    reportDamageBefore(Infinity);
    return totals;
  }

  /** Splits the file into segments and each CPU's records; checks the framing only. */
  private scan(): void {
    const f = this.file;
    let part: SegmentItems | null = null;
    let orphans = 0;
    let at = TRACE_MAGIC.length;
    while (at < f.length) {
      if (at + RECORD_HEAD_BYTES > f.length) {
        this.damage.push({ at, reason: `the file ends inside a record header (${f.length - at} of ${RECORD_HEAD_BYTES} bytes)` });
        break;
      }
      const kind = f.readUInt32LE(at);
      const bytes = f.readUInt32LE(at + 4);
      const body = at + RECORD_HEAD_BYTES;
      const next = body + ((bytes + 7) & ~7);
      if (body + bytes > f.length || kind < RecordType.segment || kind > RecordType.resume) {
        // A process killed while writing leaves the last record short; a damaged header
        // has a length that cannot be trusted. Look for the next record that checks out.
        const resume = this.resync(at + 8);
        const what = body + bytes > f.length ? `runs past the end of the file (${bytes} bytes)` : `has an unknown kind ${kind}`;
        this.damage.push({ at, reason: resume < f.length ? `the record ${what}; skipped ${resume - at} bytes to the next record that checks out` : `the record ${what}; the rest of the file (${f.length - at} bytes) holds no record that checks out` });
        at = resume;
        continue;
      }
      if (kind === RecordType.segment) {
        // A damaged segment record is more likely a damaged record of the segment being
        // read than a new run: its records stay with the current segment.
        const segment = this.segmentAt(at, body, bytes);
        if (segment !== null) {
          part = { segment, items: Array.from({ length: segment.info.cpus }, () => []) };
          this.parts.push(part);
          this.segments.push(part.segment);
        }
      } else if (part === null) {
        // Records with no readable segment before them cannot be decoded (no page size,
        // no CPU count): reported once per run of them.
        if (orphans++ === 0) this.damage.push({ at, reason: `record of kind ${kind} outside a readable segment; skipped up to the next segment` });
      } else if (kind === RecordType.schema && bytes >= 4) {
        (part.segment.schemas as Map<number, string>).set(f.readUInt32LE(body), f.toString('utf8', body + 4, body + bytes));
      } else if (kind === RecordType.end && bytes >= 4) {
        const cpus = f.readUInt32LE(body);
        if (cpus !== part.segment.info.cpus || bytes !== 4 + cpus * END_COUNTERS.length * 8) {
          this.damage.push({ at, reason: `end record of ${bytes} bytes does not match the segment's ${part.segment.info.cpus} CPUs` });
        } else {
          const end: number[][] = [];
          for (let cpu = 0, p = body + 4; cpu < cpus; cpu++) {
            const row: number[] = [];
            for (let i = 0; i < END_COUNTERS.length; i++, p += 8) row.push(f.readDoubleLE(p));
            end.push(row);
          }
          (part.segment as { end: number[][] | null }).end = end;
        }
      } else if (
        (kind === RecordType.chunk && bytes >= CHUNK_FIXED_BYTES + PAGE_HEADER_BYTES) ||
        (kind === RecordType.lost && bytes === LOST_BYTES) ||
        (kind === RecordType.corrupt && bytes >= CORRUPT_FIXED_BYTES) ||
        (kind === RecordType.resume && bytes === RESUME_BYTES)
      ) {
        const cpu = f.readUInt16LE(body + K_CPU);
        if (kind === RecordType.corrupt && cpu === NO_CPU) part.items[0]?.push(at);
        else if (cpu < part.items.length) part.items[cpu]!.push(at);
        else this.damage.push({ at, reason: `record of kind ${kind} names CPU ${cpu}; the segment has ${part.items.length}` });
      } else {
        this.damage.push({ at, reason: kind >= RecordType.segment && kind <= RecordType.resume ? `record of kind ${kind} has an impossible length ${bytes}` : `unknown record kind ${kind} (${bytes} bytes skipped)` });
      }
      if (kind === RecordType.segment) orphans = 0;
      at = next;
    }
  }

  /**
   * The first 8-aligned offset from `from` where a record starts that checks out (a known
   * kind, a length that fits, and for a chunk a page header that matches its check word),
   * or the file's length. Each offset is looked at once: bounded by the file's size.
   */
  private resync(from: number): number {
    const f = this.file;
    const header = new HeaderScratch();
    for (let p = from; p + RECORD_HEAD_BYTES <= f.length; p += 8) {
      const kind = f.readUInt32LE(p);
      const bytes = f.readUInt32LE(p + 4);
      const body = p + RECORD_HEAD_BYTES;
      if (body + bytes > f.length) continue;
      if (kind === RecordType.chunk && bytes >= CHUNK_FIXED_BYTES + PAGE_HEADER_BYTES) {
        if (f.readInt32LE(body + K_CHECK) === fieldsCheck(f, body, CHUNK_FIXED_BYTES, K_CHECK) && header.load(f, body)) return p;
      } else if (kind === RecordType.lost && bytes === LOST_BYTES && f.readInt32LE(body + L_CHECK) === fieldsCheck(f, body, LOST_BYTES, L_CHECK)) return p;
      else if (kind === RecordType.segment && bytes >= SEGMENT_FIXED_BYTES && f.readUInt32LE(body + S_VERSION) === TRACE_VERSION) return p;
      else if (kind === RecordType.resume && bytes === RESUME_BYTES && f.readInt32LE(body + R_CHECK) === fieldsCheck(f, body, RESUME_BYTES, R_CHECK)) return p;
      else if (kind === RecordType.end && bytes >= 4 && bytes === 4 + f.readUInt32LE(body) * END_COUNTERS.length * 8) return p;
    }
    return f.length;
  }

  private segmentAt(at: number, body: number, bytes: number): TraceSegment | null {
    const f = this.file;
    if (bytes < SEGMENT_FIXED_BYTES) {
      this.damage.push({ at, reason: `segment record of ${bytes} bytes is too short` });
      return null;
    }
    const version = f.readUInt32LE(body + S_VERSION);
    const cpus = f.readUInt32LE(body + S_CPUS);
    const pageBytes = f.readUInt32LE(body + S_PAGE_BYTES);
    const maxPayloadBytes = f.readUInt32LE(body + S_MAX_PAYLOAD);
    const mode = (Object.keys(Mode) as ModeName[]).find((k) => Mode[k] === f.readUInt32LE(body + S_MODE));
    const clock = (Object.keys(ClockKind) as ClockName[]).find((k) => ClockKind[k] === f.readUInt32LE(body + S_CLOCK));
    const pow2 = pageBytes >= MIN_PAGE_BYTES && pageBytes <= MAX_PAGE_BYTES && (pageBytes & (pageBytes - 1)) === 0;
    if (version !== TRACE_VERSION || cpus < 1 || cpus > MAX_CPUS || !pow2 || maxPayloadBytes < 1 || maxPayloadBytes > pageBytes || mode === undefined || clock === undefined) {
      this.damage.push({ at, reason: `segment record is damaged or of another version (version ${version}, ${cpus} CPUs, pages of ${pageBytes} bytes); its records are skipped` });
      return null;
    }
    let description: unknown = null;
    const text = f.toString('utf8', body + SEGMENT_FIXED_BYTES, body + bytes);
    if (text !== '') {
      try {
        description = JSON.parse(text);
      } catch {
        this.damage.push({ at, reason: 'segment description is not JSON; ignored' });
      }
    }
    return {
      info: { cpus, pageBytes, maxPayloadBytes, mode, clock, originNs: f.readDoubleLE(body + S_ORIGIN_NS), epochMs: f.readDoubleLE(body + S_EPOCH_MS), description },
      schemas: new Map(),
      end: null,
      at,
    };
  }
}

/** Per CPU: where it is in its records and the page chunk it is decoding. */
class CpuCursor {
  item = 0;
  /** Byte offset in the scratch page of the next record; `to` ends the chunk. */
  rec = 0;
  to = 0;
  /** Events of the current chunk not delivered yet (announced as lost if the chunk turns out damaged). */
  left = 0;
  index = 0;
  /**
   * The index the next chunk should start at (NaN: unknown, after damage to the file).
   * A drain takes a ring from its first event, so each CPU's stream starts at index 0.
   */
  expected = 0;
  lastTs = -Infinity;
  /** Upper bound of the current chunk's timestamps (the next page's checked base; Infinity if unknown). */
  tsBound = Infinity;
  pageSeq = -1;
  /** Page seq and end of the last chunk loaded whole (-1: none), which the next chunk may continue. */
  chunkSeq = -1;
  chunkEnd = -1;
  /** Its records are all read (and the tail checked against the end record). */
  ended = false;
  /** A record found and checked, waiting for the merge: its offset (-1: none) and timestamp. */
  stash = -1;
  stashTs = 0;
  stashEnd = 0;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly view: EventView;

  constructor(pageBytes: number) {
    const page = new ArrayBuffer(pageBytes);
    this.u8 = new Uint8Array(page);
    this.i32 = new Int32Array(page);
    this.f64 = new Float64Array(page);
    this.view = new EventView(this);
  }
}

/** One segment's CPUs, merged by timestamp. */
class SegmentMerge {
  private readonly file: Buffer;
  private readonly part: SegmentItems;
  private readonly info: SegmentInfo;
  private readonly cursors: CpuCursor[];
  /** Scratch for the next page's header (nextPageBase), reused per chunk. */
  private readonly header = new HeaderScratch();
  /** recordsIn()'s count of the data records it framed. */
  private framedEvents = 0;

  constructor(file: Buffer, part: SegmentItems) {
    this.file = file;
    this.part = part;
    this.info = part.segment.info;
    this.cursors = part.items.map(() => new CpuCursor(this.info.pageBytes));
  }

  read(visitor: TraceVisitor): void {
    const cursors = this.cursors;
    for (let cpu = 0; cpu < cursors.length; cpu++) this.next(cpu, visitor);
    for (;;) {
      let best = -1;
      let bestTs = Infinity;
      for (let cpu = 0; cpu < cursors.length; cpu++) {
        const c = cursors[cpu]!;
        if (c.stash >= 0 && (best < 0 || c.stashTs < bestTs)) {
          best = cpu;
          bestTs = c.stashTs;
        }
      }
      if (best < 0) return;
      const c = cursors[best]!;
      const header = c.i32[c.stash >> 2]!;
      const v = c.view;
      v.cpu = best;
      v.index = c.index;
      v.type = headerType(header);
      v.length = headerLength(header);
      v.offset = c.stash + (headerKind(header) === RecordKind.absolute ? 16 : 8);
      v.timestamp = c.stashTs;
      c.rec = c.stashEnd;
      c.index++;
      c.left--;
      c.lastTs = c.stashTs;
      c.stash = -1;
      visitor.event(v);
      this.next(best, visitor);
    }
  }

  /** Finds the CPU's next event, delivering its losses and damage on the way. */
  private next(cpu: number, visitor: TraceVisitor): void {
    const c = this.cursors[cpu]!;
    const items = this.part.items[cpu]!;
    const f = this.file;
    // Every pass either consumes a record of the chunk or an item of the file: bounded.
    for (;;) {
      if (c.rec < c.to) {
        if (this.record(cpu, c, visitor)) return;
        continue;
      }
      if (c.item >= items.length) {
        if (!c.ended) this.endOfStream(cpu, c, visitor);
        return;
      }
      const at = items[c.item++]!;
      const kind = f.readUInt32LE(at);
      const body = at + RECORD_HEAD_BYTES;
      if (kind === RecordType.resume) this.resume(cpu, c, body, visitor);
      else if (kind === RecordType.lost) this.lost(cpu, c, body, visitor);
      else if (kind === RecordType.corrupt) this.corrupt(body, f.readUInt32LE(at + 4), visitor);
      else this.chunk(cpu, c, at, body, f.readUInt32LE(at + 4), visitor);
    }
  }

  /**
   * The CPU's records are done: what the ring reserved (its counters in the end record)
   * and the file did not hold is announced as lost to damage, so a cut or damaged tail
   * never loses events silently.
   */
  private endOfStream(cpu: number, c: CpuCursor, visitor: TraceVisitor): void {
    c.ended = true;
    const end = this.part.segment.end?.[cpu];
    if (end === undefined) return;
    const entries = end[END_COUNTERS.indexOf('entries')]!;
    const reached = Number.isNaN(c.expected) ? 0 : c.expected;
    if (Number.isSafeInteger(entries) && entries > reached) visitor.lost?.({ cpu, count: entries - reached, cause: 'corrupt', beforeIndex: entries });
  }

  /** Frames and checks the record at c.rec; stashes it if it is an event. False: look further. */
  private record(cpu: number, c: CpuCursor, visitor: TraceVisitor): boolean {
    const header = c.i32[c.rec >> 2]!;
    const bytes = frameBytes(header, c.rec, c.to, this.info.maxPayloadBytes);
    if (bytes < 0) {
      this.skipChunk(cpu, c, frameDamageReason(bytes, header, c.rec, c.to, this.info.maxPayloadBytes), visitor);
      return false;
    }
    if (headerKind(header) === RecordKind.padding) {
      c.rec += bytes;
      c.index++;
      return false;
    }
    const ts = recordTimestamp(c.i32, c.rec, c.f64[P_BASE_TS >> 3]!);
    // A CPU's timestamps never decrease, and none is later than the base of its next page
    // (the writer's last timestamp when it opened that page).
    if (!(ts >= c.lastTs && ts <= c.tsBound)) {
      this.skipChunk(cpu, c, `timestamp ${ts} is out of order`, visitor);
      return false;
    }
    c.stash = c.rec;
    c.stashTs = ts;
    c.stashEnd = c.rec + bytes;
    return true;
  }

  /** Gives up the rest of the current chunk: reported, and its undelivered events announced as lost. */
  private skipChunk(cpu: number, c: CpuCursor, reason: string, visitor: TraceVisitor): void {
    visitor.corrupt?.({ cpu, pageSeq: c.pageSeq, offset: c.rec, reason });
    // The gap is every index left in the chunk (padding included, as overrun gaps are).
    if (c.expected > c.index) visitor.lost?.({ cpu, count: c.expected - c.index, cause: 'corrupt', beforeIndex: c.expected });
    c.rec = c.to;
    c.left = 0;
    c.chunkSeq = -1;
  }

  /** Where the drain took the stream up: the next index, and a page it may continue. */
  private resume(cpu: number, c: CpuCursor, body: number, visitor: TraceVisitor): void {
    const f = this.file;
    const next = f.readDoubleLE(body + R_NEXT_INDEX);
    const pageSeq = f.readDoubleLE(body + R_PAGE_SEQ);
    const offset = f.readInt32LE(body + R_OFFSET);
    if (f.readInt32LE(body + R_CHECK) !== fieldsCheck(f, body, RESUME_BYTES, R_CHECK) || !Number.isSafeInteger(next) || next < 0) {
      visitor.corrupt?.({ cpu, pageSeq: -1, offset: -1, reason: `resume record at byte ${body - RECORD_HEAD_BYTES} is damaged; where the stream starts is unknown` });
      c.expected = NaN;
      return;
    }
    c.expected = next;
    // A page the drain before this one began: its next chunk continues it from `offset`.
    if (offset > PAGE_HEADER_BYTES && Number.isSafeInteger(pageSeq)) {
      c.chunkSeq = pageSeq;
      c.chunkEnd = offset;
    }
  }

  private lost(cpu: number, c: CpuCursor, body: number, visitor: TraceVisitor): void {
    const f = this.file;
    const cause = lossCauses[f.readUInt8(body + 2)];
    const count = f.readDoubleLE(body + 8);
    const beforeIndex = f.readDoubleLE(body + 16);
    // Bounded by what the ring counted when the drain stopped, where the end record says.
    const end = this.part.segment.end?.[cpu];
    const entries = end?.[END_COUNTERS.indexOf('entries')] ?? Infinity;
    const dropped = end?.[END_COUNTERS.indexOf('dropped')] ?? Infinity;
    if (
      f.readInt32LE(body + L_CHECK) !== fieldsCheck(f, body, LOST_BYTES, L_CHECK) ||
      cause === undefined ||
      !(Number.isSafeInteger(count) && count > 0 && count <= (cause === 'dropped' ? dropped : entries)) ||
      !(Number.isSafeInteger(beforeIndex) && beforeIndex >= (cause === 'dropped' ? 0 : count) && beforeIndex <= entries)
    ) {
      visitor.corrupt?.({ cpu, pageSeq: -1, offset: -1, reason: `lost record at byte ${body - RECORD_HEAD_BYTES} is impossible (cause ${f.readUInt8(body + 2)}, count ${count}, before ${beforeIndex})` });
      return;
    }
    // Dropped events (discard mode) take no index; the others leave a gap of their own,
    // and any events between where the file got to and that gap were lost in the file.
    if (cause !== 'dropped' && !Number.isNaN(c.expected) && beforeIndex - count > c.expected) {
      visitor.lost?.({ cpu, count: beforeIndex - count - c.expected, cause: 'corrupt', beforeIndex: beforeIndex - count });
    }
    visitor.lost?.({ cpu, count, cause, beforeIndex });
    if (cause !== 'dropped') c.expected = Math.max(Number.isNaN(c.expected) ? 0 : c.expected, beforeIndex);
  }

  private corrupt(body: number, bytes: number, visitor: TraceVisitor): void {
    const f = this.file;
    const cpu = f.readUInt16LE(body);
    visitor.corrupt?.({
      cpu: cpu === NO_CPU ? -1 : cpu,
      pageSeq: f.readDoubleLE(body + 8),
      offset: f.readInt32LE(body + 4),
      reason: f.toString('utf8', body + CORRUPT_FIXED_BYTES, body + bytes),
    });
  }

  /**
   * Loads a chunk into the CPU's scratch page after checking it; damage skips it,
   * announced. Where the chunk starts in the CPU's stream is taken from what the page
   * header's check word covers (its first entry) or from the chunk before it in the same
   * page, never from the chunk's own unchecked words alone.
   */
  private chunk(cpu: number, c: CpuCursor, at: number, body: number, bytes: number, visitor: TraceVisitor): void {
    const f = this.file;
    const from = f.readUInt32LE(body + K_FROM);
    const to = f.readUInt32LE(body + K_TO);
    const events = f.readUInt32LE(body + K_EVENTS);
    const records = f.readUInt32LE(body + K_RECORDS);
    const pageSeq = f.readDoubleLE(body + K_PAGE_SEQ);
    const claimed = f.readDoubleLE(body + K_FIRST_INDEX);
    const pageBytes = this.info.pageBytes;
    const continues = c.chunkSeq === pageSeq && c.chunkEnd === from;
    c.chunkSeq = -1;
    c.pageSeq = pageSeq;
    const entries = this.part.segment.end?.[cpu]?.[END_COUNTERS.indexOf('entries')] ?? Infinity;
    const fieldsSound = f.readInt32LE(body + K_CHECK) === fieldsCheck(f, body, CHUNK_FIXED_BYTES, K_CHECK);
    const bad = (reason: string): void => {
      visitor.corrupt?.({ cpu, pageSeq, offset: -1, reason: `chunk at byte ${at}: ${reason}` });
      if (!fieldsSound) return; // the next chunk, or the end record, tells the gap
      // Its words are believable only if the bytes could hold that many records and the
      // ring reserved that many; then everything up to its end is announced lost.
      const end = claimed + records;
      if (events <= records && records <= (to - from) / 8 && Number.isSafeInteger(claimed) && claimed >= 0 && end <= entries) {
        const since = Number.isNaN(c.expected) ? claimed : c.expected;
        if (end > since) {
          visitor.lost?.({ cpu, count: end - since, cause: 'corrupt', beforeIndex: end });
          c.expected = end;
        }
      }
    };
    if (!fieldsSound) {
      bad('its fields do not match their check word');
      return;
    }
    if (!(from >= PAGE_HEADER_BYTES && from <= to && to <= pageBytes && bytes === CHUNK_FIXED_BYTES + PAGE_HEADER_BYTES + (to - from) && from % 8 === 0 && events <= records && records <= (to - from) / 8)) {
      bad(`byte range ${from}..${to} does not fit a page of ${pageBytes} bytes in ${bytes} bytes`);
      return;
    }
    const u8 = c.u8;
    u8.set(f.subarray(body + K_HEADER, body + K_HEADER + PAGE_HEADER_BYTES), 0);
    if (c.i32[P_SEQ >> 2] !== (pageSeq | 0) || c.i32[P_CHECK >> 2] !== pageHeaderCheck(c.f64, c.i32, 0)) {
      bad("the page header does not match its check word or the chunk's page seq");
      return;
    }
    const first = from === PAGE_HEADER_BYTES ? c.f64[P_FIRST_ENTRY >> 3]! : continues ? c.expected : NaN;
    if (first !== claimed) {
      bad(Number.isNaN(first) ? 'it continues a page whose earlier part is missing' : `first index ${claimed} does not match the page's ${first}`);
      return;
    }
    if (!Number.isNaN(c.expected) && first < c.expected) {
      bad(`first index ${first} repeats events up to ${c.expected}`);
      return;
    }
    if (!Number.isNaN(c.expected) && first > c.expected) {
      // Events no lost record accounts for: the file lost them (a damaged or missing chunk).
      visitor.lost?.({ cpu, count: first - c.expected, cause: 'corrupt', beforeIndex: first });
    }
    u8.set(f.subarray(body + K_HEADER + PAGE_HEADER_BYTES, body + bytes), from);
    // A page's checked base bounds its records from below and every earlier record from
    // above: one damaged late timestamp cannot poison the pages after it.
    if (from === PAGE_HEADER_BYTES) c.lastTs = c.f64[P_BASE_TS >> 3]!;
    c.tsBound = this.nextPageBase(cpu, c.item, pageSeq);
    c.rec = from;
    c.to = to;
    c.index = first;
    c.left = events;
    const framed = this.recordsIn(c, from, to);
    if (framed >= 0 && (framed !== records || this.framedEvents !== events)) {
      // A record header damaged into another valid one (data read as padding, a length
      // that swallows the next record) keeps the framing intact; the drain's own counts
      // of the chunk's records tell. The chunk is given up from there: where its records
      // are cannot be trusted.
      c.expected = first + records;
      this.skipChunk(cpu, c, `chunk at byte ${at}: its bytes frame ${framed} records (${this.framedEvents} events), the drain copied ${records} (${events} events)`, visitor);
      return;
    }
    c.expected = first + records;
    c.chunkSeq = pageSeq;
    c.chunkEnd = to;
  }

  /** The base timestamp of the CPU's next page in the file, if its header checks out; else Infinity. */
  private nextPageBase(cpu: number, from: number, pageSeq: number): number {
    const f = this.file;
    const items = this.part.items[cpu]!;
    for (let i = from; i < items.length; i++) {
      const at = items[i]!;
      if (f.readUInt32LE(at) !== RecordType.chunk) continue;
      const body = at + RECORD_HEAD_BYTES;
      if (f.readDoubleLE(body + K_PAGE_SEQ) === pageSeq) continue;
      return this.header.load(f, body) ? this.header.f64[P_BASE_TS >> 3]! : Infinity;
    }
    return Infinity;
  }

  /**
   * The records (events and padding) the chunk holds, by framing, and its events in
   * framedEvents; -1 if framing fails part way (the read reports the damage there).
   */
  private recordsIn(c: CpuCursor, from: number, to: number): number {
    let records = 0;
    let padding = 0;
    for (let off = from; off < to; records++) {
      const header = c.i32[off >> 2]!;
      const bytes = frameBytes(header, off, to, this.info.maxPayloadBytes);
      if (bytes < 0) return -1;
      if (headerKind(header) === RecordKind.padding) padding++;
      off += bytes;
    }
    this.framedEvents = records - padding;
    return records;
  }
}
