import { prng } from '../prng.js';
import type { CpuWriter } from '../ring/writer.js';
import { INSN_BYTES } from './code-page.js';
import { FetchModel, type FetchModelOptions } from './fetch-model.js';
import { Insn, decode, formatBytes } from './instruction.js';
import { Context, InterruptPoint, interruptPointNames } from './interrupts.js';
import type { MachineMemory } from './machine-memory.js';
import { PC_IPI_NS, PC_STALE, PC_STOPPED_NS, P_STOP_STATE, StopState } from './patch-area.js';
import {
  arriveAtRendezvous,
  handleBreakpoint,
  handleIpis,
  leaveRendezvous,
  nmiEnter,
  nmiReturn,
  nmisMasked,
  rendezvousHeld,
  staleExecution,
  type PatchingCpu,
} from './patch-handlers.js';
import { FunctionTracer, type TracingCpu } from './tracer.js';
import { FAULT_EVENT_BYTES, INT3_EVENT_BYTES, MachineEvent, NMI_EVENT_BYTES } from './trace-events.js';

/** A fault: the CPU executed bytes that are not an instruction (the simulated crash). */
export interface FaultRecord {
  readonly cpu: number;
  readonly site: number;
  readonly bytes: string;
  readonly context: string;
  readonly timestamp: number;
  readonly reason: string;
}

/**
 * What a CPU does when it executes int3 at a site, if not the patch area's handler (tests
 * install their own). It returns whether it handled the trap; an unhandled int3 is a fault.
 */
export type BreakpointHandler = (cpu: Cpu, site: number) => boolean;

export interface CpuOptions {
  readonly cpu: number;
  readonly seed: number;
  /** Sites the NMI handler executes: its own traced functions (may be the very sites being patched). */
  readonly nmiSites?: readonly number[];
  /** Sites the function tracer itself calls: traced from inside the tracer, they exercise the recursion guard. */
  readonly tracerSites?: readonly number[];
  /** The fetch model of cross-modifying code. */
  readonly fetch?: FetchModelOptions;
  /** Probability that the workload idles (hlt) instead of calling a function. Defaults to 0. */
  readonly idleProbability?: number;
  /** How long one idle sleeps at most, ms (an IPI wakes it sooner). Defaults to 1. */
  readonly idleMs?: number;
  /** Fault injection for tests: throw after this many steps taken while every CPU runs. Defaults to never (-1). */
  readonly crashAfterSteps?: number;
}

/** Faults a CPU logs in full (it counts them all); the machine's report keeps as many. */
export const FAULT_LOG_LIMIT = 100;

/**
 * One simulated CPU: runs a seeded workload of function calls, each an execution of a
 * call site in the code page through this CPU's fetch model; takes NMIs at every
 * interrupt point and IPIs where IRQs are enabled; records what the tracer traces in its
 * ring buffer. The CPU worker runs `run()`; tests drive `step()` and the handlers directly.
 */
export class Cpu implements PatchingCpu, TracingCpu {
  readonly id: number;
  readonly memory: MachineMemory;
  readonly fetchModel: FetchModel;
  readonly tracer: FunctionTracer;
  readonly writer: CpuWriter;
  readonly random: () => number;
  readonly faults: FaultRecord[] = [];
  /** NMIs taken, by the interrupt point they arrived at. */
  readonly nmisAt = new Float64Array(interruptPointNames.length);
  breakpointHandler: BreakpointHandler | null = null;
  /**
   * A deterministic NMI schedule for tests: asked at every interrupt point, before the NMI
   * line is looked at; returning true raises this CPU's NMI line right there.
   */
  nmiSchedule: ((point: InterruptPoint) => boolean) | null = null;
  /** Events other than function entries (NMI enter / exit, int3, faults) attempted and stored. */
  otherEvents = 0;
  otherEventsStored = 0;
  private readonly nmiSites: readonly number[];
  private readonly idleProbability: number;
  private readonly idleMs: number;
  private readonly sites: number;
  private readonly bytes = new Uint8Array(INSN_BYTES);
  /**
   * Per context level, the site the CPU last entered and the caller of that call. The
   * workload is a walk over the call graph: each call is made from the function the CPU is
   * in, so a function entry names its caller; an NMI handler starts from none (-1).
   */
  private readonly current = new Int32Array(3).fill(-1);
  private readonly caller = new Int32Array(3).fill(-1);
  private context: Context = Context.normal;
  private irqsOn = true;
  private inNmi = false;
  private stepsLeft: number;

  constructor(memory: MachineMemory, options: CpuOptions) {
    this.id = options.cpu;
    this.memory = memory;
    this.sites = memory.code.sites;
    this.random = prng(options.seed);
    this.fetchModel = new FetchModel(this.sites, prng(options.seed ^ 0x5f3759df), options.fetch);
    this.nmiSites = options.nmiSites ?? [];
    this.idleProbability = options.idleProbability ?? 0;
    this.idleMs = options.idleMs ?? 1;
    this.stepsLeft = options.crashAfterSteps ?? -1;
    this.writer = memory.ring.writer(this.id, { hook: () => this.interruptPoint(InterruptPoint.ringWrite) });
    this.tracer = new FunctionTracer(this, options.tracerSites ?? []);
    memory.irq.setContext(this.id, Context.normal);
    memory.irq.setIrqsEnabled(this.id, true);
  }

  get currentContext(): Context {
    return this.context;
  }

  get irqsEnabled(): boolean {
    return this.irqsOn;
  }

  /** Runs the workload until the machine asks every CPU to stop. */
  run(): void {
    const memory = this.memory;
    while (!memory.stopRequested()) {
      for (let i = 0; i < 256; i++) this.step();
    }
  }

  /** One workload step: an interrupt point, then a function call (or an idle spell). */
  step(): void {
    // The injected crash counts steps of the running machine only, so it lands after start()
    // resolved however slowly the other CPUs boot.
    if (this.stepsLeft >= 0 && this.memory.running() === this.memory.cpus && this.stepsLeft-- === 0) {
      throw new Error(`cpu ${this.id}: injected crash`);
    }
    this.interruptPoint(InterruptPoint.betweenSites);
    if (this.idleProbability > 0 && this.random() < this.idleProbability) {
      this.idle();
      return;
    }
    this.execute(Math.floor(this.random() * this.sites));
  }

  /** Executes the call site `site`: fetch through the fetch model, decode, act. */
  execute(site: number): void {
    this.memory.irq.count(this.id, 'sitesExecuted');
    const level = this.context;
    this.caller[level] = this.current[level]!;
    this.current[level] = site;
    this.fetchModel.fetch(this.memory.code, site, this.bytes);
    const kind = decode(site, this.bytes);
    // A patched site must show its new instruction once its operation completed.
    if ((kind === Insn.nop5 || kind === Insn.callTracer) && staleExecution(this.memory.patch, site, kind)) this.memory.patch.addCpu(this.id, PC_STALE, 1);
    this.act(site, kind);
  }

  /** Runs an instruction given as bytes, without fetching (the int3 bypass). */
  runInstruction(site: number, bytes: Uint8Array): void {
    for (let b = 0; b < INSN_BYTES; b++) this.bytes[b] = bytes[b]!;
    this.act(site, decode(site, bytes));
  }

  breakpointInterruptPoint(): void {
    this.interruptPoint(InterruptPoint.breakpoint);
  }

  serialize(): void {
    this.fetchModel.serialize();
  }

  acknowledgeSync(): void {
    this.memory.irq.acknowledgeSync(this.id);
  }

  countRecursionSkip(): void {
    this.memory.irq.count(this.id, 'recursionSkips');
  }

  private act(site: number, kind: Insn): void {
    switch (kind) {
      case Insn.nop5:
        return;
      case Insn.callTracer:
        this.tracer.trace(site, this.caller[this.context]!);
        return;
      case Insn.int3:
        this.trap(site);
        return;
      default:
        this.fault(site, 'torn or invalid instruction');
    }
  }

  /** An interrupt point: take a pending NMI (always, unless in one) and IPIs (if IRQs are enabled). */
  interruptPoint(point: InterruptPoint): void {
    const irq = this.memory.irq;
    if (this.nmiSchedule !== null && this.nmiSchedule(point)) irq.raiseNmi(this.id);
    // NMIs masked: stop_machine with NMIs disabled (the thread's mitigation); the line stays up.
    if (!this.inNmi && irq.nmiPending(this.id) && !nmisMasked(this.memory.patch) && irq.takeNmi(this.id)) {
      this.nmi(point);
    }
    // NMI handlers run with IRQs off (the CPU clears IF on NMI entry).
    if (this.irqsOn && !this.inNmi && irq.ipiPending(this.id)) this.irqEntry();
  }

  /** Disables or enables IRQs (local_irq_disable / enable); enabling is an interrupt point. */
  setIrqs(enabled: boolean): void {
    this.irqsOn = enabled;
    this.memory.irq.setIrqsEnabled(this.id, enabled);
  }

  /** hlt: sleep until an IPI or the idle spell ends, then take what is pending. */
  idle(): void {
    // A machine that is stopping does not go back to sleep (its kick IPI may be taken already).
    if (this.memory.stopRequested()) return;
    // A pending NMI ends hlt at once. (One raised between this check and the wait wakes it
    // through the notify in raiseNmi; in the worst case the spell's timeout ends it.)
    if (!this.memory.irq.nmiPending(this.id)) this.memory.irq.sleep(this.id, this.idleMs);
    this.interruptPoint(InterruptPoint.idle);
  }

  private enter(context: Context): Context {
    const previous = this.context;
    this.context = context;
    this.memory.irq.setContext(this.id, context);
    return previous;
  }

  private leave(previous: Context): void {
    this.context = previous;
    this.memory.irq.setContext(this.id, previous);
  }

  /** The NMI handler: its own traced functions, then a serializing return. NMIs do not nest. */
  private nmi(point: InterruptPoint): void {
    this.inNmi = true;
    this.memory.irq.setInNmi(this.id, true);
    this.memory.irq.count(this.id, 'nmisTaken');
    this.nmisAt[point]!++;
    const previous = this.enter(Context.nmi);
    this.current[Context.nmi] = -1;
    try {
      this.writeSmall(MachineEvent.nmiEnter, NMI_EVENT_BYTES, point, 0);
      nmiEnter(this.memory.patch, this.memory.code, this);
      for (const site of this.nmiSites) this.execute(site);
    } finally {
      nmiReturn(this.memory.patch, this);
      this.writeSmall(MachineEvent.nmiExit, NMI_EVENT_BYTES, point, 0);
      this.inNmi = false;
      this.memory.irq.setInNmi(this.id, false);
      this.leave(previous);
    }
  }

  /** IRQ entry with IRQs disabled inside (NMIs may still arrive), handling every pending IPI. */
  private irqEntry(): void {
    const irq = this.memory.irq;
    const previous = this.enter(Context.irq);
    this.irqsOn = false;
    const started = performance.now();
    try {
      const bits = irq.takeIpis(this.id);
      this.interruptPoint(InterruptPoint.irqHandler);
      handleIpis(this.memory.patch, this, bits);
    } finally {
      this.memory.patch.addCpu(this.id, PC_IPI_NS, (performance.now() - started) * 1e6);
      this.irqsOn = true;
      this.leave(previous);
      // iret: the return from an interrupt handler is serializing.
      this.fetchModel.serialize();
    }
  }

  /** int3: the patch area's handler (or a test's); its return is serializing. */
  private trap(site: number): void {
    const handler = this.breakpointHandler;
    const handled = handler !== null ? handler(this, site) : handleBreakpoint(this.memory.patch, this, site);
    this.fetchModel.serialize();
    this.writeSmall(MachineEvent.int3, INT3_EVENT_BYTES, site, handled ? 1 : 0);
    if (!handled) this.fault(site, 'int3 with no breakpoint handler for this site');
  }

  /**
   * stop_machine's rendezvous: arrive, spin with IRQs off (NMIs still arrive and run their
   * handlers) until released, then sync_core on the way out.
   */
  rendezvous(): void {
    const patch = this.memory.patch;
    const started = performance.now();
    arriveAtRendezvous(patch, this);
    for (let spins = 0; rendezvousHeld(patch) && !this.memory.stopRequested(); spins++) {
      this.interruptPoint(InterruptPoint.rendezvous);
      // Spin a little, then doze in short waits: on 2 shared cores a pure spin starves the coordinator.
      if (spins > 64) Atomics.wait(patch.i32, P_STOP_STATE >> 2, StopState.stopping, 0.02);
    }
    leaveRendezvous(patch, this);
    this.memory.patch.addCpu(this.id, PC_STOPPED_NS, (performance.now() - started) * 1e6);
  }

  /** Records a fault: counted, logged (up to FAULT_LOG_LIMIT), and written to the trace as an event. */
  private fault(site: number, reason: string): void {
    const irq = this.memory.irq;
    irq.count(this.id, 'faults');
    const timestamp = this.memory.ring.cpuStats(this.id).lastTimestamp;
    if (this.faults.length < FAULT_LOG_LIMIT) {
      this.faults.push({
        cpu: this.id,
        site,
        bytes: formatBytes(this.bytes),
        context: ['normal', 'irq', 'nmi'][this.context]!,
        timestamp,
        reason,
      });
    }
    const b = this.bytes;
    this.otherEvents++;
    const w = this.writer;
    const at = w.reserve(MachineEvent.fault, FAULT_EVENT_BYTES);
    if (at >= 0) {
      const k = at >> 2;
      w.i32[k] = site;
      w.i32[k + 1] = this.context;
      w.i32[k + 2] = b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
      w.u8[at + 12] = b[4]!;
      w.u8[at + 13] = 0; // flags
      w.commit();
      this.otherEventsStored++;
    }
  }

  /**
   * An NMI or int3 event (trace-events.ts): `nmi_enter` / `nmi_exit` carry the interrupt
   * point as a u8 at 0; `int3` the site as a u32 at 0, the context and whether it was handled as u8s at 4 and 5.
   */
  private writeSmall(type: number, bytes: number, a: number, b: number): void {
    this.otherEvents++;
    const w = this.writer;
    const at = w.reserve(type, bytes);
    if (at < 0) return;
    if (type === MachineEvent.int3) {
      w.i32[at >> 2] = a;
      w.u8[at + 4] = this.context;
      w.u8[at + 5] = b;
      w.u8[at + 6] = 0; // flags
    } else {
      w.u8[at] = a;
      w.u8[at + 1] = 0; // flags
    }
    w.commit();
    this.otherEventsStored++;
  }
}
