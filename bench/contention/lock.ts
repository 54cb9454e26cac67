/**
 * The lock of the locked designs: one i32 word, a futex-style mutex built from
 * `Atomics.compareExchange` / `Atomics.wait` / `Atomics.notify` (Drepper's "mutex 3").
 *
 * | bits  | meaning                                                            |
 * |-------|--------------------------------------------------------------------|
 * | 0-15  | holder: the acquirer's id (1..65535), 0 when free                  |
 * | 16    | waiters: someone may sleep in Atomics.wait; release must notify    |
 *
 * The holder's id is in the word so that a nested write (a simulated NMI) can see that
 * its own thread holds the lock: spinning then would never end (the holder cannot run
 * until the NMI returns), so `acquire` reports `self` instead and the caller drops the
 * event. Every wait is bounded: past `timeoutMs` `acquire` reports `timeout`.
 */

export const LockResult = {
  acquired: 0,
  /** The caller's own thread holds the lock: it is nested inside its holder. */
  self: 1,
  /** Not acquired within the bound (a holder died or never released). */
  timeout: 2,
} as const;
export type LockResult = (typeof LockResult)[keyof typeof LockResult];

const HOLDER_MASK = 0xffff;
const WAITERS = 1 << 16;
/** Failed compareExchanges before a contender sleeps. */
const SPINS = 64;
/** One sleep in Atomics.wait, ms: short, so that a lost wake-up costs little. */
const SLEEP_MS = 1;

export const MAX_LOCK_ID = HOLDER_MASK;

/**
 * Takes the lock at word index `at` of `i32` for holder `id` (1..MAX_LOCK_ID). Never
 * waits for its own thread.
 */
export function acquire(i32: Int32Array, at: number, id: number, timeoutMs: number): LockResult {
  // Pairs with the Atomics.exchange in release(): the holder's writes happen before ours.
  let seen = Atomics.compareExchange(i32, at, 0, id);
  if (seen === 0) return LockResult.acquired;
  if ((seen & HOLDER_MASK) === id) return LockResult.self;
  for (let spin = 0; spin < SPINS; spin++) {
    seen = Atomics.compareExchange(i32, at, 0, id);
    if (seen === 0) return LockResult.acquired;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Announce a sleeper, then sleep while the word still says so. Once anyone slept, the
    // lock is taken with the waiters bit set (we cannot know whether others still sleep).
    if (seen !== 0 && (seen & WAITERS) === 0) {
      const was = Atomics.compareExchange(i32, at, seen, seen | WAITERS);
      seen = was === seen ? seen | WAITERS : was;
    }
    if ((seen & WAITERS) !== 0) Atomics.wait(i32, at, seen, SLEEP_MS);
    seen = Atomics.compareExchange(i32, at, 0, id | WAITERS);
    if (seen === 0) return LockResult.acquired;
    if (Date.now() > deadline) return LockResult.timeout;
  }
}

/** Releases the lock taken by acquire(); wakes one sleeper if any announced itself. */
export function release(i32: Int32Array, at: number): void {
  // Publishes everything written under the lock; pairs with the compareExchange in acquire().
  const old = Atomics.exchange(i32, at, 0);
  if ((old & WAITERS) !== 0) Atomics.notify(i32, at, 1);
}
