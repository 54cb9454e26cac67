/**
 * Per-CPU interrupt state: the NMI line, the IPI mailbox, the sync_core acknowledgement,
 * and the CPU's context and counters. This module owns the interrupt block layout.
 *
 * One 128-byte block per CPU. Line 0 is written by others (senders), line 1 by the CPU:
 *
 * | off | width | word            | written by                | read by              | how                                   |
 * |-----|-------|-----------------|---------------------------|----------------------|---------------------------------------|
 * | 0   | i32   | NMI line        | NMI source (raise)        | the CPU (take)       | Atomics.exchange 1 / Atomics.exchange 0 |
 * | 4   | i32   | IPI pending bits| any sender                | the CPU (take, sleep)| Atomics.or + notify / exchange, wait  |
 * | 8   | f64   | NMIs raised     | NMI source                | stats                | plain (one source per machine)        |
 * | 16  | f64   | NMIs coalesced  | NMI source                | stats                | plain (a raise while the line was up) |
 * | 64  | i32   | sync ack round  | the CPU (sync_core)       | the sync sender      | Atomics.store / Atomics.load          |
 * | 68  | i32   | context level   | the CPU                   | observers, stats     | plain (racy getter)                   |
 * | 72  | i32   | IRQs enabled    | the CPU                   | observers            | plain (racy getter)                   |
 * | 76  | i32   | in NMI          | the CPU                   | observers            | plain (racy getter)                   |
 * | 80  | f64   | NMIs taken      | the CPU                   | stats                | plain (racy getter)                   |
 * | 88  | f64   | IPIs taken      | the CPU                   | stats                | plain (racy getter)                   |
 * | 96  | f64   | faults          | the CPU                   | stats                | plain (racy getter)                   |
 * | 104 | f64   | sites executed  | the CPU                   | stats                | plain (racy getter)                   |
 * | 112 | f64   | recursion skips | the CPU (tracer)          | stats                | plain (racy getter)                   |
 * | 120 | f64   | hlt sleeps      | the CPU                   | stats                | plain (racy getter)                   |
 *
 * The sync round uses two words of the machine control block too (see machine-memory.ts):
 * the round number, stored by the sender before its IPIs, and the ack doorbell, which each
 * acknowledging CPU bumps with Atomics.add and notifies, and the sender waits on.
 */

export const IRQ_BLOCK_BYTES = 128;
const NMI_LINE = 0;
const IPI_PENDING = 4;
const NMIS_RAISED = 8;
const NMIS_COALESCED = 16;
const SYNC_ACK = 64;
const CONTEXT = 68;
const IRQS_ENABLED = 72;
const IN_NMI = 76;
const NMIS_TAKEN = 80;
const IPIS_TAKEN = 88;
const FAULTS = 96;
const SITES_EXECUTED = 104;
const RECURSION_SKIPS = 112;
const SLEEPS = 120;

/** IPI kinds: bits of the pending word. */
export const Ipi = {
  /** Serialize the instruction stream (drop fetched copies) and acknowledge. */
  syncCore: 1 << 0,
  /** Wake up and look at the machine's control block (stop, rendezvous). */
  kick: 1 << 1,
} as const;

/** Where a CPU can take an interrupt. NMIs arrive at every one, IPIs only with IRQs enabled. */
export const InterruptPoint = {
  betweenSites: 0,
  tracer: 1,
  ringWrite: 2,
  breakpoint: 3,
  rendezvous: 4,
  irqHandler: 5,
  idle: 6,
} as const;
export type InterruptPoint = (typeof InterruptPoint)[keyof typeof InterruptPoint];
export const interruptPointNames: readonly string[] = Object.keys(InterruptPoint);

/** Context levels, as in the kernel. */
export const Context = { normal: 0, irq: 1, nmi: 2 } as const;
export type Context = (typeof Context)[keyof typeof Context];
export const contextNames: readonly string[] = ['normal', 'irq', 'nmi'];

/** Words of the machine control block that sync rounds use (byte offsets into it). */
export interface SyncWords {
  readonly round: number;
  readonly doorbell: number;
}

export interface SyncResult {
  readonly round: number;
  /** CPUs that had not acknowledged when the wait ended (empty on success). */
  readonly missing: number[];
  readonly micros: number;
}

/** Views of every CPU's interrupt block plus the two sync words of the control block. */
export class InterruptBlocks {
  readonly cpus: number;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly control: Int32Array;
  private readonly roundIndex: number;
  private readonly doorbellIndex: number;

  constructor(sab: SharedArrayBuffer, byteOffset: number, cpus: number, controlOffset: number, sync: SyncWords) {
    this.cpus = cpus;
    this.i32 = new Int32Array(sab, byteOffset, (cpus * IRQ_BLOCK_BYTES) / 4);
    this.f64 = new Float64Array(sab, byteOffset, (cpus * IRQ_BLOCK_BYTES) / 8);
    this.control = new Int32Array(sab, controlOffset, 64);
    this.roundIndex = sync.round >> 2;
    this.doorbellIndex = sync.doorbell >> 2;
  }

  private w(cpu: number, off: number): number {
    return (cpu * IRQ_BLOCK_BYTES + off) >> 2;
  }

  private d(cpu: number, off: number): number {
    return (cpu * IRQ_BLOCK_BYTES + off) >> 3;
  }

  // ---- senders (any thread) -------------------------------------------------

  /**
   * Raises the CPU's NMI line. Pending NMIs do not queue: the line is one bit, so a raise
   * while it is still up coalesces with the pending one. Returns whether the line was down.
   */
  raiseNmi(cpu: number): boolean {
    // Pairs with the CPU's Atomics.exchange in takeNmi().
    const wasUp = Atomics.exchange(this.i32, this.w(cpu, NMI_LINE), 1) !== 0;
    this.f64[this.d(cpu, wasUp ? NMIS_COALESCED : NMIS_RAISED)]! += 1;
    // An NMI wakes a halted CPU, as on hardware: hlt sleeps on the IPI word.
    if (!wasUp) Atomics.notify(this.i32, this.w(cpu, IPI_PENDING));
    return !wasUp;
  }

  /** Counts NMIs that fell due while the line was already raised or the source slept (coalesced). */
  countCoalescedNmis(cpu: number, n: number): void {
    this.f64[this.d(cpu, NMIS_COALESCED)]! += n;
  }

  /** Posts IPI bits to a CPU and wakes it if it sleeps (hlt). */
  sendIpi(cpu: number, bits: number): void {
    // Publishes everything this thread wrote before (e.g. code bytes); pairs with takeIpis().
    Atomics.or(this.i32, this.w(cpu, IPI_PENDING), bits);
    Atomics.notify(this.i32, this.w(cpu, IPI_PENDING));
  }

  /**
   * Starts a sync_core round to `targets`: a new round number, then the IPIs. Only one
   * thread sends sync rounds at a time (the coordinator, or a test).
   */
  startSync(targets: readonly number[]): number {
    const round = Atomics.add(this.control, this.roundIndex, 1) + 1;
    for (const cpu of targets) this.sendIpi(cpu, Ipi.syncCore);
    return round;
  }

  /** Targets that have not acknowledged `round` yet. */
  syncMissing(round: number, targets: readonly number[]): number[] {
    return targets.filter((cpu) => Atomics.load(this.i32, this.w(cpu, SYNC_ACK)) - round < 0);
  }

  /** Whether every target acknowledged `round` (allocates nothing: a waiting sender asks often). */
  syncAcknowledged(round: number, targets: readonly number[]): boolean {
    for (let n = 0; n < targets.length; n++) if (Atomics.load(this.i32, this.w(targets[n]!, SYNC_ACK)) - round < 0) return false;
    return true;
  }

  /** Blocks (worker threads only) until every target acknowledged or the timeout passed. */
  syncWait(round: number, targets: readonly number[], timeoutMs: number, startedNs = process.hrtime.bigint()): SyncResult {
    const deadline = Number(startedNs) / 1e6 + timeoutMs;
    for (;;) {
      const bell = Atomics.load(this.control, this.doorbellIndex);
      const now = Number(process.hrtime.bigint()) / 1e6;
      if (this.syncAcknowledged(round, targets) || now >= deadline) {
        return { round, missing: this.syncMissing(round, targets), micros: (now - Number(startedNs) / 1e6) * 1000 };
      }
      // Sleeps until some CPU rings the doorbell (acknowledges); pairs with acknowledgeSync().
      Atomics.wait(this.control, this.doorbellIndex, bell, deadline - now);
    }
  }

  /** The same wait for the main thread, which must not block. */
  async syncWaitAsync(round: number, targets: readonly number[], timeoutMs: number, startedNs = process.hrtime.bigint()): Promise<SyncResult> {
    const deadline = Number(startedNs) / 1e6 + timeoutMs;
    for (;;) {
      const bell = Atomics.load(this.control, this.doorbellIndex);
      const now = Number(process.hrtime.bigint()) / 1e6;
      const missing = this.syncMissing(round, targets);
      if (missing.length === 0 || now >= deadline) {
        return { round, missing, micros: (now - Number(startedNs) / 1e6) * 1000 };
      }
      const waited = Atomics.waitAsync(this.control, this.doorbellIndex, bell, deadline - now);
      if (waited.async) await waited.value;
    }
  }

  /** One whole sync_core round from a worker thread: IPIs, then wait for every ack. */
  syncCore(targets: readonly number[], timeoutMs: number): SyncResult {
    const started = process.hrtime.bigint();
    return this.syncWait(this.startSync(targets), targets, timeoutMs, started);
  }

  async syncCoreAsync(targets: readonly number[], timeoutMs: number): Promise<SyncResult> {
    const started = process.hrtime.bigint();
    return this.syncWaitAsync(this.startSync(targets), targets, timeoutMs, started);
  }

  // ---- the CPU itself (its own thread) --------------------------------------

  /** Takes the NMI line if raised. */
  takeNmi(cpu: number): boolean {
    // Pairs with raiseNmi().
    return Atomics.exchange(this.i32, this.w(cpu, NMI_LINE), 0) !== 0;
  }

  /** Whether an NMI is pending, without taking it. */
  nmiPending(cpu: number): boolean {
    return Atomics.load(this.i32, this.w(cpu, NMI_LINE)) !== 0;
  }

  /** Takes every pending IPI bit. */
  takeIpis(cpu: number): number {
    // Pairs with sendIpi(): what the sender wrote before its Atomics.or is visible after this.
    const bits = Atomics.exchange(this.i32, this.w(cpu, IPI_PENDING), 0);
    if (bits !== 0) this.f64[this.d(cpu, IPIS_TAKEN)]! += 1;
    return bits;
  }

  ipiPending(cpu: number): boolean {
    return Atomics.load(this.i32, this.w(cpu, IPI_PENDING)) !== 0;
  }

  /** hlt: sleeps until an IPI is posted or the timeout passes. */
  sleep(cpu: number, timeoutMs: number): void {
    this.f64[this.d(cpu, SLEEPS)]! += 1;
    Atomics.wait(this.i32, this.w(cpu, IPI_PENDING), 0, timeoutMs);
  }

  /** The sync_core handler's acknowledgement, after the CPU serialized. */
  acknowledgeSync(cpu: number): void {
    // The round the sender stored before its IPI, which we have taken: we serialized after it.
    Atomics.store(this.i32, this.w(cpu, SYNC_ACK), Atomics.load(this.control, this.roundIndex));
    Atomics.add(this.control, this.doorbellIndex, 1);
    Atomics.notify(this.control, this.doorbellIndex);
  }

  setContext(cpu: number, context: Context): void {
    this.i32[this.w(cpu, CONTEXT)] = context;
  }

  context(cpu: number): Context {
    return this.i32[this.w(cpu, CONTEXT)] as Context;
  }

  setIrqsEnabled(cpu: number, enabled: boolean): void {
    this.i32[this.w(cpu, IRQS_ENABLED)] = enabled ? 1 : 0;
  }

  irqsEnabled(cpu: number): boolean {
    return this.i32[this.w(cpu, IRQS_ENABLED)] !== 0;
  }

  setInNmi(cpu: number, inNmi: boolean): void {
    this.i32[this.w(cpu, IN_NMI)] = inNmi ? 1 : 0;
  }

  inNmi(cpu: number): boolean {
    return this.i32[this.w(cpu, IN_NMI)] !== 0;
  }

  count(cpu: number, counter: 'nmisTaken' | 'faults' | 'sitesExecuted' | 'recursionSkips', by = 1): void {
    this.f64[this.d(cpu, COUNTERS[counter])]! += by;
  }

  /** Racy snapshot of a CPU's counters (exact once the CPU has stopped). */
  counters(cpu: number): CpuInterruptCounters {
    const f = (off: number): number => this.f64[this.d(cpu, off)]!;
    return {
      nmisRaised: f(NMIS_RAISED),
      nmisCoalesced: f(NMIS_COALESCED),
      nmisTaken: f(NMIS_TAKEN),
      ipisTaken: f(IPIS_TAKEN),
      faults: f(FAULTS),
      sitesExecuted: f(SITES_EXECUTED),
      recursionSkips: f(RECURSION_SKIPS),
      sleeps: f(SLEEPS),
    };
  }
}

const COUNTERS = { nmisTaken: NMIS_TAKEN, faults: FAULTS, sitesExecuted: SITES_EXECUTED, recursionSkips: RECURSION_SKIPS } as const;

export interface CpuInterruptCounters {
  readonly nmisRaised: number;
  readonly nmisCoalesced: number;
  readonly nmisTaken: number;
  readonly ipisTaken: number;
  readonly faults: number;
  readonly sitesExecuted: number;
  readonly recursionSkips: number;
  readonly sleeps: number;
}
