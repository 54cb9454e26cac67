import { RingBuffer } from '../ring/ring-buffer.js';
import type { RingOptions } from '../ring/options.js';
import { CodePage, codePageBytes } from './code-page.js';
import { IRQ_BLOCK_BYTES, InterruptBlocks, Ipi } from './interrupts.js';
import { NmiEntryMode, P_NMI_ENTRY_MODE, PatchState, patchRegionBytes } from './patch-area.js';

/**
 * The simulated machine's single SharedArrayBuffer, and its control block. This module
 * owns the control block and the placement of the other regions (each of which has its
 * own owner: interrupts.ts, code-page.ts, the ring).
 *
 * ```
 * 0                       control block (256 bytes)
 * 256                     interrupt blocks, 128 bytes per CPU
 * 256 + 128 cpus          code page, 8 bytes per site (padded to 64)
 * patch offset            patch area (patch-area.ts): breakpoint table, refcounts, redo, rendezvous
 * ring offset             the per-CPU ring buffers (RingBuffer.bytesFor); a recorded machine has one
 *                         more, after the CPUs': the coordinator's track (its patch phases)
 * ```
 *
 * Control block:
 *
 * | off | width | word            | written by                  | read by            | how                                  |
 * |-----|-------|-----------------|-----------------------------|--------------------|--------------------------------------|
 * | 0   | u32   | magic "RTMC"    | boot                        | attach             | posting the SAB                      |
 * | 4   | u32   | layout version  | boot                        | attach             | posting the SAB                      |
 * | 8   | u32   | cpus            | boot                        | all                | posting the SAB                      |
 * | 12  | u32   | sites           | boot                        | all                | posting the SAB                      |
 * | 16  | u32   | ring offset     | boot                        | all                | posting the SAB                      |
 * | 20  | u32   | patch offset    | boot                        | all                | posting the SAB                      |
 * | 64  | i32   | sync round      | the sync sender             | CPUs (ack)         | Atomics.add before the IPIs          |
 * | 128 | i32   | sync doorbell   | acknowledging CPUs          | the sync sender    | Atomics.add + notify / wait          |
 * | 192 | i32   | stop            | the machine (stop, failure) | CPUs, NMI source   | Atomics.store + IPI kick / load      |
 * | 196 | i32   | CPUs running    | CPUs (enter/leave)          | the machine        | Atomics.add / load                   |
 */
export const CONTROL_BLOCK_BYTES = 256;
const MAGIC = 0x434d5452; // "RTMC"
const VERSION = 1;
const M_MAGIC = 0;
const M_VERSION = 4;
const M_CPUS = 8;
const M_SITES = 12;
const M_RING_OFFSET = 16;
const M_PATCH_OFFSET = 20;
export const M_SYNC_ROUND = 64;
export const M_SYNC_DOORBELL = 128;
export const M_STOP = 192;
export const M_RUNNING = 196;

export interface MachineGeometry {
  readonly cpus: number;
  readonly sites: number;
  readonly irqOffset: number;
  readonly codeOffset: number;
  readonly patchOffset: number;
  readonly ringOffset: number;
  readonly totalBytes: number;
}

export function machineGeometry(cpus: number, sites: number, ringBytes: number): MachineGeometry {
  const irqOffset = CONTROL_BLOCK_BYTES;
  const codeOffset = irqOffset + cpus * IRQ_BLOCK_BYTES;
  const patchOffset = codeOffset + codePageBytes(sites);
  const ringOffset = patchOffset + Math.ceil(patchRegionBytes(cpus, sites) / 64) * 64;
  return { cpus, sites, irqOffset, codeOffset, patchOffset, ringOffset, totalBytes: ringOffset + ringBytes };
}

/** Every view of a machine's memory, as any of its threads builds them. */
export class MachineMemory {
  readonly sab: SharedArrayBuffer;
  readonly geometry: MachineGeometry;
  readonly control: Int32Array;
  readonly irq: InterruptBlocks;
  readonly code: CodePage;
  readonly patch: PatchState;
  readonly ring: RingBuffer;

  private constructor(sab: SharedArrayBuffer, geometry: MachineGeometry, ring: RingBuffer) {
    this.sab = sab;
    this.geometry = geometry;
    this.control = new Int32Array(sab, 0, CONTROL_BLOCK_BYTES / 4);
    this.irq = new InterruptBlocks(sab, geometry.irqOffset, geometry.cpus, 0, { round: M_SYNC_ROUND, doorbell: M_SYNC_DOORBELL });
    this.code = new CodePage(sab, geometry.codeOffset, geometry.sites);
    this.patch = new PatchState(sab, geometry.patchOffset, geometry.cpus, geometry.sites);
    this.ring = ring;
  }

  /** Allocates a machine's memory: control block, interrupt blocks, code page (all NOP5), ring. */
  static create(cpus: number, sites: number, ring: Omit<RingOptions, 'cpus'>, nmiEntry: NmiEntryMode = NmiEntryMode.plain, coordinatorTrack = false): MachineMemory {
    const ringOptions = { ...ring, cpus: cpus + (coordinatorTrack ? 1 : 0) };
    const g = machineGeometry(cpus, sites, RingBuffer.bytesFor(ringOptions));
    const sab = new SharedArrayBuffer(g.totalBytes);
    const u32 = new Uint32Array(sab, 0, CONTROL_BLOCK_BYTES / 4);
    u32[M_MAGIC >> 2] = MAGIC;
    u32[M_VERSION >> 2] = VERSION;
    u32[M_CPUS >> 2] = cpus;
    u32[M_SITES >> 2] = sites;
    u32[M_RING_OFFSET >> 2] = g.ringOffset;
    u32[M_PATCH_OFFSET >> 2] = g.patchOffset;
    const rb = RingBuffer.create(ringOptions, { buffer: sab, byteOffset: g.ringOffset });
    const memory = new MachineMemory(sab, g, rb);
    memory.patch.i32[P_NMI_ENTRY_MODE >> 2] = nmiEntry;
    for (let site = 0; site < sites; site++) memory.code.initialiseSite(site, false, false);
    return memory;
  }

  /** Builds the views of a machine's memory in another thread. */
  static attach(sab: SharedArrayBuffer): MachineMemory {
    const u32 = new Uint32Array(sab, 0, CONTROL_BLOCK_BYTES / 4);
    if (u32[M_MAGIC >> 2] !== MAGIC || u32[M_VERSION >> 2] !== VERSION) {
      throw new TypeError('not a ringtrace machine buffer (bad magic or version)');
    }
    const cpus = u32[M_CPUS >> 2]!;
    const sites = u32[M_SITES >> 2]!;
    const ringOffset = u32[M_RING_OFFSET >> 2]!;
    const ring = RingBuffer.attach(sab, ringOffset);
    return new MachineMemory(sab, machineGeometry(cpus, sites, ring.view.geometry.totalBytes), ring);
  }

  get cpus(): number {
    return this.geometry.cpus;
  }

  /** The ring buffer the coordinator writes its patch phases to (the one after the CPUs'), or -1 if the ring has none. */
  get coordinatorTrack(): number {
    return this.ring.config.cpus > this.geometry.cpus ? this.geometry.cpus : -1;
  }

  stopRequested(): boolean {
    return Atomics.load(this.control, M_STOP >> 2) !== 0;
  }

  /** Sleeps until stop is requested or the timeout passes (worker threads only). */
  waitForStop(timeoutMs: number): void {
    Atomics.wait(this.control, M_STOP >> 2, 0, timeoutMs);
  }

  enterRunning(): void {
    Atomics.add(this.control, M_RUNNING >> 2, 1);
  }

  leaveRunning(): void {
    Atomics.sub(this.control, M_RUNNING >> 2, 1);
  }

  /** CPUs inside their run loop now. */
  running(): number {
    return Atomics.load(this.control, M_RUNNING >> 2);
  }

  /** Asks every CPU to stop, and kicks the sleeping ones. */
  requestStop(): void {
    Atomics.store(this.control, M_STOP >> 2, 1);
    Atomics.notify(this.control, M_STOP >> 2);
    for (let cpu = 0; cpu < this.cpus; cpu++) this.irq.sendIpi(cpu, Ipi.kick);
  }
}
