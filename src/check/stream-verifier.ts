import type { CorruptionReport, LostEvents, ReadVisitor } from '../ring/reader.js';
import type { CpuStats } from '../ring/ring-buffer.js';
import { type StreamFormat, payloadHash, streamTag } from './stream-payload.js';

/** What the verifier needs of an event: the fields of the reader's EventView. */
export interface StreamEvent {
  readonly cpu: number;
  readonly index: number;
  readonly type: number;
  readonly timestamp: number;
  readonly length: number;
  u32(i: number): number;
}

/** What the reader saw, per CPU (index = cpu). Plain arrays: it crosses threads by postMessage. */
export interface VerifierSummary {
  readonly cpus: number;
  /** Events delivered. */
  readonly read: number[];
  /** Events reported lost, by cause. */
  readonly lostOverrun: number[];
  readonly lostDropped: number[];
  readonly lostCorrupt: number[];
  /** Seqs skipped inside the streams (gaps between two seqs seen), per CPU. */
  readonly gapMissing: number[];
  /** Streams per CPU (the format's). */
  readonly streams: number;
  /** Events of the format's other types, per CPU. */
  readonly others: number[];
  /** Next seq due per stream: `nextSeq[cpu * streams + stream]` (last seq seen + 1). */
  readonly nextSeq: number[];
  /** Failed checks (payload, order, index, loss placement) and corruption reports from the reader. */
  readonly failures: number;
  readonly corruptReports: number;
  /** The first few failures, in words. */
  readonly failureLog: string[];
}

const LOG_LIMIT = 20;
const TWO_31 = 2 ** 31;

/**
 * Checks every event the reader delivers, allocation-free while nothing is wrong:
 *
 * - the payload words agree with each other and with the CPU (payload.ts): no torn event;
 * - within each (cpu, stream) seqs strictly increase: no duplicated or reordered event;
 * - each CPU's `index` is contiguous except across gaps that a `lost` record covers exactly
 *   (overrun and corruption losses); dropped events never got an index, so their record
 *   must sit exactly at the current index;
 * - per CPU the timestamps never decrease.
 *
 * The seqs missing from a CPU's streams must add up to the events reported lost for that
 * CPU; that needs the writers' final counts (the tail of each stream) and is checked by
 * `reconcile()` once everything is drained.
 */
export class StreamVerifier implements ReadVisitor {
  readonly cpus: number;
  readonly format: StreamFormat;
  private readonly streams: number;
  private readonly others: Float64Array;
  private readonly read: Float64Array;
  private readonly lostOverrun: Float64Array;
  private readonly lostDropped: Float64Array;
  private readonly lostCorrupt: Float64Array;
  private readonly gapMissing: Float64Array;
  private readonly nextSeq: Float64Array;
  private readonly nextIndex: Float64Array;
  private readonly lastTs: Float64Array;
  private failures = 0;
  private corruptReports = 0;
  private readonly failureLog: string[] = [];

  constructor(cpus: number, format: StreamFormat) {
    this.cpus = cpus;
    this.format = format;
    this.streams = format.streams;
    this.others = new Float64Array(cpus);
    this.read = new Float64Array(cpus);
    this.lostOverrun = new Float64Array(cpus);
    this.lostDropped = new Float64Array(cpus);
    this.lostCorrupt = new Float64Array(cpus);
    this.gapMissing = new Float64Array(cpus);
    this.nextSeq = new Float64Array(cpus * format.streams);
    this.nextIndex = new Float64Array(cpus);
    this.lastTs = new Float64Array(cpus).fill(-Infinity);
  }

  event(e: StreamEvent): void {
    const cpu = e.cpu;
    if (!(cpu >= 0 && cpu < this.cpus)) {
      this.fail(`event of cpu ${cpu}: no such cpu`);
      return;
    }
    this.read[cpu]!++;
    const index = e.index;
    if (index !== this.nextIndex[cpu]) {
      this.fail(`cpu ${cpu}: event index ${index} where ${this.nextIndex[cpu]} was due and no loss was reported`);
    }
    this.nextIndex[cpu] = index + 1;
    const ts = e.timestamp;
    if (!(ts >= this.lastTs[cpu]!)) this.fail(`cpu ${cpu}: timestamp ${ts} at index ${index} goes back from ${this.lastTs[cpu]}`);
    this.lastTs[cpu] = ts;
    const stream = e.type - this.format.typeBase;
    if (!(stream >= 0 && stream < this.streams) || e.length !== this.format.payloadBytes) {
      if (this.format.otherTypes?.includes(e.type) === true) {
        this.others[cpu]!++;
        return;
      }
      this.fail(`cpu ${cpu}: event ${index} has type 0x${e.type.toString(16)} and length ${e.length}`);
      return;
    }
    const seq = e.u32(0);
    const tag = streamTag(cpu, stream);
    if (e.u32(1) !== tag || e.u32(2) !== payloadHash(seq, tag) || e.u32(3) !== ~seq >>> 0) {
      this.fail(
        `cpu ${cpu}: event ${index} is torn: words ${seq} 0x${e.u32(1).toString(16)} 0x${e.u32(2).toString(16)} ` +
          `0x${e.u32(3).toString(16)} (stream ${stream})`,
      );
      return;
    }
    // Payloads carry seq mod 2^32; the full seq is the next one due plus the forward
    // distance, and a "distance" past 2^31 is a step back: a duplicate or a reordering.
    const k = cpu * this.streams + stream;
    const due = this.nextSeq[k]!;
    const ahead = (seq - (due >>> 0)) >>> 0;
    if (ahead >= TWO_31) {
      this.fail(`cpu ${cpu} stream ${stream}: seq ${seq} at index ${index} after seq ${due - 1} (duplicated or reordered)`);
      return;
    }
    this.gapMissing[cpu]! += ahead;
    this.nextSeq[k] = due + ahead + 1;
  }

  lost(loss: LostEvents): void {
    const cpu = loss.cpu;
    if (!(cpu >= 0 && cpu < this.cpus) || !(loss.count > 0)) {
      this.fail(`impossible loss record: ${JSON.stringify(loss)}`);
      return;
    }
    const due = this.nextIndex[cpu]!;
    if (loss.cause === 'dropped') {
      // Dropped events got no space and no index: the record marks where they fell.
      if (loss.beforeIndex !== due) this.fail(`cpu ${cpu}: ${loss.count} dropped before index ${loss.beforeIndex}, but index ${due} is due`);
      this.lostDropped[cpu]! += loss.count;
      return;
    }
    if (loss.beforeIndex - loss.count !== due) {
      this.fail(`cpu ${cpu}: ${loss.count} lost (${loss.cause}) before index ${loss.beforeIndex}, but index ${due} is due`);
    }
    this.nextIndex[cpu] = loss.beforeIndex;
    if (loss.cause === 'overrun') {
      this.lostOverrun[cpu]! += loss.count;
    } else {
      this.lostCorrupt[cpu]! += loss.count;
      this.fail(`cpu ${cpu}: ${loss.count} events lost to corruption before index ${loss.beforeIndex}`);
    }
  }

  corrupt(report: CorruptionReport): void {
    this.corruptReports++;
    this.log(`cpu ${report.cpu}: reader reports page ${report.pageSeq} offset ${report.offset}: ${report.reason}`);
  }

  /** Failed checks plus corruption reports so far. */
  get problems(): number {
    return this.failures + this.corruptReports;
  }

  summary(): VerifierSummary {
    return {
      cpus: this.cpus,
      streams: this.streams,
      others: Array.from(this.others),
      read: Array.from(this.read),
      lostOverrun: Array.from(this.lostOverrun),
      lostDropped: Array.from(this.lostDropped),
      lostCorrupt: Array.from(this.lostCorrupt),
      gapMissing: Array.from(this.gapMissing),
      nextSeq: Array.from(this.nextSeq),
      failures: this.failures,
      corruptReports: this.corruptReports,
      failureLog: [...this.failureLog],
    };
  }

  private fail(message: string): void {
    this.failures++;
    this.log(message);
  }

  private log(message: string): void {
    if (this.failureLog.length < LOG_LIMIT) this.failureLog.push(message);
  }
}

/** Per-CPU totals of a finished run, after the writers' and the reader's views are joined. */
export interface CpuReconciliation {
  readonly cpu: number;
  /** Attempts, from the writer's own count. */
  readonly written: number;
  readonly read: number;
  readonly overrun: number;
  readonly dropped: number;
  /** Events lost to corruption (always a failure). */
  readonly lostToCorruption: number;
  /** Left in the buffer after the drain (ring stats); 0 when the drain worked. */
  readonly unread: number;
  /** |written - (read + overrun + dropped + lostToCorruption + unread)|. */
  readonly unaccounted: number;
  /** Seqs that never arrived: gaps plus each stream's tail. Must equal the losses reported. */
  readonly missing: number;
  readonly nmis: number;
  readonly maxNesting: number;
  readonly commitOverrun: number;
}

export interface Reconciliation {
  readonly perCpu: CpuReconciliation[];
  /** Failed checks: the verifier's, plus the cross-checks made here. */
  readonly failures: number;
  readonly corruptReports: number;
  readonly unaccounted: number;
  readonly failureLog: string[];
}

/**
 * Joins the verifier's summary, the writers' own counts and the ring's stats (taken at
 * quiescence, after the drain) and checks that they balance, per CPU:
 *
 * - written (writer) = read + overrun + dropped + lostToCorruption + unread (the kernel
 *   self-test's `lost + read == events`), where read and the losses are what the reader
 *   delivered and reported, and unread comes from the ring;
 * - the seqs missing from the CPU's streams = the events reported lost;
 * - no stream shows a seq its writer never wrote;
 * - the ring's own counters agree: written, read, overrun and dropped equal the counts
 *   above, dropped equals the writer's failed writes, unread is 0, nothing is corrupt.
 */
/** What a harness's writers counted themselves, per CPU. */
export interface StreamWriterCounts {
  readonly cpu: number;
  /** Write attempts per stream; a dropped write still consumed its seq, so this is also the next seq. */
  readonly attempts: number[];
  /** Writes per stream that were stored. */
  readonly stored: number[];
  /** Injected nested writes (NMIs). */
  readonly nmis: number;
  /** Events of the format's other types (e.g. faults) the writer attempted, and stored. */
  readonly others?: number;
  readonly othersStored?: number;
}

export function reconcile(summary: VerifierSummary, writers: readonly StreamWriterCounts[], stats: readonly CpuStats[]): Reconciliation {
  const log = [...summary.failureLog];
  let failures = summary.failures;
  let logged = 0;
  // Room of its own for these messages: the reader's may have filled its log already.
  const fail = (message: string): void => {
    failures++;
    if (logged++ < LOG_LIMIT) log.push(message);
  };
  const perCpu: CpuReconciliation[] = [];
  let unaccountedTotal = 0;
  for (let cpu = 0; cpu < summary.cpus; cpu++) {
    const w = writers.find((r) => r.cpu === cpu);
    const st = stats[cpu];
    if (w === undefined || st === undefined) {
      fail(`cpu ${cpu}: no ${w === undefined ? 'writer result' : 'ring stats'}`);
      continue;
    }
    let written = 0;
    let storedByWriter = 0;
    let tail = 0;
    for (let s = 0; s < summary.streams; s++) {
      const attempts = w.attempts[s] ?? 0;
      const seen = summary.nextSeq[cpu * summary.streams + s] ?? 0;
      written += attempts;
      storedByWriter += w.stored[s] ?? 0;
      if (seen > attempts) fail(`cpu ${cpu} stream ${s}: reader saw seq ${seen - 1}, writer made only ${attempts} attempts`);
      else tail += attempts - seen;
    }
    // Events of other types (faults) are written and read like the rest but not sequenced.
    written += w.others ?? 0;
    storedByWriter += w.othersStored ?? 0;
    const read = summary.read[cpu] ?? 0;
    const overrun = summary.lostOverrun[cpu] ?? 0;
    const dropped = summary.lostDropped[cpu] ?? 0;
    const lostToCorruption = summary.lostCorrupt[cpu] ?? 0;
    const lost = overrun + dropped + lostToCorruption;
    const missing = (summary.gapMissing[cpu] ?? 0) + tail + (w.others ?? 0) - (summary.others[cpu] ?? 0);
    const unaccounted = Math.abs(written - (read + lost + st.unread));
    unaccountedTotal += unaccounted;
    if (missing !== lost) fail(`cpu ${cpu}: ${missing} seqs never arrived but ${lost} events were reported lost`);
    const cross: [string, number, number][] = [
      ['written', st.written, written],
      ['read', st.read, read],
      ['overrun', st.overrun, overrun],
      ['dropped', st.dropped, dropped],
      ["dropped (writer's failed writes)", st.dropped, written - storedByWriter],
      ['unread after drain', st.unread, 0],
      ['discarded', st.discarded, 0],
      ['corrupt', st.corrupt, 0],
    ];
    for (const [name, ring, ours] of cross) {
      if (ring !== ours) fail(`cpu ${cpu}: ring stats say ${name} = ${ring}, the harness counted ${ours}`);
    }
    perCpu.push({
      cpu,
      written,
      read,
      overrun,
      dropped,
      lostToCorruption,
      unread: st.unread,
      unaccounted,
      missing,
      nmis: w.nmis,
      maxNesting: st.maxNesting,
      commitOverrun: st.commitOverrun,
    });
  }
  return { perCpu, failures, corruptReports: summary.corruptReports, unaccounted: unaccountedTotal, failureLog: log };
}
