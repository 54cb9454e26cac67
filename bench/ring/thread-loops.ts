import { RingBuffer } from '../../src/ring/ring-buffer.js';
import type { CpuWriter } from '../../src/ring/writer.js';
import type { EventView, ReadOptions } from '../../src/ring/reader.js';
import type { ClockName } from '../../src/ring/layout.js';
import { loadDevDependency } from '../dev-deps.js';
import { CeilingStores } from './ceiling.js';
import { BenchControl, PEER_TIMEOUT_MS } from '../control.js';
import { PAGES_PER_CPU, PAGE_BYTES } from './config.js';
import { EVENT_TYPE, RECORD_WORDS, payloadMismatch, word1, word2, word3 } from './payload.js';
import type { BenchStart, ThreadOutcome } from './protocol.js';
import { BenchVerifyError } from './verify.js';

/**
 * The loops the threaded benchmarks' workers run. Each `prepare*` builds its views of
 * shared memory and warms its loop up (on private memory, so nothing reaches the
 * measured buffer before go); it returns the measured run, which waits for go.
 * Every wait is bounded (PEER_TIMEOUT_MS) and gives up when a peer aborted.
 */

/** Events run through a private buffer before ready, so the measured loop starts optimised. */
const WARMUP_EVENTS = 300_000;
/** ringbuf.js consumer: records taken per pop. */
const POP_RECORDS = 1024;
/** ringbuf.js record header word: the same bits as a ring data record of 16 bytes. */
const RECORD_HEADER = (1 << 30) | (16 << 16) | EVENT_TYPE;

type Run = () => Promise<ThreadOutcome>;

let pauseSink = 0;
/** A short busy pause (~1 µs) for a poller that found nothing, without a syscall. */
function pause(): void {
  let x = pauseSink;
  for (let i = 0; i < 200; i++) x = (x * 31 + i) | 0;
  pauseSink = x;
}

class Deadline {
  private readonly at = Date.now() + PEER_TIMEOUT_MS;
  private polls = 0;
  constructor(
    private readonly control: BenchControl,
    private readonly what: string,
  ) {}

  /** Call in every wait loop; throws past the bound or when a peer aborted. Cheap: checks every 1024 calls. */
  poll(): void {
    if ((++this.polls & 1023) !== 0) return;
    if (this.control.aborted) throw new Error(`${this.what}: a peer aborted the run`);
    if (Date.now() > this.at) throw new Error(`${this.what}: gave up after ${PEER_TIMEOUT_MS} ms`);
  }
}

/** Writes events first..first+count-1 (payloads derived from the index); returns the drops. */
function writeRange(writer: CpuWriter, first: number, count: number): number {
  let dropped = 0;
  const end = first + count;
  for (let s = first; s < end; s++) {
    if (!writer.write(EVENT_TYPE, s, word1(s), word2(s), word3(s))) dropped++;
  }
  return dropped;
}

// ---------------------------------------------------------------------------------
// ringtrace writer

export function prepareRingWriter(start: Extract<BenchStart, { kind: 'ring-writer' }>): Run {
  const control = new BenchControl(start.control);
  const rb = RingBuffer.attach(start.ring);
  // Warm the write path up on a private buffer of the same configuration.
  const scratch = RingBuffer.create({ ...rb.config, cpus: 1, mode: 'overwrite' });
  const warm = scratch.writer(0);
  for (let i = 0; i < WARMUP_EVENTS; i += start.burst) writeRange(warm, i, start.burst);
  warm.close();
  const writer = rb.writer(start.cpu);
  return async () => {
    control.waitForGo();
    const deadline = new Deadline(control, `ring writer cpu ${start.cpu}`);
    const { events, burst, roomEvents } = start;
    let dropped = 0;
    let stalls = 0;
    const startNs = process.hrtime.bigint();
    for (let seq = 0; seq < events; ) {
      const n = Math.min(burst, events - seq);
      if (roomEvents > 0 && seq + n - control.consumed > roomEvents) {
        // Flow control: wait until the reader has taken enough that this burst fits.
        stalls++;
        while (seq + n - control.consumed > roomEvents) deadline.poll();
      }
      dropped += writeRange(writer, seq, n);
      seq += n;
    }
    const endNs = process.hrtime.bigint();
    control.producerDone();
    writer.close();
    return { kind: 'thread', role: 'producer', startNs, endNs, events, dropped, stalls, mismatches: 0, firstMismatch: '' };
  };
}

// ---------------------------------------------------------------------------------
// the ceiling loop on a thread (the machine's reference for two busy threads)

export function prepareCeilingThread(start: Extract<BenchStart, { kind: 'ceiling-thread' }>): Run {
  const control = new BenchControl(start.control);
  new CeilingStores().write(WARMUP_EVENTS);
  const ceiling = new CeilingStores();
  return async () => {
    control.waitForGo();
    const startNs = process.hrtime.bigint();
    ceiling.write(start.events);
    const endNs = process.hrtime.bigint();
    let firstMismatch = '';
    try {
      ceiling.verify();
    } catch (err) {
      if (!(err instanceof BenchVerifyError)) throw err;
      firstMismatch = err.message;
    }
    const mismatches = firstMismatch === '' ? 0 : 1;
    return { kind: 'thread', role: 'producer', startNs, endNs, events: start.events, dropped: 0, stalls: 0, mismatches, firstMismatch };
  };
}

// ---------------------------------------------------------------------------------
// ringtrace reader

/** Checks that cpu 0's events arrive once each, in index order, with their payloads. */
class OrderCheck {
  next = 0;
  lost = 0;
  mismatches = 0;
  first = '';

  readonly visitor = {
    event: (v: EventView): void => {
      const expected = this.next;
      this.next = v.index + 1;
      if (v.index !== expected || v.cpu !== 0 || v.type !== EVENT_TYPE) {
        this.fail(`event index ${v.index} (cpu ${v.cpu}, type ${v.type}) where ${expected} was due`);
      } else {
        const p = payloadMismatch(v.index, v.int32(0), v.int32(1), v.int32(2), v.int32(3));
        if (p !== '') this.fail(p);
      }
    },
    lost: (l: { count: number; cause: string }): void => {
      this.lost += l.count;
      this.fail(`${l.count} events lost (${l.cause})`);
    },
    corrupt: (r: { pageSeq: number; reason: string }): void => {
      this.fail(`corrupt page ${r.pageSeq}: ${r.reason}`);
    },
  };

  fail(message: string): void {
    if (this.mismatches++ === 0) this.first = message;
  }
}

export function prepareRingReader(start: Extract<BenchStart, { kind: 'ring-reader' }>): Run {
  const control = new BenchControl(start.control);
  const rb = RingBuffer.attach(start.ring);
  warmReader(rb.config.clock);
  const reader = rb.reader();
  return async () => {
    const check = new OrderCheck();
    const options: ReadOptions = { wholePages: true, maxEvents: 4096 };
    control.waitForGo();
    const deadline = new Deadline(control, 'ring reader');
    const startNs = process.hrtime.bigint();
    let read = 0;
    for (;;) {
      const n = reader.read(check.visitor, options);
      if (n > 0) {
        read += n;
        control.publishConsumed(read);
        continue;
      }
      if (control.producersDone > 0) {
        // The writer's last events sit on its tail page: take them too.
        read += reader.drain(check.visitor);
        break;
      }
      deadline.poll();
      pause();
    }
    const endNs = process.hrtime.bigint();
    reader.close();
    if (read !== start.events) check.fail(`read ${read} events, ${start.events} were written`);
    return {
      kind: 'thread',
      role: 'consumer',
      startNs,
      endNs,
      events: read,
      dropped: check.lost,
      stalls: 0,
      mismatches: check.mismatches,
      firstMismatch: check.first,
    };
  };
}

/** Runs the read path (whole pages, then drain) over a private buffer before ready. */
function warmReader(clock: ClockName): void {
  const scratch = RingBuffer.create({ cpus: 1, pagesPerCpu: PAGES_PER_CPU, pageBytes: PAGE_BYTES, mode: 'discard', clock });
  const writer = scratch.writer(0);
  const reader = scratch.reader();
  const check = new OrderCheck();
  const options: ReadOptions = { wholePages: true, maxEvents: 4096 };
  for (let seq = 0; seq < WARMUP_EVENTS; seq += 2048) {
    writeRange(writer, seq, 2048);
    reader.read(check.visitor, options);
  }
  reader.drain(check.visitor);
  if (check.mismatches !== 0) throw new Error(`reader warm-up failed its own check: ${check.first}`);
  reader.close();
  writer.close();
}

// ---------------------------------------------------------------------------------
// ringbuf.js (npm), the JS peer: one SPSC ring of Int32 elements, 6 per record

type SpscRing = InstanceType<Awaited<ReturnType<typeof loadRingbufJs>>['RingBuffer']>;

export function loadRingbufJs(): Promise<typeof import('ringbuf.js')> {
  return loadDevDependency('ringbuf.js', () => import('ringbuf.js'));
}

function produceRecords(ring: SpscRing, record: Int32Array, first: number, count: number): number {
  let dropped = 0;
  const end = first + count;
  for (let s = first; s < end; s++) {
    record[0] = RECORD_HEADER;
    record[1] = s; // the ticket: ringbuf.js gets its sequence for free (no clock, no atomic)
    record[2] = s;
    record[3] = word1(s);
    record[4] = word2(s);
    record[5] = word3(s);
    if (ring.push(record) !== RECORD_WORDS) dropped++;
  }
  return dropped;
}

export async function prepareRingbufJsProducer(start: Extract<BenchStart, { kind: 'ringbufjs-producer' }>): Promise<Run> {
  const { RingBuffer: Spsc } = await loadRingbufJs();
  const control = new BenchControl(start.control);
  const ring = new Spsc(start.storage, Int32Array);
  const record = new Int32Array(RECORD_WORDS);
  warmRingbufJs(Spsc, start.storage.byteLength);
  return async () => {
    control.waitForGo();
    const deadline = new Deadline(control, 'ringbuf.js producer');
    const { events, burst } = start;
    const room = burst * RECORD_WORDS;
    let dropped = 0;
    let stalls = 0;
    const startNs = process.hrtime.bigint();
    for (let seq = 0; seq < events; ) {
      const n = Math.min(burst, events - seq);
      if (ring.availableWrite() < room) {
        // The same flow control as the ring writer: wait until the burst fits.
        stalls++;
        while (ring.availableWrite() < room) deadline.poll();
      }
      dropped += produceRecords(ring, record, seq, n);
      seq += n;
    }
    const endNs = process.hrtime.bigint();
    control.producerDone();
    return { kind: 'thread', role: 'producer', startNs, endNs, events, dropped, stalls, mismatches: 0, firstMismatch: '' };
  };
}

/** Checks popped records: in order, once each, header, ticket and payload. */
class RecordCheck {
  next = 0;
  mismatches = 0;
  first = '';

  take(buf: Int32Array, words: number): void {
    if (words % RECORD_WORDS !== 0) this.fail(`popped ${words} words, not whole records`);
    for (let w = 0; w + RECORD_WORDS <= words; w += RECORD_WORDS) {
      const s = this.next++;
      if (buf[w] !== RECORD_HEADER || buf[w + 1] !== (s | 0)) {
        this.fail(`record ${s}: header ${buf[w]}, ticket ${buf[w + 1]}`);
        continue;
      }
      const p = payloadMismatch(s, buf[w + 2]!, buf[w + 3]!, buf[w + 4]!, buf[w + 5]!);
      if (p !== '') this.fail(p);
    }
  }

  fail(message: string): void {
    if (this.mismatches++ === 0) this.first = message;
  }
}

export async function prepareRingbufJsConsumer(start: Extract<BenchStart, { kind: 'ringbufjs-consumer' }>): Promise<Run> {
  const { RingBuffer: Spsc } = await loadRingbufJs();
  const control = new BenchControl(start.control);
  const ring = new Spsc(start.storage, Int32Array);
  warmRingbufJs(Spsc, start.storage.byteLength);
  return async () => {
    const buf = new Int32Array(POP_RECORDS * RECORD_WORDS);
    const check = new RecordCheck();
    control.waitForGo();
    const deadline = new Deadline(control, 'ringbuf.js consumer');
    const startNs = process.hrtime.bigint();
    for (;;) {
      const words = ring.pop(buf);
      if (words > 0) {
        check.take(buf, words);
        continue;
      }
      if (control.producersDone > 0) {
        for (let w = ring.pop(buf); w > 0; w = ring.pop(buf)) check.take(buf, w);
        break;
      }
      deadline.poll();
      pause();
    }
    const endNs = process.hrtime.bigint();
    const read = check.next;
    if (read !== start.events) check.fail(`read ${read} records, ${start.events} were pushed`);
    return {
      kind: 'thread',
      role: 'consumer',
      startNs,
      endNs,
      events: read,
      dropped: 0,
      stalls: 0,
      mismatches: check.mismatches,
      firstMismatch: check.first,
    };
  };
}

/** Runs push and pop over a private ring of the same size before ready. */
function warmRingbufJs(Spsc: Awaited<ReturnType<typeof loadRingbufJs>>['RingBuffer'], bytes: number): void {
  const ring = new Spsc(new SharedArrayBuffer(bytes), Int32Array);
  const record = new Int32Array(RECORD_WORDS);
  const buf = new Int32Array(POP_RECORDS * RECORD_WORDS);
  const check = new RecordCheck();
  for (let seq = 0; seq < WARMUP_EVENTS; seq += 512) {
    produceRecords(ring, record, seq, 512);
    for (let w = ring.pop(buf); w > 0; w = ring.pop(buf)) check.take(buf, w);
  }
  if (check.mismatches !== 0) throw new Error(`ringbuf.js warm-up failed its own check: ${check.first}`);
}
