/**
 * The stress harness checked in one thread: the verifier must catch torn, duplicated,
 * reordered and unaccounted events (a check that cannot fail proves nothing), the
 * writer's nested injection must verify cleanly against a real ring, and a failing
 * worker must reject a run, named, without hanging.
 */
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../../src/ring/ring-buffer.js';
import { PAGE_HEADER_BYTES } from '../../src/ring/layout.js';
import { RECORD_HEADER_BYTES } from '../../src/ring/record.js';
import { payloadHash, streamTag } from '../../src/check/stream-payload.js';
import { StreamVerifier, reconcile, type StreamEvent } from '../../src/check/stream-verifier.js';
import { STRESS_FORMAT, STRESS_STREAMS, STRESS_TYPE_BASE, StressWriter, type StressWriterResult } from '../../src/stress/stress-writer.js';
import { StressWorker } from '../../src/stress/stress-worker.js';
import { createControl } from '../../src/stress/stress-control.js';
import { runRingStress } from '../../src/stress/ring-stress.js';
import { testSeed } from '../seed.js';

/** A crafted event: the payload the writer would make, optionally damaged. */
function event(cpu: number, index: number, stream: number, seq: number, damage?: (w: Uint32Array) => void): StreamEvent {
  const tag = streamTag(cpu, stream);
  const words = new Uint32Array([seq >>> 0, tag, payloadHash(seq >>> 0, tag), ~seq >>> 0]);
  damage?.(words);
  return { cpu, index, type: STRESS_TYPE_BASE + stream, timestamp: index, length: 16, u32: (i) => words[i]! };
}

function feed(v: StreamVerifier, events: StreamEvent[]): StreamVerifier {
  for (const e of events) v.event(e);
  return v;
}

describe('StreamVerifier', () => {
  it('accepts a clean interleaving of streams', () => {
    const v = feed(new StreamVerifier(2, STRESS_FORMAT), [
      event(0, 0, 0, 0),
      event(0, 1, 1, 0),
      event(1, 0, 0, 0),
      event(0, 2, 2, 0),
      event(0, 3, 0, 1),
      event(1, 1, 1, 0),
    ]);
    expect(v.summary().failureLog).toEqual([]);
    expect(v.problems).toBe(0);
  });

  it('detects a torn event (one word changed, or words of two events mixed)', () => {
    const v = feed(new StreamVerifier(1, STRESS_FORMAT), [event(0, 0, 0, 0, (w) => (w[2] = w[2]! ^ 1))]);
    expect(v.problems).toBe(1);
    expect(v.summary().failureLog[0]).toMatch(/torn/);
    const mixed = event(0, 0, 0, 5, (w) => (w[3] = ~4 >>> 0));
    expect(feed(new StreamVerifier(1, STRESS_FORMAT), [mixed]).summary().failureLog[0]).toMatch(/torn/);
    const wrongCpu = event(0, 0, 0, 5, (w) => (w[1] = streamTag(1, 0)));
    expect(feed(new StreamVerifier(2, STRESS_FORMAT), [wrongCpu]).problems).toBe(1);
  });

  it('detects a duplicated event', () => {
    const v = feed(new StreamVerifier(1, STRESS_FORMAT), [event(0, 0, 0, 0), event(0, 1, 0, 1), event(0, 2, 0, 1)]);
    expect(v.problems).toBe(1);
    expect(v.summary().failureLog[0]).toMatch(/duplicated or reordered/);
  });

  it('detects reordered events within a stream', () => {
    const v = feed(new StreamVerifier(1, STRESS_FORMAT), [event(0, 0, 0, 0), event(0, 1, 0, 2), event(0, 2, 0, 1)]);
    expect(v.problems).toBe(1);
    expect(v.summary().failureLog[0]).toMatch(/seq 1 at index 2 after seq 2/);
  });

  it('detects an index gap no loss record covers, and a loss record that does not fit', () => {
    const gap = feed(new StreamVerifier(1, STRESS_FORMAT), [event(0, 0, 0, 0), event(0, 2, 0, 1)]);
    expect(gap.summary().failureLog[0]).toMatch(/index 2 where 1 was due/);

    const covered = new StreamVerifier(1, STRESS_FORMAT);
    covered.event(event(0, 0, 0, 0));
    covered.lost({ cpu: 0, count: 3, cause: 'overrun', beforeIndex: 4 });
    covered.event(event(0, 4, 0, 4));
    covered.lost({ cpu: 0, count: 2, cause: 'dropped', beforeIndex: 5 });
    covered.event(event(0, 5, 0, 7));
    expect(covered.summary().failureLog).toEqual([]);
    expect(covered.summary().gapMissing).toEqual([5]);

    const misplaced = new StreamVerifier(1, STRESS_FORMAT);
    misplaced.event(event(0, 0, 0, 0));
    misplaced.lost({ cpu: 0, count: 3, cause: 'overrun', beforeIndex: 5 });
    expect(misplaced.summary().failureLog[0]).toMatch(/3 lost \(overrun\) before index 5, but index 1 is due/);
  });

  it('counts corruption reports and corruption losses as problems', () => {
    const v = new StreamVerifier(1, STRESS_FORMAT);
    v.corrupt({ cpu: 0, pageSeq: 3, offset: 64, reason: 'test' });
    v.lost({ cpu: 0, count: 2, cause: 'corrupt', beforeIndex: 2 });
    expect(v.problems).toBe(2);
  });

  it('reconcile() finds seqs that vanished without a loss record, and counts that do not balance', () => {
    const v = feed(new StreamVerifier(1, STRESS_FORMAT), [event(0, 0, 0, 0), event(0, 1, 0, 1)]);
    const writer: StressWriterResult = {
      cpu: 0,
      attempts: [3, 0, 0, 0, 0, 0, 0, 0], // seq 2 was written but never read or reported lost
      stored: [3, 0, 0, 0, 0, 0, 0, 0],
      nmis: 0,
      nmisByPoint: [],
      maxDepth: 1,
      elapsedMs: 1,
    };
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256 });
    const rec = reconcile(v.summary(), [writer], ring.stats());
    expect(rec.unaccounted).toBe(1);
    expect(rec.failureLog.join('\n')).toMatch(/1 seqs never arrived but 0 events were reported lost/);
    expect(rec.failureLog.join('\n')).toMatch(/ring stats say written = 0, the harness counted 3/);
  });
});

describe('StressWriter and StressVerifier on a real ring, one thread', () => {
  for (const mode of ['overwrite', 'discard'] as const) {
    it(`injects nested writes at every hook point and verifies them (${mode})`, () => {
      const seed = testSeed(`stress-harness one-thread ${mode}`);
      const ring = RingBuffer.create({ cpus: 2, pagesPerCpu: 4, pageBytes: 1024, mode, clock: 'counter' });
      // A huge rate makes the initial mean interval ~10 hook calls: NMIs everywhere.
      const writers = [0, 1].map((cpu) => new StressWriter(ring.writer(cpu), { seed: seed + cpu, nmiPerSecond: 3e6 }));
      const reader = ring.reader();
      const verifier = new StreamVerifier(2, STRESS_FORMAT);
      for (let round = 0; round < 100; round++) {
        for (const w of writers) w.writeBatch(100);
        // Fall a little behind on purpose, so events are lost, yet free pages often
        // enough that discard mode also reaches the page-switch hook points.
        reader.read(verifier, { maxEvents: 150 });
      }
      reader.drain(verifier);
      const results = writers.map((w) => w.result(1));
      const rec = reconcile(verifier.summary(), results, ring.stats());
      expect(rec.failureLog).toEqual([]);
      expect(rec.failures + rec.corruptReports + rec.unaccounted).toBe(0);
      const stats = ring.stats();
      expect(Math.max(...stats.map((s) => s.maxNesting))).toBeGreaterThanOrEqual(4);
      expect(stats.reduce((a, s) => a + s.overrun + s.dropped, 0)).toBeGreaterThan(0);
      for (const r of results) {
        expect(r.nmis).toBeGreaterThan(500);
        r.nmisByPoint.forEach((n, point) => expect(n, `hook point ${point}`).toBeGreaterThan(0));
        expect(r.attempts.length).toBe(STRESS_STREAMS);
      }
    });
  }

  it('catches an event torn in the ring memory', () => {
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 1024, mode: 'discard', clock: 'counter' });
    const w = new StressWriter(ring.writer(0), { seed: 1, nmiPerSecond: 0 });
    w.writeBatch(10);
    // The first record of page 0 is a data record (small counter timestamp): tear its payload word 2.
    const payload = ring.view.pagesBase(0) + PAGE_HEADER_BYTES + RECORD_HEADER_BYTES;
    const word = (payload >> 2) + 2;
    ring.view.i32[word] = ring.view.i32[word]! ^ 0x100;
    const verifier = new StreamVerifier(1, STRESS_FORMAT);
    ring.reader().drain(verifier);
    const s = verifier.summary();
    expect(s.failures).toBe(1);
    expect(s.failureLog[0]).toMatch(/cpu 0: event 0 is torn/);
    expect(s.read).toEqual([10]);
  });
});

describe('worker failures', () => {
  it('a worker that throws rejects with its name and does not hang', async () => {
    const ring = RingBuffer.create({ cpus: 2, pagesPerCpu: 2, pageBytes: 256 });
    const control = createControl();
    const worker = new StressWorker(
      'ring-writer',
      'writer of cpu 7',
      {
        kind: 'writer',
        ring: ring.buffer,
        control: control.buffer as SharedArrayBuffer,
        cpu: 7, // the ring has 2 cpus: ring.writer(7) throws in the worker
        seed: 1,
        nmiPerSecond: 0,
        maxDepth: 1,
        startTimeoutMs: 5000,
        runTimeoutMs: 5000,
      },
      'writer-done',
    );
    try {
      await expect(worker.expect('ready', 20_000)).rejects.toThrow(/writer of cpu 7 failed: cpu must be an integer between 0 and 1/);
      await expect(worker.failed).rejects.toThrow(/writer of cpu 7/);
    } finally {
      await worker.terminate();
    }
  });

  it('a run whose workers miss a deadline rejects instead of hanging', async () => {
    await expect(runRingStress({ cpus: 1, seconds: 0.1, timeoutMs: 1, seed: 1 })).rejects.toThrow(/no 'ready' message within 1 ms/);
  });

  it('rejects bad options before starting any thread', async () => {
    await expect(runRingStress({ cpus: 0 })).rejects.toThrow(RangeError);
    await expect(runRingStress({ seconds: -1 })).rejects.toThrow(/options.seconds must be a number between/);
    await expect(runRingStress({ pageBytes: 1000 })).rejects.toThrow(/options.pageBytes must be a power of two/);
  });
});
