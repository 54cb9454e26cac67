import { Cpu, type FaultRecord } from './cpu.js';
import type { FetchModelOptions } from './fetch-model.js';
import { MachineMemory } from './machine-memory.js';

/** The start message of one CPU's long-running task. */
export interface CpuStart {
  readonly kind: 'cpu';
  readonly buffer: SharedArrayBuffer;
  readonly cpu: number;
  readonly seed: number;
  readonly nmiSites: readonly number[];
  readonly tracerSites: readonly number[];
  readonly fetch: FetchModelOptions;
  readonly idleProbability: number;
  readonly idleMs: number;
  /** Fault injection for tests: throw after this many steps (-1: never). */
  readonly crashAfterSteps: number;
}

/** What a CPU reports when it stops: its own counts, for reconciliation with the reader. */
export interface CpuResult {
  readonly kind: 'cpu';
  readonly cpu: number;
  /** Function-entry events attempted and stored, per context level (stream). */
  readonly attempts: number[];
  readonly stored: number[];
  readonly nmis: number;
  /** NMIs taken by the interrupt point they arrived at (InterruptPoint order). */
  readonly nmisAt: number[];
  /** Other events (NMI enter / exit, int3, faults) attempted and stored. */
  readonly others: number;
  readonly othersStored: number;
  readonly faults: FaultRecord[];
  readonly elapsedMs: number;
}

/** Runs one CPU until the machine stops (in a CPU worker thread). */
export function runCpuTask(start: CpuStart): CpuResult {
  const memory = MachineMemory.attach(start.buffer);
  const cpu = new Cpu(memory, {
    cpu: start.cpu,
    seed: start.seed,
    nmiSites: start.nmiSites,
    tracerSites: start.tracerSites,
    fetch: start.fetch,
    idleProbability: start.idleProbability,
    idleMs: start.idleMs,
    crashAfterSteps: start.crashAfterSteps,
  });
  const began = performance.now();
  memory.enterRunning();
  try {
    cpu.run();
  } finally {
    memory.leaveRunning();
    cpu.writer.close();
  }
  return {
    kind: 'cpu',
    cpu: start.cpu,
    attempts: Array.from(cpu.tracer.attempts),
    stored: Array.from(cpu.tracer.stored),
    nmis: memory.irq.counters(start.cpu).nmisTaken,
    nmisAt: Array.from(cpu.nmisAt),
    others: cpu.otherEvents,
    othersStored: cpu.otherEventsStored,
    faults: cpu.faults,
    elapsedMs: performance.now() - began,
  };
}
