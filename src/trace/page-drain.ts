import { hrtimeOriginNs } from '../ring/clock.js';
import { G_HRTIME_ORIGIN } from '../ring/layout.js';
import type { CorruptionReport, LostEvents, PageCopyVisitor, RingReader } from '../ring/reader.js';
import type { RingBuffer } from '../ring/ring-buffer.js';
import type { TraceFileWriter } from './trace-file.js';

/**
 * The drain: the one way committed events leave a ring for a file. It takes pages out of
 * the ring with the consuming reader's `copy()` and writes their bytes to a trace file as
 * they are; no event is decoded or formatted on the way (that happens when the file is
 * read). Losses and damage the reader finds go into the file where they were found.
 *
 * `pass()` copies the pages the writers have left; `pass(true)` also the committed part
 * of the pages they are writing (a partial page continues in a later chunk), so what an
 * idle writer committed does not wait for its page to fill.
 */
export class PageDrain implements PageCopyVisitor {
  readonly file: TraceFileWriter;
  private readonly ring: RingBuffer;
  private readonly reader: RingReader;
  private readonly u8: Uint8Array;
  /** Events copied, losses announced (events), damage reports: for stats. */
  events = 0;
  lostEvents = 0;
  corruptReports = 0;

  /** Takes the ring's reader role; opens a segment in `file` describing the ring. */
  constructor(ring: RingBuffer, reader: RingReader, file: TraceFileWriter, description?: unknown) {
    this.ring = ring;
    this.reader = reader;
    this.file = file;
    this.u8 = new Uint8Array(ring.buffer, ring.byteOffset);
    const c = ring.config;
    const originNs = new Float64Array(ring.buffer, ring.byteOffset, 8)[G_HRTIME_ORIGIN >> 3]!;
    file.segment({
      cpus: c.cpus,
      pageBytes: c.pageBytes,
      maxPayloadBytes: c.maxPayloadBytes,
      mode: c.mode,
      clock: c.clock,
      originNs,
      // Wall time at the origin: now, less the monotonic time elapsed since it.
      epochMs: Date.now() - (hrtimeOriginNs() - originNs) / 1e6,
      description,
    });
    // Where each CPU's stream is taken up (from its first event, or where a drain before
    // this one stopped, maybe part way through a page).
    for (let cpu = 0; cpu < c.cpus; cpu++) {
      const at = reader.position(cpu);
      file.resume(cpu, at.nextIndex, at.pageSeq, at.offset);
    }
  }

  /** One pass over every CPU buffer. Returns the events copied. */
  pass(tailPages = false): number {
    const n = this.reader.copy(this, { wholePages: !tailPages });
    this.events += n;
    return n;
  }

  /**
   * Everything committed, then the drops no page announced, then the ring's counters: for
   * when the writers have stopped (or the process is ending). Flushes the file.
   */
  finish(): void {
    while (this.pass(true) > 0);
    this.reader.reportDrops(this);
    const counters = this.ring.stats().map((s) => [s.written, s.entries, s.overrun, s.dropped, s.read, s.lostToCorruption]);
    this.file.endSegment(counters);
    this.file.flush();
  }

  chunk(cpu: number, pageSeq: number, page: number, from: number, to: number, firstIndex: number, events: number, records: number): void {
    this.file.chunk(cpu, pageSeq, this.u8, page, from, to, firstIndex, events, records);
  }

  lost(loss: LostEvents): void {
    this.lostEvents += loss.count;
    this.file.lost(loss.cpu, loss.cause, loss.count, loss.beforeIndex);
  }

  corrupt(report: CorruptionReport): void {
    this.corruptReports++;
    this.file.corrupt(report.cpu, report.pageSeq, report.offset, report.reason);
  }
}
