import type { BypassName, NmiEntryMode, RefcountName } from '../machine/patch-area.js';

/** One site to patch: its bytes now and the bytes it must hold afterwards. */
export interface PatchEntry {
  readonly site: number;
  readonly from: Uint8Array;
  readonly to: Uint8Array;
}

/**
 * The steps a protocol is made of. A protocol is written once, as a generator of these;
 * each step is a short list of phases (phases.ts: what it does, what it waits for), which
 * the threaded coordinator runs against real shared memory and real IPIs and the
 * interleaving explorer runs under its own scheduler.
 */
export type PatchStep =
  /**
   * text_poke over a vector of sites, byte by byte in site order: `int3` writes CC over
   * byte 0, `tail` bytes 1-4 of the new instruction, `head` its byte 0, `whole` all five.
   * One phase per byte (phases.ts): the explorer interleaves other actors between any two.
   */
  | { readonly kind: 'write'; readonly entries: readonly PatchEntry[]; readonly part: WritePart }
  /** A sync_core round: every CPU serializes and acknowledges before the protocol goes on. */
  | { readonly kind: 'sync' }
  /** Publish the breakpoint table (sorted by site) and activate it: the int3 handler now finds these sites. */
  | { readonly kind: 'publish'; readonly entries: readonly PatchEntry[] }
  /** Deactivate the table, then wait until no CPU is inside the int3 handler (refcount 0). */
  | { readonly kind: 'teardown' }
  /** stop_machine: every CPU parks in a rendezvous with IRQs off (NMIs still arrive). */
  | { readonly kind: 'stopMachine' }
  /** Release the rendezvous; each CPU serializes as it leaves; wait until all left. */
  | { readonly kind: 'releaseMachine' }
  /** Ingo's scheme: fill the redo buffer (site, new bytes) and raise redo_pending. */
  | { readonly kind: 'setRedo'; readonly site: number; readonly bytes: Uint8Array }
  | { readonly kind: 'clearRedo' }
  /** Rostedt's fix: fill the redo buffer, then raise the write flag (bit 31 of nmi_running) by compareExchange from 0, waiting while NMIs run. */
  | { readonly kind: 'raiseWriteFlag'; readonly site: number; readonly bytes: Uint8Array }
  | { readonly kind: 'dropWriteFlag' }
  /** Wait until no NMI is running (nmi_running == 0). */
  | { readonly kind: 'waitNmisIdle' };

export type WritePart = 'int3' | 'tail' | 'head' | 'whole';

export interface ProtocolOptions {
  /** int3 protocols: what the breakpoint handler runs in the window. Defaults to `new`. */
  readonly bypass?: BypassName;
  /** int3-batch: one shared handler refcount, or one per CPU. Defaults to `percpu`. */
  readonly refcount?: RefcountName;
  /** Test-only: leave out sync round 1, 2 or 3 of the int3 protocols. */
  readonly skipSync?: 0 | 1 | 2 | 3;
}

/** A protocol's step generator. */
export type StepGenerator = (entries: readonly PatchEntry[], options: ProtocolOptions) => Generator<PatchStep, void, void>;

/** How NMIs are handled where a protocol runs: what decides whether a hazard can be reached. */
export interface NmiConditions {
  /** NMIs are masked while the machine is stopped (`--no-nmi`). */
  readonly nmisMasked: boolean;
  /** Every site the NMI handler runs is notrace, never patched (`--notrace-nmi`). */
  readonly notraceNmi: boolean;
}

/**
 * A patching protocol, whole: everything the schedulers, the CLI and the benchmarks need to
 * know about it lives here, so nothing above src/patch/ restates a fact about a protocol.
 */
export interface Protocol {
  /** Its `--protocol` name. */
  readonly name: string;
  /** Its steps over a vector of sites, opening with its numbered recipe. */
  readonly steps: StepGenerator;
  /** What NMI entry does on a machine that runs it (fixed at boot: patch-area.ts). */
  readonly nmiEntry: NmiEntryMode;
  /** Whether no CPU can execute a torn, stray or stale instruction under these conditions. */
  readonly safeWhen: (conditions: NmiConditions) => boolean;
}

/** The three int3 phases over a vector of sites, with one sync each (shared by int3 and int3-batch). */
export function* int3Phases(entries: readonly PatchEntry[], skipSync: number): Generator<PatchStep, void, void> {
  /* 1. int3 over the first byte of every site. A CPU may now run the old instruction or trap. */
  yield { kind: 'write', entries, part: 'int3' };
  /* sync 1: every CPU has dropped its copies: from here it sees CC and traps (the bypass runs). */
  if (skipSync !== 1) yield { kind: 'sync' };
  /* 2. the other four bytes. Behind CC nobody executes them: a CPU traps at byte 0. */
  yield { kind: 'write', entries, part: 'tail' };
  /* sync 2: no CPU holds a copy of the old tail bytes any more. */
  if (skipSync !== 2) yield { kind: 'sync' };
  /* 3. the new first byte. A CPU may still trap (a copy of CC) or run the new instruction. */
  yield { kind: 'write', entries, part: 'head' };
  /* sync 3: no CPU can see CC any more: the handler may go. */
  if (skipSync !== 3) yield { kind: 'sync' };
}
