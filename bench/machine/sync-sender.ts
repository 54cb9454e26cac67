import { MachineMemory } from '../../src/machine/machine-memory.js';
import { BenchControl } from '../control.js';
import type { MachineBenchStart, SyncSenderOutcome } from './protocol.js';

/**
 * The loop of the sync_core sender thread (workers/bench-sync-sender.ts): one sync round
 * to every CPU after another, each with the blocking `InterruptBlocks.syncCore` (the
 * coordinator of a live patch will send its rounds the same way, from a worker thread:
 * the main thread must not block). Every wait is bounded.
 */

/** Longest wait for the CPUs to fall asleep again before a round of sync-round-idle. */
export const ASLEEP_TIMEOUT_MS = 200;
/** Rounds that time out before the sender gives up: the machine is broken, not slow. */
const MAX_TIMED_OUT_ROUNDS = 3;

export function prepareSyncSender(start: Extract<MachineBenchStart, { kind: 'sync-sender' }>): () => Promise<SyncSenderOutcome> {
  const control = new BenchControl(start.control);
  const memory = MachineMemory.attach(start.machine);
  const irq = memory.irq;
  const targets = [...Array(memory.cpus).keys()];
  // The sender's own word to sleep on between rounds: nobody notifies it.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const counters = (): { ipis: number[]; sleeps: number[] } => {
    const c = targets.map((cpu) => irq.counters(cpu));
    return { ipis: c.map((x) => x.ipisTaken), sleeps: c.map((x) => x.sleeps) };
  };

  return async () => {
    control.waitForGo();
    const micros: number[] = [];
    let timedOut = 0;
    let firstTimeout = '';
    let notAsleep = 0;
    const first = counters();
    // Sleep counts when the previous round started: a CPU that was asleep then has slept
    // once more since, after it woke up, acknowledged and went back to hlt.
    let sleepsAtLastRound: number[] | null = null;
    for (let i = -start.warmupRounds; i < start.rounds; i++) {
      if (control.aborted) throw new Error('sync sender: the run was aborted');
      if (memory.stopRequested()) throw new Error(`sync sender: the machine stopped after ${i + start.warmupRounds} rounds`);
      Atomics.wait(pause, 0, 0, start.gapMs);
      if (start.expectAsleep && sleepsAtLastRound !== null) {
        const last = sleepsAtLastRound;
        const asleep = (): boolean => targets.every((cpu) => irq.counters(cpu).sleeps > last[cpu]!);
        const deadline = performance.now() + ASLEEP_TIMEOUT_MS;
        while (!asleep() && performance.now() < deadline) Atomics.wait(pause, 0, 0, 0.05);
        if (!asleep() && i >= 0) notAsleep++;
      }
      if (start.expectAsleep) sleepsAtLastRound = counters().sleeps;
      const result = irq.syncCore(targets, start.roundTimeoutMs);
      if (result.missing.length > 0) {
        timedOut++;
        if (firstTimeout === '') firstTimeout = `round ${result.round}: cpus ${result.missing.join(', ')} did not acknowledge within ${start.roundTimeoutMs} ms`;
        if (timedOut >= MAX_TIMED_OUT_ROUNDS) break;
      }
      if (i >= 0) micros.push(result.micros);
    }
    const last = counters();
    return {
      kind: 'sync-sender',
      micros,
      timedOut,
      firstTimeout,
      notAsleep,
      ipisTaken: targets.map((cpu) => last.ipis[cpu]! - first.ipis[cpu]!),
      sleeps: targets.map((cpu) => last.sleeps[cpu]! - first.sleeps[cpu]!),
    };
  };
}
