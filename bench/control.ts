/**
 * The control block of a threaded benchmark: a small SharedArrayBuffer, separate from
 * the memory under test, through which the main thread starts the workers and the
 * workers of one run pace each other. This module owns its layout. Every suite uses
 * `go` and `abort`; the producer/consumer words are for the ring suite's pairs.
 *
 * | off | width | word           | written by             | read by                  | published by                       |
 * |-----|-------|----------------|------------------------|--------------------------|------------------------------------|
 * | 0   | i32   | go             | main thread            | every worker (waits)     | Atomics.store + Atomics.notify     |
 * | 64  | i32   | producer done  | each producer (+1)     | consumer                 | Atomics.add                        |
 * | 128 | i32   | consumed       | consumer               | producer (flow control)  | Atomics.store / Atomics.load       |
 * | 192 | i32   | abort          | any thread on failure  | every loop               | Atomics.store / Atomics.load       |
 *
 * Each word sits alone on its 64-byte cache line: `consumed` is stored by the consumer
 * about once per page and loaded by the producer once per burst; it must not share a
 * line with anything the producer writes.
 */

export const CONTROL_BYTES = 256;
export const K_GO = 0;
export const K_PRODUCERS_DONE = 64;
export const K_CONSUMED = 128;
export const K_ABORT = 192;

/** Longest time a worker waits for the go signal or for its peer before it gives up. */
export const PEER_TIMEOUT_MS = 30_000;

export class BenchControl {
  readonly sab: SharedArrayBuffer;
  private readonly i32: Int32Array;

  constructor(sab: SharedArrayBuffer = new SharedArrayBuffer(CONTROL_BYTES)) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength !== CONTROL_BYTES) {
      throw new TypeError(`a bench control block is a SharedArrayBuffer of ${CONTROL_BYTES} bytes`);
    }
    this.sab = sab;
    this.i32 = new Int32Array(sab);
  }

  /** Main thread: releases every worker parked in waitForGo(). */
  go(): void {
    // Pairs with the Atomics.wait / Atomics.load of go in waitForGo().
    Atomics.store(this.i32, K_GO >> 2, 1);
    Atomics.notify(this.i32, K_GO >> 2);
  }

  /** Worker: parks until the main thread says go. Throws after PEER_TIMEOUT_MS or on abort. */
  waitForGo(): void {
    const deadline = Date.now() + PEER_TIMEOUT_MS;
    // Pairs with the Atomics.store of go in go().
    while (Atomics.load(this.i32, K_GO >> 2) === 0) {
      if (this.aborted) throw new Error('the run was aborted before go');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no go signal within ${PEER_TIMEOUT_MS} ms`);
      Atomics.wait(this.i32, K_GO >> 2, 0, Math.min(left, 100));
    }
  }

  /** Producer: says it wrote its last event. */
  producerDone(): void {
    // Publishes every event the producer wrote; pairs with the Atomics.load in producersDone.
    Atomics.add(this.i32, K_PRODUCERS_DONE >> 2, 1);
  }

  get producersDone(): number {
    return Atomics.load(this.i32, K_PRODUCERS_DONE >> 2);
  }

  /** Consumer: how many events it has taken so far (the producer's flow control). */
  publishConsumed(events: number): void {
    // Pairs with the Atomics.load in `consumed`.
    Atomics.store(this.i32, K_CONSUMED >> 2, events | 0);
  }

  get consumed(): number {
    return Atomics.load(this.i32, K_CONSUMED >> 2);
  }

  /** Any thread: stops every loop of the run (a peer failed). */
  abort(): void {
    // Pairs with the Atomics.load in `aborted`, polled by every wait loop and waitForGo().
    Atomics.store(this.i32, K_ABORT >> 2, 1);
    Atomics.notify(this.i32, K_GO >> 2);
  }

  get aborted(): boolean {
    return Atomics.load(this.i32, K_ABORT >> 2) !== 0;
  }
}
