import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CoarseClock, CounterClock, HrtimeClock, epochMsAt, hrtimeOriginNs } from '../../src/ring/clock.js';
import { G_COUNTER, G_HRTIME_ORIGIN } from '../../src/ring/layout.js';
import { EventLog, RingBuffer, defineEvent } from '../../src/index.js';

describe('counter clock', () => {
  it('gives consecutive 64-bit tickets across each half-range turn and the 32-bit wrap', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256, clock: 'counter' });
    const i32 = new Int32Array(rb.buffer);
    const clock = new CounterClock(rb.view.i32);
    expect(clock.now()).toBe(0);
    // Skip ahead as if other threads took the tickets in between, stopping just short of
    // each epoch turn, and cross it with real calls.
    for (let epoch = 0; epoch < 3; epoch++) {
      for (const start of [0x7ffffffd, 0xfffffffd]) {
        i32[G_COUNTER >> 2] = start | 0;
        const base = epoch * 2 ** 32 + start;
        for (let k = 0; k < 6; k++) expect(clock.now()).toBe(base + k);
      }
    }
  });
});

describe('hrtime clock', () => {
  it('is calibrated to one process-wide origin: readings from two threads interleave in real order', async () => {
    const origin = hrtimeOriginNs();
    const clock = new HrtimeClock(origin);
    expect(clock.calibrationErrorNs).toBeLessThan(50_000);
    // Ping-pong through Atomics: we read the clock, release the worker, which reads its own
    // HrtimeClock (the real class, calibrated in its thread, where performance.now() has
    // another origin) and releases us, and we read again. Its reading must lie between ours,
    // within the two calibration errors, however long or short the window.
    const ROUNDS = 300;
    const sab = new SharedArrayBuffer(8 * (ROUNDS + 2));
    const turn = new Int32Array(sab, 0, 2); // [0]: round handed to the worker, [1]: round it answered
    const readings = new Float64Array(sab, 8, ROUNDS + 1); // worker's readings; the last slot its calibration error
    const clockUrl = pathToFileURL(join(process.cwd(), 'dist/src/ring/clock.js')).href;
    const code = `
      const { workerData } = require('node:worker_threads');
      import(workerData.clockUrl).then(({ HrtimeClock }) => {
        const clock = new HrtimeClock(workerData.origin);
        const turn = new Int32Array(workerData.sab, 0, 2);
        const readings = new Float64Array(workerData.sab, 8, workerData.rounds + 1);
        readings[workerData.rounds] = clock.calibrationErrorNs;
        for (let round = 1; round <= workerData.rounds; round++) {
          const deadline = Date.now() + 10000;
          while (Atomics.load(turn, 0) !== round) if (Date.now() > deadline) throw new Error('no turn ' + round);
          readings[round - 1] = clock.now();
          Atomics.store(turn, 1, round);
        }
      });
    `;
    const w = new Worker(code, { eval: true, workerData: { clockUrl, origin, sab, rounds: ROUNDS }, execArgv: [] });
    const failed = new Promise<never>((_, reject) => w.once('error', reject));
    try {
      // Wait (without blocking this thread's event loop) until the worker has calibrated.
      for (let t = 0; readings[ROUNDS] === 0 && t < 5_000; t += 5) await Promise.race([failed, new Promise((r) => setTimeout(r, 5))]);
      const workerError = readings[ROUNDS]!;
      expect(workerError).toBeGreaterThan(0);
      expect(workerError).toBeLessThan(50_000);
      const slack = clock.calibrationErrorNs + workerError;
      const windows: number[] = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const before = clock.now();
        Atomics.store(turn, 0, round);
        const deadline = Date.now() + 10_000;
        while (Atomics.load(turn, 1) !== round) if (Date.now() > deadline) throw new Error(`the worker did not answer round ${round}`);
        const after = clock.now();
        const theirs = readings[round - 1]!;
        expect(theirs, `round ${round}`).toBeGreaterThanOrEqual(before - slack);
        expect(theirs, `round ${round}`).toBeLessThanOrEqual(after + slack);
        windows.push(after - before);
      }
      // The check was tight: windows of microseconds, not the milliseconds of a message round
      // trip. (A loaded machine preempts the spinning threads in many rounds: ask it of the best.)
      windows.sort((x, y) => x - y);
      expect(windows[0]).toBeLessThan(20_000);
    } finally {
      await w.terminate();
    }
  });
});

describe('coarse clock', () => {
  it('follows the true time from a ticker thread, never ahead of it, and stops on close()', async () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256, clock: 'coarse', coarsePeriodUs: 100 });
    try {
      const coarse = new CoarseClock(rb.view.i32);
      const precise = new HrtimeClock(rb.view.f64[G_HRTIME_ORIGIN >> 3]!);
      const first = coarse.now();
      let last = first;
      for (let i = 0; i < 200; i++) {
        const c = coarse.now();
        // A published sample of the past: never later than now (1 µs of rounding).
        expect(c).toBeLessThanOrEqual(precise.now() + 1000);
        expect(c).toBeGreaterThanOrEqual(last);
        last = c;
        await new Promise((r) => setTimeout(r, 0.2));
      }
      // Liveness, not speed: after 200 short sleeps the ticker has moved it on.
      expect(last).toBeGreaterThan(first);
      const w = rb.writer(0);
      expect(w.write(1, 1, 2, 3, 4)).toBe(true);
      expect(rb.cpuStats(0).lastTimestamp).toBeGreaterThanOrEqual(last);
    } finally {
      await rb.close();
    }
    const stopped = new CoarseClock(rb.view.i32).now();
    await new Promise((r) => setTimeout(r, 5));
    expect(new CoarseClock(rb.view.i32).now()).toBe(stopped);
  });
});

describe('wall-clock time of timestamps', () => {
  it('epochMsAt maps the monotonic clock to epoch ms within its stated error; log.epochMs agrees with Date.now() around an event', async () => {
    // A turn of Date.now() bracketed on the monotonic clock: far better than Date.now()'s whole ms.
    const origin = hrtimeOriginNs();
    const cal = epochMsAt(origin);
    expect(cal.errorNs).toBeGreaterThan(0);
    expect(cal.errorNs).toBeLessThan(500_000);
    // Checked against the platform's own high-resolution wall time (performance.timeOrigin + now()), within its error and 1 ms of clock skew between the two.
    const platform = performance.timeOrigin + performance.now();
    const ours = cal.epochMs + (hrtimeOriginNs() - origin) / 1e6;
    expect(Math.abs(ours - platform)).toBeLessThan(1 + cal.errorNs / 1e6);

    const Tick = defineEvent('tick', { n: 'u32' });
    for (const clock of ['hrtime', 'coarse'] as const) {
      const log = EventLog.create({ slots: 1, pagesPerSlot: 4, pageBytes: 4096, clock });
      try {
        const before = Date.now();
        log.writer().emit(Tick, { n: 1 });
        const after = Date.now();
        let ts = -1;
        log.drain((e) => e.kind === 'event' && (ts = e.timestamp));
        const ms = log.epochMs(ts);
        // Date.now() floors to the ms: the event's true time lies in [before, after + 1). The coarse
        // clock lags by up to a tick period (200 µs by default) plus the ticker's scheduling delay.
        const lag = clock === 'coarse' ? 50 : 0;
        expect(ms).toBeGreaterThanOrEqual(before - lag - 0.01);
        expect(ms).toBeLessThan(after + 1.01);
      } finally {
        await log.close();
      }
    }
    const counter = EventLog.create({ slots: 1, pagesPerSlot: 4, pageBytes: 4096, clock: 'counter' });
    expect(() => counter.epochMs(0)).toThrow(/clock is 'counter', whose timestamps are tickets, not times/);
    expect(() => counter.epochMs('1' as never)).toThrow(TypeError);
    await counter.close();
  });
});
