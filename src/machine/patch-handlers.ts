import { INSN_BYTES, type CodePage } from './code-page.js';
import type { Insn } from './instruction.js';
import { Ipi } from './interrupts.js';
import {
  Bypass,
  NMI_WRITE_FLAG,
  NmiEntryMode,
  PC_BP_NS,
  PC_REFCOUNT,
  PC_TRAPS,
  P_BP_ACTIVE,
  P_BP_BYPASS,
  P_BP_REFCOUNT_MODE,
  P_NMI_MASKED,
  P_NMI_RUNNING,
  P_REDO_BYTES,
  P_REDO_PENDING,
  P_REDO_SITE,
  P_REFCOUNT,
  P_RELEASED,
  P_STOPPED,
  P_STOP_STATE,
  Refcount,
  StopState,
  type PatchState,
} from './patch-area.js';

/**
 * The CPU side of patching: what a CPU does when it takes an interrupt while a protocol
 * runs — int3, NMI entry and return, the sync_core and stop IPIs, the stop_machine
 * rendezvous — and when an execution is stale (the kernel keeps these in arch code, under
 * the patching code: so do we). Plain functions over the shared patch area and a small
 * interface to the CPU, so the threaded CPU and the interleaving explorer's CPUs run the
 * very same code.
 */
export interface PatchingCpu {
  readonly id: number;
  /** Runs an instruction given as bytes at `site`, without fetching it (the bypass). */
  runInstruction(site: number, bytes: Uint8Array): void;
  /** An interrupt point inside the handler: an NMI may arrive here. */
  breakpointInterruptPoint(): void;
  /** A serializing event. */
  serialize(): void;
  /** Tells the sync sender this CPU took the current round (after serializing). */
  acknowledgeSync(): void;
  /** stop_machine's rendezvous: arrive, stay while it is held, leave (the explorer: arrive; leaving is a move of its own). */
  rendezvous(): void;
}

/**
 * The IPI handler, by pending bit: sync_core serializes and then acknowledges (the sender
 * waits for every acknowledgement); a stop kick while the machine is stopping enters the
 * rendezvous. A kick that finds the machine running has nothing to do.
 */
export function handleIpis(state: PatchState, cpu: Pick<PatchingCpu, 'serialize' | 'acknowledgeSync' | 'rendezvous'>, bits: number): void {
  if ((bits & Ipi.syncCore) !== 0) {
    cpu.serialize();
    cpu.acknowledgeSync();
  }
  if ((bits & Ipi.kick) !== 0 && rendezvousHeld(state)) cpu.rendezvous();
}

/**
 * Whether executing `kind` at `site` is stale: the site's last operation completed with the
 * other instruction (the coordinator's completeOperation wrote the expected one). Only a
 * sound instruction can be stale; a torn one is a fault.
 */
export function staleExecution(state: PatchState, site: number, kind: Insn): boolean {
  const expected = state.expected(site);
  return expected !== 0 && expected !== kind;
}

const bypassBytes = new Uint8Array(INSN_BYTES);

function refcountWord(state: PatchState, cpu: number): number {
  return state.i32[P_BP_REFCOUNT_MODE >> 2] === Refcount.percpu ? state.cpuWord(cpu, PC_REFCOUNT) : P_REFCOUNT >> 2;
}

/**
 * The int3 handler (poke_int3_handler), as its three steps: take a reference and look the
 * site up (`breakpointEnter`, the table index or -1); copy the bypass instruction
 * (`breakpointBypass`); drop the reference (`breakpointLeave`). Taking the reference first
 * means teardown, which deactivates the table and then waits for the references to drop,
 * never frees what a handler still reads. The threaded CPU runs the steps back to back
 * (`handleBreakpoint`); the explorer interleaves other actors between them.
 */
export function breakpointEnter(state: PatchState, cpu: number, site: number): number {
  const i32 = state.i32;
  // Pairs with the coordinator's load in teardown: while this is non-zero, the table stays.
  Atomics.add(i32, refcountWord(state, cpu), 1);
  // Pairs with the coordinator's Atomics.store that published the table (its entries before it).
  if (Atomics.load(i32, P_BP_ACTIVE >> 2) === 0) return -1;
  return state.lookup(site);
}

/** The bypass: the old instruction, run out of line (Mathieu's), or the new one, emulated. */
export function breakpointBypass(state: PatchState, index: number, out: Uint8Array): void {
  const which = state.i32[P_BP_BYPASS >> 2] === Bypass.old ? 0 : 1;
  const at = state.entryBytes(index, which);
  for (let b = 0; b < INSN_BYTES; b++) out[b] = state.u8[at + b]!;
}

export function breakpointLeave(state: PatchState, cpu: number): void {
  Atomics.sub(state.i32, refcountWord(state, cpu), 1);
}

/** The whole int3 handler on a threaded CPU. Returns false for a stray int3 (the CPU faults). */
export function handleBreakpoint(state: PatchState, cpu: PatchingCpu, site: number): boolean {
  const started = performance.now();
  const index = breakpointEnter(state, cpu.id, site);
  try {
    if (index < 0) return false;
    state.addCpu(cpu.id, PC_TRAPS, 1);
    cpu.breakpointInterruptPoint();
    breakpointBypass(state, index, bypassBytes);
    cpu.runInstruction(site, bypassBytes);
    return true;
  } finally {
    breakpointLeave(state, cpu.id);
    state.addCpu(cpu.id, PC_BP_NS, (performance.now() - started) * 1e6);
  }
}

/** Copies the redo buffer to its site (the NMI performs the pending write itself). */
function performPendingWrite(state: PatchState, code: CodePage): void {
  const site = state.i32[P_REDO_SITE >> 2]!;
  for (let b = 0; b < INSN_BYTES; b++) code.poke(site, b, state.u8[P_REDO_BYTES + b]!);
}

/** NMI entry, before the handler runs any code. */
export function nmiEnter(state: PatchState, code: CodePage, cpu: PatchingCpu): void {
  const mode = state.nmiEntryMode();
  if (mode === NmiEntryMode.redo) {
    // Ingo's scheme: if a write is pending, redo it here, then serialize.
    if (Atomics.load(state.i32, P_REDO_PENDING >> 2) !== 0) {
      performPendingWrite(state, code);
      cpu.serialize();
    }
  } else if (mode === NmiEntryMode.nmiRunning) {
    // Rostedt's: count ourselves in, then look at the write flag (pairs with the patcher's compareExchange).
    const running = Atomics.add(state.i32, P_NMI_RUNNING >> 2, 1);
    if ((running & NMI_WRITE_FLAG) !== 0) {
      performPendingWrite(state, code);
      cpu.serialize();
    }
  }
}

/** NMI return, after the handler: count out of nmi_running, then IRET, which is serializing. */
export function nmiReturn(state: PatchState, cpu: Pick<PatchingCpu, 'serialize'>): void {
  if (state.nmiEntryMode() === NmiEntryMode.nmiRunning) {
    // Wakes a patcher waiting for NMIs to leave (its doorbell in coordinator.ts).
    Atomics.sub(state.i32, P_NMI_RUNNING >> 2, 1);
    Atomics.notify(state.i32, P_NMI_RUNNING >> 2);
  }
  cpu.serialize();
}

/**
 * stop_machine, CPU side: arrive at the rendezvous (the patcher waits for every CPU).
 * Arriving is serializing: a CPU reaches the stopper only through the return from the
 * interrupt that woke it (IRET). Without that, a copy prefetched before the stop would
 * survive it, and an NMI taken between the release and the CPU's exit sync_core could
 * execute it stale: the explorer finds exactly that interleaving for redo-nmi-wait if this
 * serialization is removed.
 */
export function arriveAtRendezvous(state: PatchState, cpu: Pick<PatchingCpu, 'serialize'>): void {
  cpu.serialize();
  Atomics.add(state.i32, P_STOPPED >> 2, 1);
  Atomics.notify(state.i32, P_STOPPED >> 2);
}

/** Whether the machine is still stopped (the CPU keeps spinning). */
export function rendezvousHeld(state: PatchState): boolean {
  return Atomics.load(state.i32, P_STOP_STATE >> 2) === StopState.stopping;
}

/** Leave the rendezvous: sync_core, then count out (the patcher waits for every CPU). */
export function leaveRendezvous(state: PatchState, cpu: Pick<PatchingCpu, 'serialize'>): void {
  cpu.serialize();
  Atomics.add(state.i32, P_RELEASED >> 2, 1);
  Atomics.notify(state.i32, P_RELEASED >> 2);
}

/** Whether NMIs are masked (stop-machine --no-nmi). */
export function nmisMasked(state: PatchState): boolean {
  return Atomics.load(state.i32, P_NMI_MASKED >> 2) !== 0;
}
