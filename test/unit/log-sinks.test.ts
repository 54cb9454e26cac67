import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog, type LogEntry } from '../../src/log/event-log.js';
import { defineEvent } from '../../src/log/event-schema.js';
import { BinaryLogSink, JsonLinesSink, type JsonLinesSinkOptions, loadDump, pipeLog, readBinaryLog, writeDump } from '../../src/log/sinks.js';

const Tick = defineEvent('tick', { n: 'u32', big: 'u64', label: 'string' });

describe('log sinks', () => {
  it('streams JSON lines with back-pressure until aborted, and flushes on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-'));
    // The ring holds all 20,000 events (~0.8 MB): the sink may fall behind by all of them and lose none.
    const log = EventLog.create({ slots: 1, pagesPerSlot: 256, pageBytes: 8192, clock: 'counter' });
    try {
      const w = log.writer();
      const controller = new AbortController();
      const file = join(dir, 'log.jsonl');
      const piping = pipeLog(log, await JsonLinesSink.open(file), { signal: controller.signal, pollMs: 1 });
      for (let n = 0; n < 20_000; n++) {
        w.emit(Tick, { n, big: 2n ** 63n + BigInt(n), label: `t${n}` });
        if (n % 5_000 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      controller.abort();
      expect(await piping).toBe(20_000);
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toHaveLength(20_000);
      expect(lines.map((l) => l['n'])).toEqual([...Array(20_000).keys()]);
      expect(lines[3]).toEqual({ t: 3, slot: 0, i: 3, event: 'tick', n: 3, big: (2n ** 63n + 3n).toString(), label: 't3' });
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('JSON lines: appends by default, truncates with flags: w, batches writes in bufferBytes, carries epoch time with the log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-'));
    const log = EventLog.create({ slots: 1, pagesPerSlot: 8, pageBytes: 4096 }); // hrtime clock
    try {
      const file = join(dir, 'app.jsonl');
      const entry = (n: number): LogEntry => ({ kind: 'event', name: 'tick', slot: 0, index: n, timestamp: n * 1e6, values: { n }, truncated: false });
      const runOnce = async (from: number, options: JsonLinesSinkOptions): Promise<void> => {
        const sink = await JsonLinesSink.open(file, options);
        for (let n = from; n < from + 3; n++) await sink.write(entry(n));
        await sink.close();
      };
      await runOnce(0, {});
      await runOnce(3, {}); // a restart: the first run's lines stay
      const ns = (): unknown[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { n: number }).n);
      expect(ns()).toEqual([0, 1, 2, 3, 4, 5]);
      await runOnce(6, { flags: 'w' });
      expect(ns()).toEqual([6, 7, 8]);

      // Lines wait in the buffer until it is full: nothing reaches the file before, all of it after close().
      const batched = join(dir, 'batched.jsonl');
      const sink = await JsonLinesSink.open(batched, { bufferBytes: 4096, log });
      for (let n = 0; n < 50; n++) await sink.write(entry(n)); // ~50 x 60 bytes: under 4096
      expect(statSync(batched).size).toBe(0);
      for (let n = 50; n < 2_000; n++) await sink.write(entry(n));
      expect(statSync(batched).size).toBeGreaterThan(0);
      await sink.close();
      const lines = readFileSync(batched, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { n: number; t: number; time: number });
      expect(lines.map((l) => l.n)).toEqual([...Array(2_000).keys()]);
      // With the log, `time` is epoch ms: log.epochMs of the timestamp, floored.
      expect(lines[7]!.time).toBe(Math.floor(log.epochMs(7e6)));
      // And a tool we did not write reads the file as JSON lines: jq (Debian's), field by field.
      const jq = execFileSync('jq', ['-c', '[.event, .i, .n, (.time | type)]', batched], { encoding: 'utf8' }).trim().split('\n');
      expect(jq).toHaveLength(2_000);
      expect(jq[1_234]).toBe('["tick",1234,1234,"number"]');
      await expect(sink.write(entry(0))).rejects.toThrow(/closed/);
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('JSON lines: fsync on close when asked; unknown or bad options rejected with the known ones named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-'));
    try {
      const file = join(dir, 'x.jsonl');
      const probe = await open(file, 'a');
      const syncs = vi.spyOn(Object.getPrototypeOf(probe) as { sync(): Promise<void> }, 'sync');
      await probe.close();
      try {
        const plain = await JsonLinesSink.open(file);
        await plain.close();
        expect(syncs).not.toHaveBeenCalled();
        const synced = await JsonLinesSink.open(file, { fsync: true });
        await synced.write({ kind: 'lost', slot: 0, count: 1, cause: 'dropped', beforeIndex: 1 });
        await synced.close();
        expect(syncs).toHaveBeenCalledTimes(1);
      } finally {
        syncs.mockRestore();
      }
      expect(readFileSync(file, 'utf8')).toBe('{"slot":0,"lost":1,"cause":"dropped","before":1}\n');
      await expect(JsonLinesSink.open(file, { buffer: 1 } as never)).rejects.toThrow(/^unknown JsonLinesSink option "buffer" \(options are bufferBytes, flags, fsync, log\)$/);
      await expect(JsonLinesSink.open(file, { bufferBytes: 100 })).rejects.toThrow(RangeError);
      await expect(JsonLinesSink.open(file, { bufferBytes: '1' as never })).rejects.toThrow(TypeError);
      await expect(JsonLinesSink.open(file, { flags: 'r' as never })).rejects.toThrow(/options.flags must be 'a' \(append\) or 'w' \(truncate\)/);
      await expect(JsonLinesSink.open(file, { fsync: 1 as never })).rejects.toThrow(TypeError);
      await expect(JsonLinesSink.open(file, { log: {} as never })).rejects.toThrow(TypeError);
      expect(readFileSync(file, 'utf8')).toBe('{"slot":0,"lost":1,"cause":"dropped","before":1}\n'); // bad options touch nothing
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('JSON lines: a failed write (a full disk) rejects the writes after it and close(), not silently later lines', async () => {
    const sink = await JsonLinesSink.open('/dev/full', { bufferBytes: 4096 });
    const entry: LogEntry = { kind: 'lost', slot: 0, count: 1, cause: 'dropped', beforeIndex: 1 };
    let failure: unknown = null;
    for (let n = 0; n < 1_000 && failure === null; n++) {
      try {
        await sink.write(entry);
      } catch (err) {
        failure = err;
      }
    }
    expect((failure as NodeJS.ErrnoException | null)?.code).toBe('ENOSPC');
    await expect(sink.write(entry)).rejects.toThrow(/ENOSPC/);
    await expect(sink.close()).rejects.toThrow(/ENOSPC/);
  });

  it('streams the binary log, schemas inside, and reads back the same entries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-'));
    const log = EventLog.create({ slots: 1, pagesPerSlot: 2, pageBytes: 1024, mode: 'discard', clock: 'counter' });
    try {
      const w = log.writer();
      for (let n = 0; n < 100; n++) w.emit(Tick, { n, big: BigInt(n) * 3n, label: `é${n}` }); // the ring fills: losses too
      const file = join(dir, 'log.bin');
      const expected: unknown[] = [];
      const sink = await BinaryLogSink.open(file, log);
      log.drain((e) => expected.push(e));
      for (const e of expected) await sink.write(e as never);
      await sink.close();
      const back = readBinaryLog(file);
      expect(back).toEqual(expected);
      expect(back.some((e) => e.kind === 'lost' && e.cause === 'dropped')).toBe(true);
      writeFileSync(join(dir, 'short.bin'), readFileSync(file).subarray(0, 30));
      // Cut short: reported, not thrown (the fuzz tests cut it everywhere).
      expect(readBinaryLog(join(dir, 'short.bin'))).toEqual([{ kind: 'corrupt', slot: -1, reason: expect.stringMatching(/^record at byte \d+: the file ends inside the record/) }]);
      writeFileSync(join(dir, 'foreign.bin'), 'RTLOG02\n');
      expect(() => readBinaryLog(join(dir, 'foreign.bin'))).toThrow(/is not a ringtrace binary log/);
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('dumps the memory image synchronously and reads it back in a fresh log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-'));
    const log = EventLog.create({ slots: 2, pagesPerSlot: 4, pageBytes: 4096, mode: 'overwrite', clock: 'counter' });
    try {
      const w = log.writer();
      for (let n = 0; n < 1_000; n++) w.emit(Tick, { n, big: BigInt(n), label: 'x' });
      const file = join(dir, 'crash.dump');
      writeDump(log, file);
      const loaded = loadDump(file);
      const ns: number[] = [];
      loaded.drain((e) => e.kind === 'event' && ns.push(e.values['n'] as number));
      expect(ns.at(-1)).toBe(999);
      expect(ns).toEqual(ns.map((_, i) => 1_000 - ns.length + i));
      writeFileSync(join(dir, 'bad.dump'), 'nope');
      expect(() => loadDump(join(dir, 'bad.dump'))).toThrow(/not a ringtrace dump/);
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('flight recorder', () => {
  it('writes the dump when the process dies of an uncaught exception', async () => {
    const { spawnSync } = await import('node:child_process');
    const { existsSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-'));
    try {
      const file = join(dir, 'crash.dump');
      const script = new URL('../../dist/examples/flight-recorder.js', import.meta.url);
      const r = spawnSync(process.execPath, [script.pathname, file], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/something went wrong/);
      expect(existsSync(file)).toBe(true);
      const loaded = loadDump(file);
      const ns: number[] = [];
      loaded.drain((e) => e.kind === 'event' && ns.push(e.values['n'] as number));
      expect(ns.at(-1)).toBe(999_999); // the last events before the crash
      expect(ns.length).toBeGreaterThan(10_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('installFlightRecorder with signals', () => {
  for (const handled of [false, true]) {
    it(`dumps on SIGTERM, then the process ends as it would have (${handled ? 'its own handler exits 7' : 'killed by the signal'})`, async () => {
      const { spawn } = await import('node:child_process');
      const dir = mkdtempSync(join(tmpdir(), 'ringtrace-'));
      try {
        const file = join(dir, 'term.dump');
        const script = new URL('../fixtures/flight-recorder-signal.mjs', import.meta.url).pathname;
        const child = spawn(process.execPath, [script, file, ...(handled ? ['handled'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && child.kill('SIGTERM'));
        const ended = await new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
        // Before the fix the SIGTERM was swallowed: the process kept running (this test timed out).
        expect(ended).toEqual(handled ? { code: 7, signal: null } : { code: null, signal: 'SIGTERM' });
        const ns: number[] = [];
        loadDump(file).drain((e) => e.kind === 'event' && ns.push(e.values['n'] as number));
        expect(ns.at(-1)).toBe(49_999);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 30_000);
  }
});

describe('ringtrace report', () => {
  it('prints the events of a dump and of a binary log; a foreign file is a usage error (exit 2)', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-'));
    const bin = new URL('../../bin/ringtrace.js', import.meta.url).pathname;
    const log = EventLog.create({ slots: 1, pagesPerSlot: 4, pageBytes: 4096, clock: 'counter' });
    try {
      const w = log.writer();
      for (let n = 0; n < 5; n++) w.emit(Tick, { n, big: 10n ** 18n, label: `hello ${n}` });
      writeDump(log, join(dir, 'a.dump'));
      const sink = await BinaryLogSink.open(join(dir, 'a.bin'), log);
      const entries: unknown[] = [];
      log.drain((e) => entries.push(e));
      for (const e of entries) await sink.write(e as never);
      await sink.close();
      for (const file of ['a.dump', 'a.bin']) {
        const r = spawnSync(process.execPath, [bin, 'report', join(dir, file), '--json'], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; values: { n: number; big: string; label: string } });
        expect(lines.map((l) => l.values.n)).toEqual([0, 1, 2, 3, 4]);
        expect(lines[4]!.values).toEqual({ n: 4, big: (10n ** 18n).toString(), label: 'hello 4' });
      }
      const chrome = spawnSync(process.execPath, [bin, 'report', join(dir, 'a.bin'), '--chrome'], { encoding: 'utf8' });
      const trace = JSON.parse(chrome.stdout) as { traceEvents: Array<{ name: string; ph: string; ts?: number; tid: number; args: Record<string, unknown> }> };
      const instants = trace.traceEvents.filter((e) => e.ph === 'I');
      expect(instants.map((e) => (e.args['fields'] as Record<string, unknown>)['n'])).toEqual([0, 1, 2, 3, 4]);
      expect(instants.every((e, i) => i === 0 || e.ts! >= instants[i - 1]!.ts!)).toBe(true);
      expect(trace.traceEvents.some((e) => e.ph === 'M' && e.args['name'] === 'slot 0')).toBe(true);
      const text = spawnSync(process.execPath, [bin, 'report', join(dir, 'a.dump'), '--limit', '2'], { encoding: 'utf8' });
      expect(text.stdout.trim().split('\n')).toHaveLength(2);
      expect(text.stdout).toMatch(/tick {2}n=4 big=1000000000000000000n label="hello 4"/);
      // A binary log cut off mid-record (a process killed while writing): the events before the cut, then the damage.
      const whole = readFileSync(join(dir, 'a.bin'));
      writeFileSync(join(dir, 'cut.bin'), whole.subarray(0, whole.length - 3));
      const cut = spawnSync(process.execPath, [bin, 'report', join(dir, 'cut.bin')], { encoding: 'utf8' });
      expect(cut.status, cut.stderr).toBe(0);
      expect(cut.stdout).toMatch(/label="hello 3"\n.*CORRUPT record at byte \d+: the file ends inside the record/);
      expect(cut.stderr).toMatch(/1 damaged record reported as CORRUPT and skipped/);
      writeFileSync(join(dir, 'x.txt'), 'not a log');
      expect(spawnSync(process.execPath, [bin, 'report', join(dir, 'x.txt')], { encoding: 'utf8' }).status).toBe(2);
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
