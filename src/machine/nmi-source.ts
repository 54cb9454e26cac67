import { prng } from '../prng.js';
import { MachineMemory } from './machine-memory.js';

export interface NmiSourceStart {
  readonly kind: 'nmi-source';
  readonly buffer: SharedArrayBuffer;
  readonly seed: number;
  /** NMIs per second raised on each CPU (Poisson arrivals). */
  readonly nmiPerSecond: number;
}

export interface NmiSourceResult {
  readonly kind: 'nmi-source';
  /** NMI arrivals per CPU: raised, or coalesced with one pending (as on hardware). */
  readonly raised: number[];
}

/**
 * The NMI source: raises each CPU's NMI line at random times, Poisson arrivals at the
 * configured rate, seeded. It sleeps in Atomics.wait between arrivals (on the stop word,
 * so stopping wakes it); arrivals that fall due while it sleeps are raised on waking — the
 * line is one bit, so NMIs due together coalesce, as they do on hardware.
 */
export function runNmiSource(start: NmiSourceStart): NmiSourceResult {
  const memory = MachineMemory.attach(start.buffer);
  const cpus = memory.cpus;
  const raised = new Array<number>(cpus).fill(0);
  if (!(start.nmiPerSecond > 0)) return { kind: 'nmi-source', raised };
  const random = prng(start.seed);
  const meanMs = 1000 / start.nmiPerSecond;
  const interval = (): number => -Math.log(1 - random()) * meanMs;
  const now = (): number => performance.now();
  const due = Array.from({ length: cpus }, () => now() + interval());
  while (!memory.stopRequested()) {
    const t = now();
    let next = Infinity;
    for (let cpu = 0; cpu < cpus; cpu++) {
      // Every arrival that fell due while we slept counts; they meet one line, so one raise.
      let arrivals = 0;
      while (due[cpu]! <= t) {
        arrivals++;
        due[cpu] = due[cpu]! + interval();
      }
      if (arrivals > 0) {
        memory.irq.raiseNmi(cpu);
        if (arrivals > 1) memory.irq.countCoalescedNmis(cpu, arrivals - 1);
        raised[cpu]! += arrivals;
      }
      next = Math.min(next, due[cpu]!);
    }
    memory.waitForStop(Math.max(0, next - now()));
  }
  return { kind: 'nmi-source', raised };
}
