import {
  G_COARSE_EPOCH_HIGH,
  G_COARSE_EPOCH_LOW,
  G_COARSE_PERIOD_US,
  G_COARSE_STOP,
  G_COARSE_US,
  G_COUNTER,
  G_EPOCH_HIGH,
  G_EPOCH_LOW,
  G_HRTIME_ORIGIN,
  type ClockName,
} from './layout.js';

/**
 * A trace clock: nanoseconds (or ticks) since the buffer's origin, an exact integer
 * below 2^53. Each writer clamps what it reads so a CPU's timestamps never decrease.
 */
export interface TraceClock {
  readonly name: ClockName;
  now(): number;
}

/**
 * The wall-clock (epoch) time of a moment on the monotonic clock, so that timestamps of the
 * `hrtime` and `coarse` clocks (ns since the buffer's origin, `hrtimeOriginNs`) can be
 * shown as dates. Returns the epoch ms at monotonic time `monotonicNs`, and the error
 * bound of the calibration, in ns.
 *
 * `Date.now()` is whole milliseconds, so one reading is up to 1 ms off. Instead, this
 * spins until `Date.now()` turns to its next millisecond and brackets that turn between
 * two monotonic readings: at the turn the wall clock is exactly that whole millisecond,
 * so the mapping is as good as the bracket (microseconds or better), after at most
 * 1 ms of spinning per attempt. A bracket that spans more than one turn (the thread was
 * descheduled, or the wall clock stepped) is retried, at most 5 times; past that the best
 * bracket seen is used and its width reported. A wall-clock step after the calibration
 * (NTP, an administrator) is not followed.
 */
export function epochMsAt(monotonicNs: number): { readonly epochMs: number; readonly errorNs: number } {
  // Fallback: one reading, whole ms (floored), so its middle is half a millisecond on.
  let best = { epochMs: Date.now() + 0.5 + (monotonicNs - hrtimeOriginNs()) / 1e6, errorNs: 5e5 };
  for (let attempt = 0; attempt < 5; attempt++) {
    // Invariant: the Date.now() that returned `wall` ran between the readings t0 and t1.
    let t0 = hrtimeOriginNs();
    let wall = Date.now();
    let t1 = hrtimeOriginNs();
    // Bounded: Date.now() turns within 1 ms; 10 ms without a turn means the clock is stuck.
    const giveUp = t0 + 10e6;
    for (;;) {
      const now = Date.now();
      const t2 = hrtimeOriginNs(); // this reading ran between t1 and t2
      if (now !== wall) {
        // The wall clock turned to `now` after the reading that returned `wall` (after t0)
        // and no later than this one (before t2).
        const errorNs = (t2 - t0) / 2;
        if (now === wall + 1 && errorNs < best.errorNs) best = { epochMs: now + (monotonicNs - (t0 + errorNs)) / 1e6, errorNs };
        break;
      }
      if (t2 > giveUp) break;
      t0 = t1;
      t1 = t2;
      wall = now;
    }
    if (best.errorNs < 5_000) break;
  }
  return best;
}

/** Reads the monotonic clock shared by all threads of the process (CLOCK_MONOTONIC). */
export function hrtimeOriginNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * `hrtime`: `performance.now()` turned into ns since the buffer's origin.
 *
 * `performance.now()` is the cheapest monotonic clock Node offers, but its origin is
 * per thread. Each thread calibrates once against `process.hrtime.bigint()` (one clock
 * for the whole process): it brackets a `performance.now()` read between two hrtime
 * reads and keeps the tightest bracket, so the cross-thread error is at most half that
 * bracket (tens of ns; measured by `calibrationErrorNs`).
 *
 * Cost: one `performance.now()` (~45 ns here). Node returns it as a boxed number, so
 * V8 allocates a short-lived heap number per read; the ring itself allocates nothing.
 */
export class HrtimeClock implements TraceClock {
  readonly name = 'hrtime' as const;
  private readonly offsetNs: number;
  /** Half-width of the calibration bracket: the bound on this thread's offset error. */
  readonly calibrationErrorNs: number;

  constructor(originNs: number) {
    const origin = BigInt(originNs);
    let best = Infinity;
    let offset = 0;
    for (let i = 0; i < 64; i++) {
      const before = process.hrtime.bigint();
      const ms = performance.now();
      const after = process.hrtime.bigint();
      const width = Number(after - before);
      if (width < best) {
        best = width;
        offset = Number(before - origin) + width / 2 - ms * 1e6;
      }
    }
    this.offsetNs = offset;
    this.calibrationErrorNs = best / 2;
  }

  now(): number {
    return Math.round(performance.now() * 1e6 + this.offsetNs);
  }
}

/**
 * `counter`: a global ticket taken with one `Atomics.add` on a shared word; every event
 * of every CPU gets a distinct value, so the merged order is a total order. The word
 * is one cache line that all writers bounce: it does not scale (see the
 * `two-writers-counter` benchmark).
 *
 * The ticket is 32 bits; the epoch (how many times it wrapped) lives in two read-mostly
 * words, one for tickets in the low half of the range and one for the high half. The
 * thread that takes ticket 0 copies the low-half epoch to the high-half word; the
 * thread that takes ticket 2^31 bumps the low-half word for the next wrap. So each
 * word is updated 2^31 tickets before anyone needs the new value, and both updates
 * are followed by `Atomics.add(counter, 0)`: every later ticket is taken by an RMW
 * that reads from that one, which makes the update happen-before the plain epoch
 * read below. The one assumption: no thread stalls for 2^31 tickets between its
 * `Atomics.add` and its epoch read.
 */
export class CounterClock implements TraceClock {
  readonly name = 'counter' as const;
  private readonly i32: Int32Array;

  /** `i32` views the ring's memory from its global header on. */
  constructor(i32: Int32Array) {
    this.i32 = i32;
  }

  now(): number {
    const i32 = this.i32;
    const ticket = Atomics.add(i32, G_COUNTER >> 2, 1) >>> 0;
    if ((ticket & 0x7fffffff) === 0) this.turnEpoch(ticket);
    const epoch = ticket < 0x80000000 ? i32[G_EPOCH_LOW >> 2]! : i32[G_EPOCH_HIGH >> 2]!;
    return epoch * 4294967296 + ticket;
  }

  private turnEpoch(ticket: number): void {
    const i32 = this.i32;
    if (ticket === 0) {
      Atomics.store(i32, G_EPOCH_HIGH >> 2, Atomics.load(i32, G_EPOCH_LOW >> 2));
    } else {
      Atomics.store(i32, G_EPOCH_LOW >> 2, Atomics.load(i32, G_EPOCH_HIGH >> 2) + 1);
    }
    Atomics.add(i32, G_COUNTER >> 2, 0); // orders the epoch store before every later ticket
  }
}

/** A clock of the given kind over a ring's memory (`i32`/`f64` view it from its global header on). */
export function createClock(name: ClockName, i32: Int32Array, f64: Float64Array): TraceClock {
  if (name === 'counter') return new CounterClock(i32);
  if (name === 'coarse') return new CoarseClock(i32);
  return new HrtimeClock(f64[G_HRTIME_ORIGIN >> 3]!);
}

/**
 * `coarse`: the time a ticker thread last published, in µs since the buffer's origin.
 * One `Atomics.load` and no allocation (`hrtime` costs ~45 ns and a heap number), at the
 * price of bounded staleness: a reading is at most one tick period plus the ticker's
 * scheduling delay old, and never ahead of the true time.
 *
 * The published value is 32 bits of µs plus an epoch (as `counter`): the ticker, the only
 * writer, keeps the epoch word for each half of the 32-bit range right 2^31 µs (35 min)
 * before a reading can need it, and stores the epoch words before the low word, so the
 * `Atomics.load` of the low word makes them visible.
 */
export class CoarseClock implements TraceClock {
  readonly name = 'coarse' as const;
  private readonly i32: Int32Array;

  /** `i32` views the ring's memory from its global header on. */
  constructor(i32: Int32Array) {
    this.i32 = i32;
  }

  now(): number {
    const i32 = this.i32;
    // Pairs with the ticker's Atomics.store in publishCoarseTime().
    const us = Atomics.load(i32, G_COARSE_US >> 2) >>> 0;
    const epoch = us < 0x80000000 ? i32[G_COARSE_EPOCH_LOW >> 2]! : i32[G_COARSE_EPOCH_HIGH >> 2]!;
    return (epoch * 4294967296 + us) * 1000;
  }
}

/** Publishes the current time for coarse clocks. Only the ticker thread (and the creator, once, before it starts) calls it. */
export function publishCoarseTime(i32: Int32Array, originNs: bigint): void {
  const us = Number((process.hrtime.bigint() - originNs) / 1000n);
  const low = us % 4294967296;
  const epoch = Math.floor(us / 4294967296);
  // Low half of the range: this epoch; the high half that follows: this epoch too.
  // High half: this epoch; the low half that follows: the next one.
  i32[G_COARSE_EPOCH_LOW >> 2] = low < 0x80000000 ? epoch : epoch + 1;
  i32[G_COARSE_EPOCH_HIGH >> 2] = epoch;
  Atomics.store(i32, G_COARSE_US >> 2, low | 0);
}

/** The ticker's loop: publish, sleep one period (or until stopped), repeat. The ring's header is at `byteOffset`. */
export function runCoarseTicker(sab: SharedArrayBuffer, byteOffset: number): void {
  const i32 = new Int32Array(sab, byteOffset, 64);
  const origin = BigInt(new Float64Array(sab, byteOffset + G_HRTIME_ORIGIN, 1)[0]!);
  const periodMs = i32[G_COARSE_PERIOD_US >> 2]! / 1000;
  while (Atomics.load(i32, G_COARSE_STOP >> 2) === 0) {
    publishCoarseTime(i32, origin);
    Atomics.wait(i32, G_COARSE_STOP >> 2, 0, periodMs);
  }
}
