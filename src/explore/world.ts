import { CodePage, codePageBytes } from '../machine/code-page.js';
import type { FetchModel } from '../machine/fetch-model.js';
import { PATCH_CONTROL_BYTES, PC_REFCOUNT, PatchState } from '../machine/patch-area.js';
import { arriveAtRendezvous, type PatchingCpu } from '../machine/patch-handlers.js';
import type { PatchSettings, PatchTarget, PhaseCursor } from '../patch/phases.js';

/**
 * The explorer's world model: one state of the machine under exploration — its memory (a
 * code page and a patch area of their own, laid out by their owner modules), where the
 * patcher is in the protocol's phases, and each CPU's fetch model, frames and pending
 * interrupts. Moves clone a state and change the clone.
 */

/** An int3 being handled: the handler's three steps are moves of their own. */
export interface Trap {
  readonly site: number;
  readonly index: number;
  readonly phase: 'enter' | 'bypass' | 'leave';
}

export interface Frame {
  readonly ctx: 'normal' | 'nmi';
  pc: number;
  trap: Trap | null;
}

export interface CpuModel {
  readonly id: number;
  fetch: FetchModel;
  frames: Frame[];
  execsLeft: number;
  nmisLeft: number;
  /** The sync_core IPI is pending (sent, not yet taken). */
  syncPending: boolean;
  ackedRound: number;
  /** The stop IPI is pending. */
  kicked: boolean;
  inRendezvous: boolean;
}

/** The patcher: its place in the phases, the last sync round and table generation. */
export interface PatcherModel extends PhaseCursor {
  round: number;
  generation: number;
}

export class World implements PatchTarget {
  readonly sab: SharedArrayBuffer;
  readonly code: CodePage;
  readonly patch: PatchState;
  readonly settings: PatchSettings;
  patcher: PatcherModel;
  cpus: CpuModel[];

  constructor(sab: SharedArrayBuffer, sites: number, settings: PatchSettings, patcher: PatcherModel, cpus: CpuModel[]) {
    this.sab = sab;
    this.code = new CodePage(sab, 0, sites);
    this.patch = new PatchState(sab, codePageBytes(sites), cpus.length, sites);
    this.settings = settings;
    this.patcher = patcher;
    this.cpus = cpus;
  }

  clone(): World {
    const sab = new SharedArrayBuffer(this.sab.byteLength);
    new Uint8Array(sab).set(new Uint8Array(this.sab));
    const cpus = this.cpus.map((c) => ({
      ...c,
      fetch: c.fetch.clone(),
      frames: c.frames.map((f) => ({ ...f, trap: f.trap === null ? null : { ...f.trap } })),
    }));
    return new World(sab, this.code.sites, this.settings, { ...this.patcher }, cpus);
  }

  /** What distinguishes two states: code bytes, the patch control words, refcounts, and each actor. */
  key(): string {
    // The table and redo buffer are written by the patcher's steps, so its place in them covers them.
    let k = Buffer.from(this.code.bytes.buffer, this.code.bytes.byteOffset, this.code.sites * 8).toString('latin1');
    k += Buffer.from(this.patch.u8.buffer, this.patch.u8.byteOffset, PATCH_CONTROL_BYTES).toString('latin1');
    for (let cpu = 0; cpu < this.cpus.length; cpu++) k += `,${this.patch.i32[this.patch.cpuWord(cpu, PC_REFCOUNT)]}`;
    const p = this.patcher;
    k += `|${p.step}.${p.phase}.${p.rep}`;
    for (const c of this.cpus) {
      k += `|${c.fetch.key()}${JSON.stringify(c.frames)}${c.execsLeft}.${c.nmisLeft}.${c.syncPending ? 1 : 0}.${c.ackedRound === p.round ? 1 : 0}.${c.kicked ? 1 : 0}.${c.inRendezvous ? 1 : 0}`;
    }
    return k;
  }

  // ---- PatchTarget: the patcher's phases act on this state ------------------

  get round(): number {
    return this.patcher.round;
  }

  poke(site: number, index: number, byte: number): void {
    this.code.poke(site, index, byte);
  }

  startSync(): void {
    this.patcher.round++;
    for (const cpu of this.cpus) cpu.syncPending = true;
  }

  syncAcknowledged(): boolean {
    return this.cpus.every((cpu) => cpu.ackedRound === this.patcher.round);
  }

  kickAll(): void {
    for (const cpu of this.cpus) cpu.kicked = true;
  }

  nextGeneration(): number {
    return ++this.patcher.generation;
  }

  /**
   * CPU `id` as the shared interrupt handlers (patch-handlers.ts) see it. The bypass runs
   * nothing here (the explorer checks the bypass bytes itself) and the rendezvous is only
   * the arrival: staying and leaving are moves of their own.
   */
  handlerView(id: number): PatchingCpu {
    const cpu = this.cpus[id]!;
    const view: PatchingCpu = {
      id,
      runInstruction: () => undefined,
      breakpointInterruptPoint: () => undefined,
      serialize: () => cpu.fetch.serialize(),
      acknowledgeSync: () => {
        cpu.ackedRound = this.patcher.round;
      },
      rendezvous: () => {
        arriveAtRendezvous(this.patch, view);
        cpu.inRendezvous = true;
      },
    };
    return view;
  }
}
