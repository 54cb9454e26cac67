/**
 * The control block of a stress run: a small SharedArrayBuffer, separate from the ring,
 * through which the orchestrator starts and stops its worker threads (they run busy loops
 * and cannot receive messages while they do). This module owns its layout.
 *
 * | off | width | word         | written by   | read by          | published by                          |
 * |-----|-------|--------------|--------------|------------------|---------------------------------------|
 * | 0   | i32   | go           | orchestrator | writers, reader  | Atomics.store + notify / Atomics.wait |
 * | 64  | i32   | stop         | orchestrator | writers          | Atomics.store / Atomics.load          |
 * | 128 | i32   | writers done | orchestrator | reader           | Atomics.store + notify / Atomics.load |
 *
 * Each word has its own cache line: `stop` is polled by every writer every few hundred
 * writes and must not share a line with anything written during the run.
 */
export const CONTROL_BYTES = 192;
export const W_GO = 0;
export const W_STOP = 64 >> 2;
export const W_WRITERS_DONE = 128 >> 2;

export function createControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CONTROL_BYTES));
}

/**
 * Blocks (worker threads only) until `go` is set. Bounded: a peer that never says go
 * is dead, and waiting forever would hang the run.
 */
export function awaitGo(control: Int32Array, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  // Pairs with the orchestrator's Atomics.store + notify of go.
  while (Atomics.load(control, W_GO) === 0) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no start signal within ${timeoutMs} ms`);
    Atomics.wait(control, W_GO, 0, Math.min(left, 100));
  }
}

/** Orchestrator: lets every worker go. Pairs with awaitGo() in each worker. */
export function signalGo(control: Int32Array): void {
  Atomics.store(control, W_GO, 1);
  Atomics.notify(control, W_GO);
}

/** Orchestrator: asks every writer to stop. Pairs with the writers' Atomics.load of stop between batches. */
export function signalStop(control: Int32Array): void {
  Atomics.store(control, W_STOP, 1);
}
