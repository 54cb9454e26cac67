/**
 * The writer-counter loop alone, for a CPU profiler (not part of the suite):
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/ring/profile-writer.js [counter|hrtime] [seconds]
 *   perf record -g node --perf-basic-prof dist/bench/ring/profile-writer.js counter 5
 *
 * Same ring, payload and loop as the writer benchmarks; prints ns/event per second of running.
 */
import { RingBuffer } from '../../src/ring/ring-buffer.js';
import { PAGES_PER_CPU, PAGE_BYTES } from './config.js';
import { EVENT_TYPE, word1, word2, word3 } from './payload.js';

const clock = process.argv[2] === 'hrtime' ? 'hrtime' : 'counter';
const seconds = Number(process.argv[3] ?? 5);
if (!(seconds > 0 && seconds <= 600)) throw new RangeError(`seconds must be a number in (0, 600] (got ${process.argv[3]})`);
const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: PAGES_PER_CPU, pageBytes: PAGE_BYTES, mode: 'overwrite', clock });
const writer = rb.writer(0);
const BATCH = 1 << 20;
let seq = 0;
const endAt = Date.now() + seconds * 1000;
while (Date.now() < endAt) {
  const t0 = process.hrtime.bigint();
  const end = seq + BATCH;
  for (let s = seq; s < end; s++) writer.write(EVENT_TYPE, s, word1(s), word2(s), word3(s));
  seq = end;
  process.stdout.write(`writer-${clock}: ${(Number(process.hrtime.bigint() - t0) / BATCH).toFixed(2)} ns/event\n`);
}
const s = rb.cpuStats(0);
if (s.entries !== seq || s.dropped !== 0) throw new Error(`wrote ${seq}, stats say ${s.entries} entries, ${s.dropped} dropped`);
