import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { DrainThread, EventLog, RingBuffer, readBinaryLog, type LogEntry } from '../../src/index.js';
import { PAGE_HEADER_BYTES } from '../../src/ring/layout.js';
import { prng, testSeed } from '../seed.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ringtrace-block-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Events of a 16-byte payload a page holds at most (8-byte header each). */
const perPage = (pageBytes: number): number => Math.floor((pageBytes - PAGE_HEADER_BYTES) / 24);

interface WriterDone {
  kind: 'done';
  stored: number;
  drops: number[];
  wallMs: number;
}
interface ConsumerDone {
  kind: 'done';
  got: number;
  lost: number;
  errors: string[];
  next: number[];
  pacedAt: [number, number][];
}

/** A fixture thread, its 'ready' awaited; `done` resolves with its report (and rejects if it fails). */
async function start<T>(workers: Worker[], data: object): Promise<{ worker: Worker; done: Promise<T> }> {
  const worker = new Worker(join(fixtures, 'block-ring-worker.mjs'), { workerData: data, execArgv: [] });
  workers.push(worker);
  const messages: unknown[] = [];
  let wake: (() => void) | null = null;
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`fixture thread exited with ${code}`)));
  });
  failed.catch(() => undefined);
  worker.on('message', (m) => {
    messages.push(m);
    wake?.();
  });
  const next = async (): Promise<unknown> => {
    while (messages.length === 0) await Promise.race([new Promise<void>((r) => (wake = r)), failed]);
    return messages.shift();
  };
  expect(await next()).toEqual({ kind: 'ready' });
  return { worker, done: next() as Promise<T> };
}

async function stopAll(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.terminate()));
}

describe('block mode with real threads: the writer waits for a slow consumer, bounded', () => {
  it('a slow consumer: every event arrives in order, none dropped, and the writer was held to its pace', async () => {
    const seed = testSeed('block slow consumer');
    const rand = prng(seed);
    const pages = 4;
    const pageBytes = 256;
    const count = 1500 + Math.floor(rand() * 500);
    const batches = Array.from({ length: 64 }, () => 8 + Math.floor(rand() * 17));
    const sleepsMs = Array.from({ length: 64 }, () => 1 + Math.floor(rand() * 3));
    // The bound is far above the consumer's naps: a drop here would be a missed wake, not a slow machine.
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: pages, pageBytes, mode: 'block', blockTimeoutMs: 2000 });
    const workers: Worker[] = [];
    try {
      const consumer = await start<ConsumerDone>(workers, { role: 'consumer', buffer: ring.buffer, batches, sleepsMs, expect: count, stopAfter: Infinity, deadlineMs: 60_000 });
      const writer = await start<WriterDone>(workers, { role: 'writer', buffer: ring.buffer, cpu: 0, count });
      writer.worker.postMessage('go');
      const [w, c] = await Promise.all([writer.done, consumer.done]);
      expect(c.errors, `seed ${seed}`).toEqual([]);
      expect(w.drops, `seed ${seed}`).toEqual([]);
      expect(w.stored).toBe(count);
      expect(c.got).toBe(count);
      expect(c.lost).toBe(0);
      expect(c.next).toEqual([count]);
      const s = ring.cpuStats(0);
      expect(s.dropped).toBe(0);
      expect(s.blocked).toBeGreaterThan(0);
      expect(s.blockedMs).toBeGreaterThan(0);
      // The last event could be stored only once the consumer had read all but what the ring
      // and its reader page hold, so only after the naps it took before that point.
      const mustHaveRead = count - (pages + 1) * perPage(pageBytes);
      const forcedMs = c.pacedAt.filter(([before]) => before < mustHaveRead).reduce((_, [, paced]) => paced, 0);
      // At least (count - 40) / 24 naps of >= 1 ms whatever the seed: the pacing is real.
      expect(forcedMs).toBeGreaterThan(50);
      expect(w.wallMs, `seed ${seed}`).toBeGreaterThanOrEqual(forcedMs);
      console.log(`[block] seed ${seed}: ${count} events, writer ${w.wallMs.toFixed(0)} ms (consumer's pace forces >= ${forcedMs} ms), blocked ${s.blocked} writes for ${s.blockedMs.toFixed(0)} ms`);
    } finally {
      await stopAll(workers);
    }
  });

  it('a consumer that stops: each later write waits the bound, then drops, counted', async () => {
    const seed = testSeed('block stopped consumer');
    const rand = prng(seed);
    const boundMs = 40;
    const stopAfter = 50 + Math.floor(rand() * 100);
    const ring = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256, mode: 'block', blockTimeoutMs: boundMs });
    const workers: Worker[] = [];
    try {
      const consumer = await start<ConsumerDone>(workers, { role: 'consumer', buffer: ring.buffer, batches: [10], sleepsMs: [1], expect: Infinity, stopAfter, deadlineMs: 60_000 });
      const writer = await start<WriterDone>(workers, { role: 'writer', buffer: ring.buffer, cpu: 0, count: 1_000_000, stopAfterDrops: 5 });
      writer.worker.postMessage('go');
      const [w, c] = await Promise.all([writer.done, consumer.done]);
      expect(c.errors, `seed ${seed}`).toEqual([]);
      expect(c.got).toBe(stopAfter);
      expect(w.drops).toHaveLength(5);
      for (const ms of w.drops) {
        // A correctness bound, not a speed target: at least the bound, and not stuck far past it.
        expect(ms, `seed ${seed}: drops took ${w.drops.join(', ')} ms`).toBeGreaterThanOrEqual(boundMs);
        expect(ms, `seed ${seed}: drops took ${w.drops.join(', ')} ms`).toBeLessThan(boundMs + 500);
      }
      const s = ring.cpuStats(0);
      expect(s.entries).toBe(w.stored);
      expect(s.dropped).toBe(5);
      expect(s.written).toBe(w.stored + 5);
      expect(s.blocked).toBeGreaterThanOrEqual(5);
      expect(s.blockedMs).toBeGreaterThanOrEqual(5 * boundMs);
      console.log(`[block] seed ${seed}: consumer stopped after ${stopAfter}; writer stored ${w.stored}, drops took ${w.drops.map((d) => d.toFixed(1)).join(', ')} ms (bound ${boundMs})`);
    } finally {
      await stopAll(workers);
    }
  });

  it('DrainThread with a binary sink and two writer threads in block mode: every event in the file, in order, none lost', async () => {
    const log = EventLog.create({ slots: 2, pagesPerSlot: 4, pageBytes: 4096, mode: 'block', blockTimeoutMs: 5000 });
    const path = join(dir, 'block.rtlog');
    const drain = await DrainThread.start(log, { sink: { kind: 'binary', path, flags: 'w' } });
    const count = 100_000;
    const workers = [1, 2].map((thread) => new Worker(join(fixtures, 'full-speed-writer.mjs'), { workerData: { log: log.handle, thread, count }, execArgv: [] }));
    try {
      const results = await Promise.all(
        workers.map((w) => new Promise<{ stored: number[]; emitted: number }>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        })),
      );
      await drain.close();
      const entries = readBinaryLog(path);
      const seqs = (thread: number): number[] => entries.flatMap((e: LogEntry) => (e.kind === 'event' && e.values['thread'] === thread ? [e.values['seq'] as number] : []));
      const all = Array.from({ length: count }, (_, i) => i);
      for (const [i, thread] of [1, 2].entries()) {
        expect(results[i]!.stored.length).toBe(count);
        expect(seqs(thread)).toEqual(all);
      }
      expect(entries.filter((e) => e.kind !== 'event')).toEqual([]);
      const slots = log.stats().slots;
      expect(slots.map((s) => s.dropped)).toEqual([0, 0]);
      console.log(`[block] drain thread, 2 writers x ${count}: blocked ${slots.map((s) => `${s.blocked} writes / ${s.blockedMs.toFixed(0)} ms`).join(', ')}`);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
      await drain.close();
      await log.close();
    }
  });
});
