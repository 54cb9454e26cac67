import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { EventLog, type LogEntry } from '../../src/log/event-log.js';

// Workers run the build (the suite's global setup compiles it first).
const dist = (p: string): string => new URL(`../../dist/src/${p}`, import.meta.url).href;

/**
 * A worker that writes `count` events `{ worker, seq }`; optionally exits without closing, hangs
 * until terminated, or hangs inside a write it reserved and never commits ('hang-mid-write').
 * Given a `go` word, it claims its writer, posts `ready`, and waits for the word before writing.
 */
function writerWorker(
  handle: unknown,
  worker: number,
  count: number,
  ending: 'close' | 'leave' | 'hang' | 'hang-mid-write',
  go?: SharedArrayBuffer,
): Worker {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    (async () => {
      const { EventLog } = await import(${JSON.stringify(dist('log/event-log.js'))});
      const { defineEvent } = await import(${JSON.stringify(dist('log/event-schema.js'))});
      const Item = defineEvent('item', { worker: 'u32', seq: 'u32' });
      const log = EventLog.attach(workerData.handle);
      let writer;
      try { writer = log.writer(); } catch (err) { parentPort.postMessage({ error: err.message }); return; }
      if (workerData.go !== undefined) {
        const go = new Int32Array(workerData.go);
        parentPort.postMessage({ ready: true });
        if (Atomics.wait(go, 0, 0, 10000) === 'timed-out') throw new Error('no go signal');
      }
      let stored = 0;
      for (let seq = 0; seq < workerData.count; seq++) if (writer.emit(Item, { worker: workerData.worker, seq })) stored++;
      // Dies inside a write: reserved on the slot's ring buffer, payload half filled, never committed.
      if (workerData.ending === 'hang-mid-write') writer.cpu.reserve(1, 8);
      parentPort.postMessage({ stored, slot: writer.slot });
      if (workerData.ending === 'close') writer.close();
      if (workerData.ending === 'hang' || workerData.ending === 'hang-mid-write') setInterval(() => {}, 1000);
    })();
  `;
  return new Worker(code, { eval: true, workerData: { handle, worker, count, ending, go }, execArgv: [] });
}

function message(w: Worker): Promise<{ stored?: number; slot?: number; error?: string; ready?: boolean }> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

function exited(w: Worker): Promise<void> {
  return new Promise((resolve) => w.once('exit', () => resolve()));
}

function collect(log: EventLog, onEvent?: (e: LogEntry & { kind: 'event' }) => void): Map<number, number[]> {
  const byWorker = new Map<number, number[]>();
  log.drain((e: LogEntry) => {
    if (e.kind !== 'event') throw new Error(`unexpected ${e.kind} entry: ${JSON.stringify(e)}`);
    onEvent?.(e);
    const w = e.values['worker'] as number;
    if (!byWorker.has(w)) byWorker.set(w, []);
    byWorker.get(w)!.push(e.values['seq'] as number);
  });
  return byWorker;
}

describe('EventLog across worker threads', () => {
  it('with more threads than slots and onSlotsExhausted "error": the extra threads get a clear error, the rest log everything', async () => {
    const log = EventLog.create({ slots: 2, pagesPerSlot: 64, pageBytes: 4096, onSlotsExhausted: 'error' });
    const workers: Worker[] = [];
    try {
      // Two hold their slots (they hang until terminated); a third finds none.
      workers.push(writerWorker(log.handle, 0, 2_000, 'hang'), writerWorker(log.handle, 1, 2_000, 'hang'));
      const first = await Promise.all(workers.map(message));
      expect(first.map((m) => m.stored)).toEqual([2_000, 2_000]);
      const third = writerWorker(log.handle, 2, 10, 'close');
      workers.push(third);
      expect((await message(third)).error).toMatch(/every one of the log's 2 writer slots is taken/);
      const got = collect(log);
      for (const w of [0, 1]) expect(got.get(w)).toEqual([...Array(2_000).keys()]);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
      await log.close();
    }
  });

  it('with onSlotsExhausted "shared": six threads on three slots, every event arrives once, in order per thread', async () => {
    const log = EventLog.create({ slots: 3, pagesPerSlot: 256, pageBytes: 8192, onSlotsExhausted: 'shared' });
    const workers: Worker[] = [];
    try {
      // All six claim their writers, then start on one signal, so the four on the shared slot
      // write at the same time and take turns on its lock.
      const go = new SharedArrayBuffer(4);
      for (let w = 0; w < 6; w++) workers.push(writerWorker(log.handle, w, 20_000, 'close', go));
      const exits = workers.map(exited); // listen before they can exit
      expect((await Promise.all(workers.map(message))).every((m) => m.ready === true)).toBe(true);
      const finished = workers.map(message);
      Atomics.store(new Int32Array(go), 0, 1);
      Atomics.notify(new Int32Array(go), 0);
      const done = await Promise.all(finished);
      expect(done.every((m) => m.stored === 20_000)).toBe(true);
      // Two threads got their own slots; the others shared the last one.
      expect(new Set(done.map((m) => m.slot)).size).toBe(3);
      const shared = done.filter((m) => done.filter((n) => n.slot === m.slot).length > 1)[0]!.slot!;
      await Promise.all(exits);
      // On the shared slot, consecutive events change writer thread each time the lock passed
      // to another thread that was waiting for it: four threads that ran one after another
      // would change it 3 times, so more is contention (on 2 busy cores, a few dozen times).
      let previous = -1;
      let handovers = 0;
      const got = collect(log, (e) => {
        if (e.slot !== shared) return;
        const w = e.values['worker'] as number;
        if (previous !== -1 && w !== previous) handovers++;
        previous = w;
      });
      expect(handovers, 'the shared slot\'s lock changed hands').toBeGreaterThan(3);
      for (let w = 0; w < 6; w++) expect(got.get(w)).toEqual([...Array(20_000).keys()]);
      expect(log.stats().slots.reduce((n, s) => n + s.dropped, 0)).toBe(0);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
      await log.close();
    }
  });

  it('a worker that exits without closing its writer: its events are consumed and its slot is reclaimed', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 16, pageBytes: 4096 });
    try {
      const leaver = writerWorker(log.handle, 0, 500, 'leave');
      const leaverExit = exited(leaver);
      expect((await message(leaver)).stored).toBe(500);
      await leaverExit;
      const next = writerWorker(log.handle, 1, 500, 'close');
      const nextExit = exited(next);
      expect((await message(next)).stored).toBe(500);
      await nextExit;
      const got = collect(log);
      expect(got.get(0)).toEqual([...Array(500).keys()]);
      expect(got.get(1)).toEqual([...Array(500).keys()]);
    } finally {
      await log.close();
    }
  });

  it('a terminated worker is reclaimed through watch()', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 16, pageBytes: 4096 });
    try {
      const hung = writerWorker(log.handle, 0, 100, 'hang');
      log.watch(hung);
      expect((await message(hung)).stored).toBe(100);
      await hung.terminate();
      const next = writerWorker(log.handle, 1, 100, 'close');
      const nextExit = exited(next);
      expect((await message(next)).stored).toBe(100);
      await nextExit;
      const got = collect(log);
      expect(got.get(0)).toEqual([...Array(100).keys()]);
      expect(got.get(1)).toEqual([...Array(100).keys()]);
    } finally {
      await log.close();
    }
  });

  it('a worker terminated inside a write: watch() finishes its write as discarded, its committed events all arrive, the slot writes on', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 16, pageBytes: 4096 });
    try {
      const dying = writerWorker(log.handle, 0, 300, 'hang-mid-write');
      log.watch(dying);
      const dyingExit = exited(dying);
      expect((await message(dying)).stored).toBe(300);
      await dying.terminate();
      await dyingExit;
      const next = writerWorker(log.handle, 1, 300, 'close');
      const nextExit = exited(next);
      expect((await message(next)).stored).toBe(300);
      await nextExit;
      // Every entry is an event (collect throws on lost or corrupt ones), each thread's in order.
      const got = collect(log);
      expect(got.get(0)).toEqual([...Array(300).keys()]);
      expect(got.get(1)).toEqual([...Array(300).keys()]);
      // The write it died in took its index and was skipped as discarded, not lost or damaged.
      const s = log.stats().slots[0]!;
      expect(s.entries).toBe(601);
      expect(s.discarded).toBe(1);
      expect(s.corrupt).toBe(0);
      expect(s.unread).toBe(0);
    } finally {
      await log.close();
    }
  });
});
