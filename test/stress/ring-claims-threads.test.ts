import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { RingBuffer } from '../../src/ring/ring-buffer.js';

// Workers run the build (the suite's global setup compiles it first).
const dist = (p: string): string => new URL(`../../dist/src/${p}`, import.meta.url).href;

/**
 * Invariant I1 across racing threads: several threads, released by one signal, each try to
 * claim the same CPU buffer's writer and the ring's reader at once; exactly one of each wins,
 * the others get the ownership error, and after the winners close the next round starts free.
 */
describe('claims raced by threads', () => {
  it('one writer per CPU buffer and one reader per ring, whoever races for them', async () => {
    const THREADS = 4;
    const ROUNDS = 30;
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, clock: 'counter' });
    // [0]: the round released; [1..THREADS]: each thread's progress, 2 round - 1 once it has
    // tried the claims, 2 round once it has given back what it won.
    const control = new Int32Array(new SharedArrayBuffer(4 * (THREADS + 1)));
    // Per round and thread: bit 0 won the writer, bit 1 won the reader, bit 2/3 got the ownership error for each.
    const outcome = new Int32Array(new SharedArrayBuffer(4 * ROUNDS * THREADS));
    const code = `
      const { workerData } = require('node:worker_threads');
      import(workerData.ringUrl).then(({ RingBuffer }) => {
        const rb = RingBuffer.attach(workerData.buffer);
        const control = new Int32Array(workerData.control);
        const outcome = new Int32Array(workerData.outcome);
        const me = workerData.thread;
        for (let round = 1; round <= workerData.rounds; round++) {
          if (Atomics.wait(control, 0, round - 1, 10000) === 'timed-out' && Atomics.load(control, 0) !== round) throw new Error('no round ' + round);
          let bits = 0, w = null, r = null;
          try { w = rb.writer(0); bits |= 1; } catch (e) { if (e.code === 'ERR_RING_OWNED') bits |= 4; else throw e; }
          try { r = rb.reader(); bits |= 2; } catch (e) { if (e.code === 'ERR_RING_OWNED') bits |= 8; else throw e; }
          outcome[(round - 1) * workerData.threads + me] = bits;
          // Hold the claims until every thread has tried, so a late thread cannot win a freed one.
          Atomics.store(control, 1 + me, 2 * round - 1);
          const deadline = Date.now() + 10000;
          for (let t = 0; t < workerData.threads; t++) while (Atomics.load(control, 1 + t) < 2 * round - 1) if (Date.now() > deadline) throw new Error('peer stuck');
          w?.close(); r?.close();
          Atomics.store(control, 1 + me, 2 * round);
        }
      });
    `;
    const workers = [...Array(THREADS).keys()].map(
      (thread) =>
        new Worker(code, {
          eval: true,
          execArgv: [],
          workerData: { ringUrl: dist('ring/ring-buffer.js'), buffer: rb.buffer, control: control.buffer, outcome: outcome.buffer, thread, threads: THREADS, rounds: ROUNDS },
        }),
    );
    const failed = Promise.race(workers.map((w) => new Promise<never>((_, reject) => w.once('error', reject))));
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        Atomics.store(control, 0, round);
        Atomics.notify(control, 0);
        // Wait (without blocking this thread) until every thread has tried and given back.
        const deadline = Date.now() + 10_000;
        while ([...Array(THREADS).keys()].some((t) => Atomics.load(control, 1 + t) < 2 * round)) {
          if (Date.now() > deadline) throw new Error(`round ${round} did not finish`);
          await Promise.race([failed, new Promise((r) => setTimeout(r, 1))]);
        }
        const bits = [...outcome.subarray((round - 1) * THREADS, round * THREADS)];
        expect(bits.filter((b) => (b & 1) !== 0), `round ${round}: ${bits}`).toHaveLength(1);
        expect(bits.filter((b) => (b & 2) !== 0), `round ${round}: ${bits}`).toHaveLength(1);
        // Every loser was told by the ownership error.
        expect(bits.every((b) => ((b & 1) !== 0) !== ((b & 4) !== 0) && ((b & 2) !== 0) !== ((b & 8) !== 0)), `round ${round}: ${bits}`).toBe(true);
      }
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
    // The claims were all given back: this thread can take both now.
    rb.writer(0).close();
    rb.reader().close();
  });
});
