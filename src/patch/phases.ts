import type { BypassName, PatchState, RefcountName } from '../machine/patch-area.js';
import type { PatchEntry, PatchStep, WritePart } from './protocol.js';
import {
  beginStop,
  deactivateTable,
  dropWriteFlag,
  fillRedo,
  handlersIdle,
  nmisIdle,
  publishTable,
  releaseStop,
  releasedCount,
  setRedoPending,
  stoppedCount,
  tryRaiseWriteFlag,
  unmaskNmis,
} from './step-effects.js';

/**
 * The one interpreter of protocol steps. Each step kind is a short list of phases; a phase
 * is a guarded action of the patching CPU: "wait until `ready`, then `act`". A step that
 * acts and then waits (a sync round: send the IPIs, then wait for every acknowledgement)
 * is two phases, the second with a guard and nothing or little to do.
 *
 * Two schedulers run the same phases:
 * - the threaded coordinator (coordinator.ts) runs each phase against the machine's shared
 *   memory: it sleeps on the phase's doorbell until the guard holds, within a bound, then
 *   acts (an action that reports `false` lost a race and is waited for again);
 * - the interleaving explorer (src/explore/) makes each phase one move of the patcher,
 *   enabled when its guard holds in the state explored.
 */

/** The settings of one operation that the phases read. */
export interface PatchSettings {
  readonly bypass: BypassName;
  readonly refcount: RefcountName;
  /** stop_machine masks NMIs while the machine is stopped. */
  readonly maskNmis: boolean;
}

/**
 * The machine as the patching CPU reaches it: the patch area, the code bytes, and its
 * means of interrupting the other CPUs. The coordinator implements it over the machine's
 * memory and real IPIs, the explorer over a state of its world model.
 */
export interface PatchTarget {
  readonly patch: PatchState;
  readonly settings: PatchSettings;
  /** The last sync round started. */
  readonly round: number;
  /** text_poke of one byte. */
  poke(site: number, index: number, byte: number): void;
  /** Starts a sync_core round: a new round number, an IPI to every CPU. */
  startSync(): void;
  /** Every CPU acknowledged the last round. */
  syncAcknowledged(): boolean;
  /** The stop IPI to every CPU. */
  kickAll(): void;
  /** A fresh breakpoint-table generation (never 0: 0 means inactive). */
  nextGeneration(): number;
}

/** The word a waiting scheduler sleeps on until a phase's guard may hold. */
export type Doorbell = 'syncAck' | 'stopped' | 'released' | 'nmiRunning' | 'handlers';

export interface Phase<S extends PatchStep = PatchStep> {
  /**
   * How many times an unguarded phase runs back to back (a write: once per byte). Defaults
   * to once. The coordinator runs them in one `act` call, the explorer one per move.
   */
  readonly times?: (step: S) => number;
  /** The guard: the phase may act only once it holds. None: it acts at once. */
  readonly ready?: (t: PatchTarget) => boolean;
  /** With a guard: what a waiting scheduler sleeps on, and what it names on a timeout. */
  readonly doorbell?: Doorbell;
  readonly waitsFor?: string;
  /**
   * The action, as runs `from` .. `from + count - 1` of the phase (count is 1 but for a
   * repeated phase run whole); `false` means it lost a race with the CPUs and the guard is
   * waited for again.
   */
  readonly act?: (t: PatchTarget, step: S, from: number, count: number) => boolean | void;
  /** What the phase did, in words (the explorer's diagrams), read after `act`. */
  readonly describe: (t: PatchTarget, step: S, i: number) => string;
}

type PhaseTable = { readonly [K in PatchStep['kind']]: readonly Phase<Extract<PatchStep, { kind: K }>>[] };

type WriteStep = Extract<PatchStep, { kind: 'write' }>;

/** Bytes a write of `part` changes per site, and the first of them. */
const partBytes = (part: WritePart): number => (part === 'int3' || part === 'head' ? 1 : part === 'tail' ? 4 : 5);
const partFirst = (part: WritePart): number => (part === 'tail' ? 1 : 0);

/** The byte a write of `part` stores at `index` of an entry's site. */
const byteOf = (part: WritePart, e: PatchEntry, index: number): number => (part === 'int3' ? 0xcc : e.to[index]!);

/**
 * Byte writes `from` .. `from + count - 1` of a write step, in its one order: site by site,
 * each site's bytes of `part` in increasing index (one tight loop when the coordinator
 * writes them all).
 */
function pokeWrites(t: PatchTarget, s: WriteStep, from: number, count: number): void {
  const per = partBytes(s.part);
  const first = partFirst(s.part);
  let n = Math.floor(from / per);
  let b = from % per;
  for (let k = 0; k < count; k++) {
    const e = s.entries[n]!;
    t.poke(e.site, first + b, byteOf(s.part, e, first + b));
    if (++b === per) {
      b = 0;
      n++;
    }
  }
}

/** The i-th byte write of a write step, in words. */
function describeWrite(s: WriteStep, i: number): string {
  const e = s.entries[Math.floor(i / partBytes(s.part))]!;
  const index = partFirst(s.part) + (i % partBytes(s.part));
  return `writes byte ${index} of site ${e.site} = ${byteOf(s.part, e, index).toString(16).padStart(2, '0')}`;
}

const phases: PhaseTable = {
  write: [
    {
      times: (s) => s.entries.length * partBytes(s.part),
      act: pokeWrites,
      describe: (_t, s, i) => describeWrite(s, i),
    },
  ],
  sync: [
    { act: (t) => t.startSync(), describe: (t) => `sync_core: IPI to every CPU (round ${t.round})` },
    {
      ready: (t) => t.syncAcknowledged(),
      doorbell: 'syncAck',
      waitsFor: 'every CPU to acknowledge the sync round',
      describe: () => 'sync_core: every CPU acknowledged',
    },
  ],
  publish: [
    {
      act: (t, s) => publishTable(t.patch, s.entries, t.settings.bypass, t.settings.refcount, t.nextGeneration()),
      describe: (_t, s) => `publishes the breakpoint table (${s.entries.map((e) => e.site).join(', ')})`,
    },
  ],
  teardown: [
    { act: (t) => deactivateTable(t.patch), describe: () => 'tears down: deactivates the table' },
    // A handler that took its reference before deactivation may still read the table.
    {
      ready: (t) => handlersIdle(t.patch),
      doorbell: 'handlers',
      waitsFor: 'int3 handlers to leave',
      describe: () => 'tears down: no handler holds a reference',
    },
  ],
  stopMachine: [
    {
      act: (t) => {
        beginStop(t.patch, t.settings.maskNmis);
        t.kickAll();
      },
      describe: (t) => `stop_machine: asks every CPU to stop${t.settings.maskNmis ? ' (NMIs masked)' : ''}`,
    },
    {
      ready: (t) => stoppedCount(t.patch) >= t.patch.cpus,
      doorbell: 'stopped',
      waitsFor: 'every CPU to stop',
      describe: () => 'stop_machine: every CPU stopped',
    },
  ],
  releaseMachine: [
    { act: (t) => releaseStop(t.patch), describe: () => 'stop_machine: releases the CPUs' },
    {
      ready: (t) => releasedCount(t.patch) >= t.patch.cpus,
      doorbell: 'released',
      waitsFor: 'every CPU to leave the rendezvous',
      act: (t) => unmaskNmis(t.patch),
      describe: () => 'stop_machine: every CPU left',
    },
  ],
  setRedo: [
    {
      act: (t, s) => {
        fillRedo(t.patch, s.site, s.bytes);
        setRedoPending(t.patch, true);
      },
      describe: (_t, s) => `fills the redo buffer for site ${s.site}, redo_pending = 1`,
    },
  ],
  clearRedo: [{ act: (t) => setRedoPending(t.patch, false), describe: () => 'redo_pending = 0' }],
  raiseWriteFlag: [
    {
      // The flag goes up only while no NMI runs; an NMI entering between the look and the
      // compareExchange makes it fail, and the phase waits again.
      ready: (t) => nmisIdle(t.patch),
      doorbell: 'nmiRunning',
      waitsFor: 'NMIs to leave before raising the write flag',
      act: (t, s) => {
        fillRedo(t.patch, s.site, s.bytes);
        return tryRaiseWriteFlag(t.patch);
      },
      describe: (_t, s) => `fills the redo buffer for site ${s.site}, raises the write flag (no NMI running)`,
    },
  ],
  dropWriteFlag: [{ act: (t) => dropWriteFlag(t.patch), describe: () => 'drops the write flag' }],
  waitNmisIdle: [{ ready: (t) => nmisIdle(t.patch), doorbell: 'nmiRunning', waitsFor: 'NMIs to leave', describe: () => 'no NMI running' }],
};

/** The phases of a step, in order. */
export function phasesOf(step: PatchStep): readonly Phase[] {
  return phases[step.kind] as readonly Phase[];
}

/** How many times `phase` runs for `step`. */
export function timesOf(phase: Phase, step: PatchStep): number {
  return phase.times === undefined ? 1 : phase.times(step);
}

/** A position in a protocol's steps: step, phase within it, repetition of the phase. */
export interface PhaseCursor {
  step: number;
  phase: number;
  rep: number;
}

/** Moves `cursor` past the phase run it points at; returns whether the step is done. */
export function advance(cursor: PhaseCursor, steps: readonly PatchStep[]): boolean {
  const step = steps[cursor.step]!;
  const list = phasesOf(step);
  if (++cursor.rep < timesOf(list[cursor.phase]!, step)) return false;
  cursor.rep = 0;
  if (++cursor.phase < list.length) return false;
  cursor.phase = 0;
  cursor.step++;
  return true;
}

