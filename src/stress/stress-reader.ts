import type { ReadOptions, RingReader } from '../ring/reader.js';
import { W_STOP, W_WRITERS_DONE } from './stress-control.js';
import type { StreamVerifier } from '../check/stream-verifier.js';

/** Empty reads in a row before the reader sleeps: a page fills in microseconds at full speed. */
const IDLE_SPINS = 32;
/** Sleep of an idle reader, ms: short, so a small ring is not overrun while it sleeps. */
const IDLE_WAIT_MS = 0.05;

/** Whole pages only while the writers run: the commit word of the tail page stays on the writer's core. */
const WHILE_RUNNING: ReadOptions = { wholePages: true };

/**
 * The reader side of the stress harness: consume whole pages into the verifier while the
 * writers run, then, once the orchestrator says every writer has stopped, drain the rest
 * (tail pages and drops no page announced). Throws if that signal has not come after
 * `timeoutMs`. Returns the events delivered, and those delivered before the stop signal
 * (read while the writers ran: what shows the reader kept up concurrently).
 */
export function runStressReader(
  reader: RingReader,
  verifier: StreamVerifier,
  control: Int32Array,
  timeoutMs: number,
): { readonly delivered: number; readonly readWhileWriting: number } {
  const start = Date.now();
  let total = 0;
  let readWhileWriting = 0;
  let idle = 0;
  // Pairs with the orchestrator's Atomics.store of writers-done, made after every writer
  // posted its result; the drain below then sees all their stores.
  while (Atomics.load(control, W_WRITERS_DONE) === 0) {
    const n = reader.read(verifier, WHILE_RUNNING);
    total += n;
    // Pairs with the orchestrator's Atomics.store of stop: these reads overlapped the writers.
    if (Atomics.load(control, W_STOP) === 0) readWhileWriting += n;
    if (n > 0) {
      idle = 0;
      continue;
    }
    if (++idle < IDLE_SPINS) continue;
    if (Date.now() - start > timeoutMs) throw new Error(`reader: writers not done within ${timeoutMs} ms`);
    Atomics.wait(control, W_WRITERS_DONE, 0, IDLE_WAIT_MS);
  }
  return { delivered: total + reader.drain(verifier), readWhileWriting };
}
