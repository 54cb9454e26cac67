import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
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
    const before = clock.now();
    // The worker reads the same clock (calibrated in its own thread, where performance.now() has another origin).
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const origin = BigInt(workerData);
      let best = Infinity, offset = 0;
      for (let i = 0; i < 64; i++) {
        const a = process.hrtime.bigint(); const ms = performance.now(); const b = process.hrtime.bigint();
        const w = Number(b - a); if (w < best) { best = w; offset = Number(a - origin) + w / 2 - ms * 1e6; }
      }
      parentPort.postMessage(Math.round(performance.now() * 1e6 + offset));
    `;
    const inWorker = await new Promise<number>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: origin, execArgv: [] });
      w.once('message', (m: number) => {
        void w.terminate();
        resolve(m);
      });
      w.once('error', reject);
    });
    const after = clock.now();
    // A reading taken in another thread between two of ours lies between them (within calibration error).
    expect(inWorker).toBeGreaterThanOrEqual(before - 100_000);
    expect(inWorker).toBeLessThanOrEqual(after + 100_000);
    expect(after).toBeGreaterThan(before);
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
