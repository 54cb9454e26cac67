import { Ipi } from '../machine/interrupts.js';
import { M_SYNC_DOORBELL, type MachineMemory } from '../machine/machine-memory.js';
import {
  PC_BP_NS,
  PC_IPI_NS,
  PC_STALE,
  PC_STOPPED_NS,
  PC_TRAPS,
  P_NMI_RUNNING,
  P_RELEASED,
  P_STOPPED,
  type BypassName,
  type PatchState,
  type RefcountName,
} from '../machine/patch-area.js';
import { phasesOf, timesOf, type Doorbell, type PatchSettings, type PatchTarget, type Phase } from './phases.js';
import type { PatchEntry, PatchStep } from './protocol.js';
import { protocolOf, type ProtocolName } from './protocols/index.js';
import { selectEntries, type PatchAction, type SiteFilter } from './site-selection.js';
import { beginOperation, completeOperation } from './step-effects.js';
import { MachineEvent, patchPhaseEvent } from '../machine/trace-events.js';
import { encode, encodedLength } from '../log/payload-codec.js';
import type { CpuWriter } from '../ring/writer.js';

export type { SiteFilter } from './site-selection.js';

/** A protocol step in words, as the coordinator's track shows it: `write int3`, `sync round 2`, `publish`. */
function stepName(step: PatchStep, syncRounds: number): string {
  if (step.kind === 'write') return `write ${step.part}`;
  if (step.kind === 'sync') return `sync round ${syncRounds}`;
  return step.kind;
}

export interface PatchRequest {
  readonly protocol: ProtocolName;
  /** enable: sites become CALL; disable: NOP5; toggle: each site the other one. */
  readonly action: PatchAction;
  readonly filter?: SiteFilter;
  readonly bypass?: BypassName;
  readonly refcount?: RefcountName;
  /** stop-machine protocols: `off` masks NMIs while the machine is stopped. Defaults to `on`. */
  readonly nmi?: 'on' | 'off';
  /** Test-only: leave out one of int3's three sync rounds. */
  readonly skipSync?: 0 | 1 | 2 | 3;
  /** Busy time per byte written, ns: the cost of text_poke; widens the race windows. Defaults to 0. */
  readonly pokeCostNs?: number;
  /** Bound on each wait (sync round, rendezvous, handlers, NMIs), ms. Defaults to 2,000. */
  readonly timeoutMs?: number;
}

export interface PatchReport {
  readonly protocol: ProtocolName;
  readonly action: PatchAction;
  readonly sites: number;
  /** Sites found torn when the operation began (left so by an unsafe protocol), rewritten by it. */
  readonly damagedSites: number;
  readonly wallMs: number;
  readonly syncRounds: number;
  readonly ipis: number;
  readonly traps: number;
  /** CPU time, summed over CPUs, spent stopped / in IPI handlers / in int3 handlers, ms. */
  readonly stoppedMs: number;
  readonly ipiHandlerMs: number;
  readonly breakpointHandlerMs: number;
  /** Torn instructions (and stray int3s) the CPUs executed during the operation. */
  readonly faults: number;
  /** Executions of an old instruction after the previous operation had completed (must be 0). */
  readonly staleAfterPrevious: number;
}

/** Raised when a protocol's wait cannot complete (a CPU that does not answer). */
export class PatchTimeoutError extends Error {
  readonly code = 'ERR_PATCH_TIMEOUT';
}

/** A word a waiting coordinator sleeps on, and how often it looks again if nobody notifies it. */
interface Bell {
  readonly i32: Int32Array;
  readonly index: number;
  readonly pollMs: number;
}

/**
 * The machine as one operation's phases reach it: real code bytes, the real patch area,
 * real IPIs; it counts the sync rounds and IPIs it sends.
 */
class MachineTarget implements PatchTarget {
  readonly patch: PatchState;
  readonly settings: PatchSettings;
  round = 0;
  syncRounds = 0;
  ipis = 0;
  private readonly memory: MachineMemory;
  private readonly all: readonly number[];
  private readonly pokeCostMs: number;
  private generation: { value: number };

  constructor(memory: MachineMemory, all: readonly number[], settings: PatchSettings, pokeCostNs: number, generation: { value: number }) {
    this.memory = memory;
    this.patch = memory.patch;
    this.all = all;
    this.settings = settings;
    this.pokeCostMs = pokeCostNs / 1e6;
    this.generation = generation;
  }

  poke(site: number, index: number, byte: number): void {
    this.memory.code.poke(site, index, byte);
    if (this.pokeCostMs > 0) for (const until = performance.now() + this.pokeCostMs; performance.now() < until; );
  }

  startSync(): void {
    this.round = this.memory.irq.startSync(this.all);
    this.syncRounds++;
    this.ipis += this.all.length;
  }

  syncAcknowledged(): boolean {
    return this.memory.irq.syncAcknowledged(this.round, this.all);
  }

  kickAll(): void {
    for (const cpu of this.all) this.memory.irq.sendIpi(cpu, Ipi.kick);
    this.ipis += this.all.length;
  }

  nextGeneration(): number {
    return ++this.generation.value;
  }
}

/**
 * The patching coordinator: runs a protocol's steps, phase by phase (phases.ts), against
 * the machine's shared memory, one operation at a time, and measures each. It blocks (it
 * runs in its own worker thread); every wait is bounded.
 */
export class Coordinator {
  private readonly memory: MachineMemory;
  private readonly all: number[];
  private readonly bells: Readonly<Record<Doorbell, Bell>>;
  private readonly generation = { value: 0 };
  private staleSeen = 0;
  /** The coordinator's track in the ring (a recorded machine), or null; and the operations run. */
  private readonly track: CpuWriter | null;
  private ops = 0;

  constructor(memory: MachineMemory) {
    this.memory = memory;
    this.all = [...Array(memory.cpus).keys()];
    this.track = memory.coordinatorTrack >= 0 ? memory.ring.writer(memory.coordinatorTrack) : null;
    const patch = memory.patch.i32;
    // CPUs notify the sync doorbell and the rendezvous counters; nmi_running is notified at
    // NMI exit but the refcounts are not, so those two are looked at again every 10 µs.
    this.bells = {
      syncAck: { i32: memory.control, index: M_SYNC_DOORBELL >> 2, pollMs: Infinity },
      stopped: { i32: patch, index: P_STOPPED >> 2, pollMs: Infinity },
      released: { i32: patch, index: P_RELEASED >> 2, pollMs: Infinity },
      nmiRunning: { i32: patch, index: P_NMI_RUNNING >> 2, pollMs: 0.01 },
      handlers: { i32: patch, index: P_NMI_RUNNING >> 2, pollMs: 0.01 },
    };
  }

  /** The entries a request patches (site-selection.ts). */
  entries(request: PatchRequest): { entries: PatchEntry[]; damaged: number } {
    return selectEntries(this.memory.code, request.filter ?? 'all', request.action);
  }

  run(request: PatchRequest): PatchReport {
    const protocol = protocolOf(request.protocol);
    const { entries, damaged } = this.entries(request);
    const before = this.counters();
    const stale = before.stale - this.staleSeen;
    const settings: PatchSettings = { bypass: request.bypass ?? 'new', refcount: request.refcount ?? 'percpu', maskNmis: request.nmi === 'off' };
    const target = new MachineTarget(this.memory, this.all, settings, request.pokeCostNs ?? 0, this.generation);
    const timeoutMs = request.timeoutMs ?? 2_000;
    const started = performance.now();
    const op = ++this.ops;
    this.phase(op, entries.length, `${request.action} (${request.protocol})`);
    beginOperation(this.memory.patch, entries);
    for (const step of protocol.steps(entries, { bypass: settings.bypass, refcount: settings.refcount, skipSync: request.skipSync ?? 0 })) {
      for (const phase of phasesOf(step)) this.runPhase(target, phase, step, timeoutMs);
      if (this.track !== null) this.phase(op, 'entries' in step ? step.entries.length : entries.length, stepName(step, target.syncRounds));
    }
    completeOperation(this.memory.patch, entries);
    this.phase(op, entries.length, 'done');
    const wallMs = performance.now() - started;
    const after = this.counters();
    this.staleSeen = after.stale;
    return {
      protocol: request.protocol,
      action: request.action,
      sites: entries.length,
      damagedSites: damaged,
      wallMs,
      syncRounds: target.syncRounds,
      ipis: target.ipis,
      traps: after.traps - before.traps,
      stoppedMs: (after.stoppedNs - before.stoppedNs) / 1e6,
      ipiHandlerMs: (after.ipiNs - before.ipiNs) / 1e6,
      breakpointHandlerMs: (after.bpNs - before.bpNs) / 1e6,
      faults: after.faults - before.faults,
      staleAfterPrevious: stale,
    };
  }

  /** Records a phase of operation `op` on the coordinator's track, if the machine has one (a recorded machine). */
  private phase(op: number, sites: number, what: string): void {
    const w = this.track;
    if (w === null) return;
    const values = { op, sites, what };
    const at = w.reserve(MachineEvent.patchPhase, encodedLength(patchPhaseEvent, values));
    if (at < 0) return;
    encode(patchPhaseEvent, values, w.u8, at);
    w.commit();
  }

  /** One phase: wait (bounded, asleep on its doorbell) until its guard holds, then act; an unguarded one runs whole. */
  private runPhase(target: MachineTarget, phase: Phase, step: PatchStep, timeoutMs: number): void {
    if (phase.ready === undefined) {
      phase.act?.(target, step, 0, timesOf(phase, step));
      return;
    }
    const bell = this.bells[phase.doorbell ?? 'nmiRunning'];
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const rung = Atomics.load(bell.i32, bell.index);
      if (phase.ready(target) && (phase.act === undefined || phase.act(target, step, 0, 1) !== false)) return;
      const left = deadline - performance.now();
      if (left <= 0) throw new PatchTimeoutError(this.timeoutMessage(target, phase, timeoutMs));
      // Sleeps until a CPU rings the bell; pairs with the Atomics.notify in the CPU's acknowledgement or rendezvous.
      Atomics.wait(bell.i32, bell.index, rung, Math.min(left, bell.pollMs));
    }
  }

  private timeoutMessage(target: MachineTarget, phase: Phase, timeoutMs: number): string {
    if (phase.doorbell === 'syncAck') {
      const missing = this.memory.irq.syncMissing(target.round, this.all);
      return `sync round ${target.round}: cpu ${missing.join(', ')} did not answer within ${timeoutMs} ms`;
    }
    return `timed out after ${timeoutMs} ms waiting for ${phase.waitsFor ?? 'a phase'}`;
  }

  private counters(): { traps: number; bpNs: number; stoppedNs: number; ipiNs: number; stale: number; faults: number } {
    const patch = this.memory.patch;
    const sum = (off: number): number => this.all.reduce((a, cpu) => a + patch.cpuCounter(cpu, off), 0);
    return {
      traps: sum(PC_TRAPS),
      bpNs: sum(PC_BP_NS),
      stoppedNs: sum(PC_STOPPED_NS),
      ipiNs: sum(PC_IPI_NS),
      stale: sum(PC_STALE),
      faults: this.all.reduce((a, cpu) => a + this.memory.irq.counters(cpu).faults, 0),
    };
  }
}
