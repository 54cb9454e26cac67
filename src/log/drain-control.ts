/**
 * The drain thread's control block: a small SharedArrayBuffer between the thread that
 * started the drain (the owner) and the drain thread. This module owns its byte map:
 *
 * | off | width | word             | written by  | read by     | how                                      |
 * |-----|-------|------------------|-------------|-------------|------------------------------------------|
 * | 0   | i32   | command          | owner       | drain       | Atomics.store + Atomics.notify / load    |
 * | 4   | i32   | flush requests   | owner       | drain       | Atomics.add + notify(command) / load     |
 * | 64  | i32   | state            | drain       | owner       | Atomics.store + Atomics.notify / wait    |
 * | 68  | i32   | flushes done     | drain       | owner       | Atomics.store + Atomics.notify / wait    |
 * | 128 | f64   | events written   | drain       | owner stats | plain (racy getter)                      |
 * | 136 | f64   | lost announced   | drain       | owner stats | plain (racy getter)                      |
 * | 144 | f64   | damage reports   | drain       | owner stats | plain (racy getter)                      |
 * | 152 | f64   | bytes written    | drain       | owner stats | plain (racy getter)                      |
 * | 160 | f64   | passes           | drain       | owner stats | plain (racy getter)                      |
 *
 * The owner's words and the drain's sit on separate cache lines. The drain sleeps on the
 * command word, so a command or a flush request wakes it by notifying that word.
 */
export const DRAIN_CONTROL_BYTES = 192;
export const D_COMMAND = 0;
export const D_FLUSH_REQUESTS = 4;
export const D_STATE = 64;
export const D_FLUSHES_DONE = 68;
export const D_EVENTS = 128;
export const D_LOST = 136;
export const D_CORRUPT = 144;
export const D_BYTES = 152;
export const D_PASSES = 160;

export const DrainCommand = { run: 0, finish: 1 } as const;
export const DrainState = { starting: 0, running: 1, finished: 2, failed: 3 } as const;

/** What the drain thread has done so far (racy: a snapshot of words it keeps writing). */
export interface DrainStats {
  /** Events written to the sink. */
  readonly events: number;
  /** Events the drain announced as lost (overrun, dropped, damage), as `lost` records in the sink. */
  readonly lost: number;
  /** Damage reports the drain wrote. */
  readonly corrupt: number;
  /** Bytes written to the file (binary and JSON-lines sinks). */
  readonly bytes: number;
  readonly passes: number;
}

export function readDrainStats(control: SharedArrayBuffer): DrainStats {
  const f64 = new Float64Array(control);
  return { events: f64[D_EVENTS >> 3]!, lost: f64[D_LOST >> 3]!, corrupt: f64[D_CORRUPT >> 3]!, bytes: f64[D_BYTES >> 3]!, passes: f64[D_PASSES >> 3]! };
}
