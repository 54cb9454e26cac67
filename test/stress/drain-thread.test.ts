import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { DrainThread, EventLog, defineEvent, readBinaryLog, type LogEntry } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ringtrace-drain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));

const Seq = defineEvent('seq', { thread: 'u32', seq: 'u32', note: 'string' });

function events(entries: readonly LogEntry[], thread?: number): number[] {
  return entries.flatMap((e) => (e.kind === 'event' && e.name === 'seq' && (thread === undefined || e.values['thread'] === thread) ? [e.values['seq'] as number] : []));
}

/** A JSON line (JsonLinesSink's flat shape) as the entry it was written from, enough for these checks. */
function jsonLineEntry(line: string): LogEntry {
  const o = JSON.parse(line) as Record<string, unknown>;
  if ('lost' in o) return { kind: 'lost', slot: o['slot'] as number, count: o['lost'] as number, cause: o['cause'] as 'dropped', beforeIndex: o['before'] as number };
  if ('corrupt' in o) return { kind: 'corrupt', slot: o['slot'] as number, reason: o['corrupt'] as string };
  const { time: _time, t, slot, i, event, ...values } = o;
  return { kind: 'event', name: event as string, slot: slot as number, index: i as number, timestamp: t as number, values, truncated: false };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe('DrainThread: the log drained on a thread of its own', () => {
  it('binary sink: every event a main-thread writer commits, in order, with none decoded on the way', async () => {
    const log = EventLog.create({ slots: 1, pagesPerSlot: 64, mode: 'discard' });
    const path = join(dir, 'main.rtlog');
    const drain = await DrainThread.start(log, { sink: { kind: 'binary', path, flags: 'w' } });
    const w = log.writer();
    let stored = 0;
    for (let i = 0; i < 60_000; i++) {
      if (w.emit(Seq, { thread: 0, seq: i, note: `n${i % 97}` })) stored++;
      // Let the drain keep up now and then, as a server's event loop would.
      if (i % 5000 === 4999) await drain.flush();
    }
    const totals = await drain.close();
    const entries = readBinaryLog(path);
    expect(stored).toBe(60_000);
    expect(events(entries)).toEqual(range(0, 60_000));
    expect(entries.filter((e) => e.kind !== 'event')).toEqual([]);
    expect(totals.events).toBe(60_000);
    expect(log.stats().slots[0]!.unread).toBe(0);
    await log.close();
  });

  it('binary sink with two writer threads at full speed in discard mode: every event is in the file or counted as dropped', async () => {
    const log = EventLog.create({ slots: 2, pagesPerSlot: 16, pageBytes: 4096, mode: 'discard' });
    const path = join(dir, 'threads.rtlog');
    const drain = await DrainThread.start(log, { sink: { kind: 'binary', path, flags: 'w' } });
    const count = 200_000;
    const workers = [1, 2].map(
      (thread) => new Worker(join(fixtures, 'full-speed-writer.mjs'), { workerData: { log: log.handle, thread, count }, execArgv: [] }),
    );
    try {
      const results = await Promise.all(workers.map((w) => new Promise<{ stored: number[]; emitted: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      })));
      const totals = await drain.close();
      const entries = readBinaryLog(path);
      for (const [i, thread] of [1, 2].entries()) {
        const got = events(entries, thread);
        // What the writer stored, exactly, in order: nothing the ring took was lost on the way out.
        expect(got.length).toBe(results[i]!.stored.length);
        expect(got).toEqual(results[i]!.stored);
      }
      const dropped = entries.reduce((n, e) => n + (e.kind === 'lost' && e.cause === 'dropped' ? e.count : 0), 0);
      const refused = results.reduce((n, r) => n + r.emitted - r.stored.length, 0);
      expect(dropped).toBe(refused);
      expect(entries.filter((e) => e.kind === 'corrupt' || (e.kind === 'lost' && e.cause !== 'dropped'))).toEqual([]);
      expect(totals.events).toBe(results.reduce((n, r) => n + r.stored.length, 0));
      console.log(`[drain] 2 writers x ${count}: stored ${totals.events}, dropped ${dropped}, file ${totals.bytes} bytes`);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
      await log.close();
    }
  });

  it('JSON lines and a module sink: decoded and written in the drain thread, every event in order', async () => {
    for (const kind of ['jsonl', 'module'] as const) {
      const log = EventLog.create({ slots: 1, pagesPerSlot: 64, mode: 'discard' });
      const path = join(dir, `sink.${kind}`);
      writeFileSync(path, '');
      const drain = await DrainThread.start(log, {
        sink: kind === 'jsonl' ? { kind, path } : { kind, module: join(fixtures, 'collect-sink.mjs'), options: { path } },
      });
      const w = log.writer();
      for (let i = 0; i < 20_000; i++) expect(w.emit(Seq, { thread: 0, seq: i, note: 'x' })).toBe(true);
      const totals = await drain.close();
      const lines = readFileSync(path, 'utf8').trim().split('\n');
      const seqs = kind === 'jsonl' ? lines.map((l) => (JSON.parse(l) as { seq: number }).seq) : lines.map((l) => Number(l.split(' ')[1]));
      expect(seqs).toEqual(range(0, 20_000));
      expect(totals.events).toBe(20_000);
      await log.close();
    }
  });

  it('refuses bad options in one line, and starts nothing', async () => {
    const log = EventLog.create({ slots: 1 });
    await expect(DrainThread.start(log, { sink: { kind: 'binary', path: join(dir, 'x') }, flushMS: 5 } as never)).rejects.toThrow(/DrainThread options: unknown option "flushMS" \(the options are sink, flushMs/);
    await expect(DrainThread.start(log, { sink: { kind: 'csv', path: 'x' } } as never)).rejects.toThrow(RangeError);
    await expect(DrainThread.start(log, { sink: { kind: 'binary', path: join(dir, 'x'), flag: 'a' } } as never)).rejects.toThrow(/options.sink \(binary\): unknown option "flag"/);
    await expect(DrainThread.start(log, { sink: { kind: 'binary', path: join(dir, 'x') }, pollMs: -1 })).rejects.toThrow(/options.pollMs must be/);
    await expect(DrainThread.start(log, { sink: { kind: 'module', module: join(dir, 'missing.mjs') } })).rejects.toThrow();
    // The reader role is free again: nothing was left running.
    expect(log.drain(() => undefined)).toBe(0);
    await log.close();
  });
});

/** Runs the child, signalling it when it says ready; resolves with how it ended. */
function runChild(mode: string, sink: string, path: string, count: number, signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(fixtures, 'drain-child.mjs'), mode, sink, path, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      if (signal !== undefined && d.toString().includes('ready')) child.kill(signal);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child ${mode} did not end within 30 s: ${stderr}`));
    }, 30_000);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, stderr });
    });
  });
}

describe('no lost tail: every committed event reaches the sink however the process ends', () => {
  const count = 30_000;
  const cases: { mode: string; signal?: NodeJS.Signals; expect: { code: number | null; signal: NodeJS.Signals | null }; extra?: number }[] = [
    { mode: 'normal', expect: { code: 0, signal: null } },
    { mode: 'exit', expect: { code: 3, signal: null } },
    { mode: 'throw', expect: { code: 1, signal: null } },
    { mode: 'reject', expect: { code: 1, signal: null } },
    { mode: 'sigterm', signal: 'SIGTERM', expect: { code: null, signal: 'SIGTERM' } },
    { mode: 'sigint', signal: 'SIGINT', expect: { code: null, signal: 'SIGINT' } },
    { mode: 'handled-sigterm', signal: 'SIGTERM', expect: { code: 0, signal: null }, extra: 10 },
    { mode: 'worker-crash', expect: { code: 0, signal: null } },
    { mode: 'worker-terminate', expect: { code: 0, signal: null } },
    { mode: 'drain-dies', expect: { code: 0, signal: null }, extra: 1000 },
  ];
  for (const c of cases) {
    for (const sink of ['binary', 'jsonl'] as const) {
      it(`${c.mode} (${sink})`, async () => {
        const path = join(dir, `exit-${c.mode}.${sink}`);
        const ended = await runChild(c.mode, sink, path, count, c.signal);
        expect({ code: ended.code, signal: ended.signal }).toEqual(c.expect);
        const entries: LogEntry[] = sink === 'binary' ? readBinaryLog(path) : readFileSync(path, 'utf8').trim().split('\n').map(jsonLineEntry);
        expect(events(entries, 0)).toEqual(range(0, count + (c.extra ?? 0)));
        if (c.mode.startsWith('worker')) expect(events(entries, 1)).toEqual(range(0, count));
        // A drain thread that died leaves its segment without an end record, which the reader says.
        const others = entries.filter((e) => e.kind !== 'event');
        if (c.mode === 'drain-dies' && sink === 'binary') expect(others).toMatchObject([{ kind: 'corrupt', reason: expect.stringMatching(/segment 0 has no end record/) as unknown }]);
        else expect(others).toEqual([]);
      });
    }
  }
});
