import { INSN_BYTES, type CodePage } from './code-page.js';
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
  P_NMI_RUNNING,
  P_REDO_BYTES,
  P_REDO_PENDING,
  P_REDO_SITE,
  P_REFCOUNT,
  Refcount,
  type PatchState,
} from './patch-area.js';

/**
 * The CPU side of patching: what a CPU does on int3 and on NMI entry/exit while a protocol
 * runs (the kernel keeps these in arch code, under the patching code: so do we). Plain
 * functions over the shared patch area and a small interface to the CPU, so the threaded
 * CPU and the interleaving explorer run the very same code.
 */
export interface PatchingCpu {
  readonly id: number;
  /** Runs an instruction given as bytes at `site`, without fetching it (the bypass). */
  runInstruction(site: number, bytes: Uint8Array): void;
  /** An interrupt point inside the handler: an NMI may arrive here. */
  breakpointInterruptPoint(): void;
  /** A serializing event. */
  serialize(): void;
}

const bypassBytes = new Uint8Array(INSN_BYTES);

/**
 * The int3 handler (poke_int3_handler). Takes a reference first so that teardown, which
 * deactivates the table and then waits for the references to drop, can never free what a
 * handler is still reading. Returns false for an int3 at a site no active table holds (a
 * stray breakpoint: the CPU faults).
 */
export function handleBreakpoint(state: PatchState, cpu: PatchingCpu, site: number): boolean {
  const i32 = state.i32;
  const percpu = i32[P_BP_REFCOUNT_MODE >> 2] === Refcount.percpu;
  const ref = percpu ? state.cpuWord(cpu.id, PC_REFCOUNT) : P_REFCOUNT >> 2;
  const started = performance.now();
  // Pairs with the coordinator's load in teardown: while this is non-zero, the table stays.
  Atomics.add(i32, ref, 1);
  try {
    // Pairs with the coordinator's Atomics.store that published the table (its entries before it).
    if (Atomics.load(i32, P_BP_ACTIVE >> 2) === 0) return false;
    const index = state.lookup(site);
    if (index < 0) return false;
    state.addCpu(cpu.id, PC_TRAPS, 1);
    cpu.breakpointInterruptPoint();
    // The bypass: run the old instruction out of line (Mathieu's), or emulate the new one.
    const which = i32[P_BP_BYPASS >> 2] === Bypass.old ? 0 : 1;
    const at = state.entryBytes(index, which);
    for (let b = 0; b < INSN_BYTES; b++) bypassBytes[b] = state.u8[at + b]!;
    cpu.runInstruction(site, bypassBytes);
    return true;
  } finally {
    Atomics.sub(i32, ref, 1);
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

/** NMI exit, after the handler. */
export function nmiExit(state: PatchState): void {
  if (state.nmiEntryMode() === NmiEntryMode.nmiRunning) {
    Atomics.sub(state.i32, P_NMI_RUNNING >> 2, 1);
    Atomics.notify(state.i32, P_NMI_RUNNING >> 2);
  }
}
