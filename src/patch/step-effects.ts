import { INSN_BYTES } from '../machine/code-page.js';
import { decode } from '../machine/instruction.js';
import {
  Bypass,
  NMI_WRITE_FLAG,
  PC_REFCOUNT,
  P_BP_ACTIVE,
  P_BP_BYPASS,
  P_BP_COUNT,
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
  TABLE_ENTRY_BYTES,
  type BypassName,
  type PatchState,
  type RefcountName,
} from '../machine/patch-area.js';
import type { PatchEntry } from './protocol.js';

/**
 * The patcher's effects on the patch area and the conditions it waits for, out of which
 * phases.ts builds each step's phases.
 */

/** An operation begins: while it runs either instruction is fine at its sites. */
export function beginOperation(patch: PatchState, entries: readonly PatchEntry[]): void {
  for (const e of entries) patch.setExpected(e.site, 0);
}

/** An operation completed: from now on every CPU must execute the new instructions (staleExecution). */
export function completeOperation(patch: PatchState, entries: readonly PatchEntry[]): void {
  for (const e of entries) patch.setExpected(e.site, decode(e.site, e.to));
}

/** Writes the table (entries in site order), its settings, then activates it. */
export function publishTable(patch: PatchState, entries: readonly PatchEntry[], bypass: BypassName, refcount: RefcountName, generation: number): void {
  const i32 = patch.i32;
  const u8 = patch.u8;
  for (let n = 0; n < entries.length; n++) {
    const e = entries[n]!;
    const at = patch.tableBase + n * TABLE_ENTRY_BYTES;
    i32[at >> 2] = e.site;
    for (let b = 0; b < INSN_BYTES; b++) {
      u8[at + 4 + b] = e.from[b]!;
      u8[at + 9 + b] = e.to[b]!;
    }
  }
  i32[P_BP_COUNT >> 2] = entries.length;
  i32[P_BP_BYPASS >> 2] = Bypass[bypass];
  i32[P_BP_REFCOUNT_MODE >> 2] = Refcount[refcount];
  // Publishes the table; pairs with breakpointEnter's Atomics.load of the active word.
  Atomics.store(i32, P_BP_ACTIVE >> 2, generation);
}

export function deactivateTable(patch: PatchState): void {
  Atomics.store(patch.i32, P_BP_ACTIVE >> 2, 0);
}

/** No CPU holds a reference to the table (shared counter and every per-CPU one at 0). */
export function handlersIdle(patch: PatchState): boolean {
  let refs = Atomics.load(patch.i32, P_REFCOUNT >> 2);
  for (let cpu = 0; cpu < patch.cpus; cpu++) refs += Atomics.load(patch.i32, patch.cpuWord(cpu, PC_REFCOUNT));
  return refs === 0;
}

/** Asks every CPU to stop (the caller kicks them). */
export function beginStop(patch: PatchState, maskNmis: boolean): void {
  const i32 = patch.i32;
  Atomics.store(i32, P_STOPPED >> 2, 0);
  Atomics.store(i32, P_RELEASED >> 2, 0);
  Atomics.store(i32, P_NMI_MASKED >> 2, maskNmis ? 1 : 0);
  Atomics.store(i32, P_STOP_STATE >> 2, StopState.stopping);
}

export function stoppedCount(patch: PatchState): number {
  return Atomics.load(patch.i32, P_STOPPED >> 2);
}

export function releaseStop(patch: PatchState): void {
  Atomics.store(patch.i32, P_STOP_STATE >> 2, StopState.running);
  Atomics.notify(patch.i32, P_STOP_STATE >> 2);
}

export function releasedCount(patch: PatchState): number {
  return Atomics.load(patch.i32, P_RELEASED >> 2);
}

export function unmaskNmis(patch: PatchState): void {
  Atomics.store(patch.i32, P_NMI_MASKED >> 2, 0);
}

/** Fills the redo buffer: the site and its new bytes (before any flag that publishes it). */
export function fillRedo(patch: PatchState, site: number, bytes: Uint8Array): void {
  patch.i32[P_REDO_SITE >> 2] = site;
  for (let b = 0; b < INSN_BYTES; b++) patch.u8[P_REDO_BYTES + b] = bytes[b]!;
}

/** Ingo's flag. */
export function setRedoPending(patch: PatchState, pending: boolean): void {
  // Raising publishes the redo buffer; pairs with nmiEnter's Atomics.load.
  Atomics.store(patch.i32, P_REDO_PENDING >> 2, pending ? 1 : 0);
}

/** Rostedt's flag: up only if no NMI is in flight. Returns whether it went up. */
export function tryRaiseWriteFlag(patch: PatchState): boolean {
  // Pairs with nmiEnter's Atomics.add on nmi_running.
  return Atomics.compareExchange(patch.i32, P_NMI_RUNNING >> 2, 0, NMI_WRITE_FLAG) === 0;
}

export function dropWriteFlag(patch: PatchState): void {
  Atomics.and(patch.i32, P_NMI_RUNNING >> 2, ~NMI_WRITE_FLAG);
}

export function nmisIdle(patch: PatchState): boolean {
  return Atomics.load(patch.i32, P_NMI_RUNNING >> 2) === 0;
}
