import { CodePage, INSN_BYTES, codePageBytes, siteInstruction } from '../machine/code-page.js';
import { FetchModel } from '../machine/fetch-model.js';
import { Insn, decode, formatBytes } from '../machine/instruction.js';
import {
  NmiEntryMode,
  PATCH_CONTROL_BYTES,
  PC_REFCOUNT,
  P_NMI_ENTRY_MODE,
  PatchState,
  patchRegionBytes,
  type BypassName,
  type RefcountName,
} from '../machine/patch-area.js';
import {
  arriveAtRendezvous,
  breakpointBypass,
  breakpointEnter,
  breakpointLeave,
  leaveRendezvous,
  nmiEnter,
  nmiExit,
  nmisMasked,
  rendezvousHeld,
} from '../machine/patch-handlers.js';
import { writeBytes, type PatchEntry, type PatchStep, type ProtocolName } from '../patch/protocol.js';
import { protocols } from '../patch/protocols/index.js';
import * as effects from '../patch/step-effects.js';

/**
 * The interleaving explorer: a deterministic scheduler that runs a protocol's very steps
 * (the generator the threaded coordinator runs) against 2 CPUs with NMIs, over the very
 * CPU semantics the threaded CPUs use (decode, the fetch model, the int3 handler's steps,
 * NMI entry, the rendezvous), and enumerates every interleaving of their moves up to a
 * bound, depth first, pruning states it has seen (state hashing). Where the fetch model
 * chooses a byte (copy or current), both choices are explored.
 *
 * A counterexample is a path to a CPU executing a torn instruction, an int3 nobody
 * handles, or the old instruction after the patch completed.
 */
export interface ExploreOptions {
  readonly protocol: ProtocolName;
  /** CPUs (besides the patcher). Defaults to 2. */
  readonly cpus?: number;
  /** Sites patched (site 0 is an unpatched neighbour whose execution prefetches site 1). Defaults to 1. */
  readonly sites?: number;
  /** Longest interleaving explored, in moves. Defaults to 60. */
  readonly bound?: number;
  /** NMIs each CPU may take. Defaults to 1. */
  readonly nmisPerCpu?: number;
  /** Function calls each CPU makes in normal context. Defaults to 2. */
  readonly execsPerCpu?: number;
  readonly bypass?: BypassName;
  readonly refcount?: RefcountName;
  readonly skipSync?: 0 | 1 | 2 | 3;
  /** stop-machine: mask NMIs while stopped. */
  readonly nmi?: 'on' | 'off';
  /** The NMI handler runs only notrace code (never patched). */
  readonly notraceNmi?: boolean;
  /** Give up after this many distinct states. Defaults to 3,000,000. */
  readonly maxStates?: number;
}

export interface ExploreStep {
  readonly actor: string;
  readonly action: string;
}

export interface ExploreResult {
  readonly protocol: ProtocolName;
  readonly statesExplored: number;
  /** Moves tried (edges of the explored state graph). */
  readonly transitions: number;
  /**
   * Complete interleavings covered: paths from the start to a state where nothing is left to
   * do (or to the bound), counted through the memoised state graph. 0 if a counterexample
   * ended the search early.
   */
  readonly interleavings: number;
  readonly counterexample: ExploreStep[] | null;
  readonly failure: string | null;
  /** Some path was cut at the bound. */
  readonly boundReached: boolean;
  /** The state cap was hit: the search is incomplete. */
  readonly incomplete: boolean;
}

interface Trap {
  site: number;
  index: number;
  phase: 'enter' | 'bypass' | 'leave';
}

interface Frame {
  ctx: 'normal' | 'nmi';
  pc: number;
  trap: Trap | null;
}

interface CpuModel {
  id: number;
  fetch: FetchModel;
  frames: Frame[];
  execsLeft: number;
  nmisLeft: number;
  syncPending: boolean;
  ackedRound: number;
  kicked: boolean;
  inRendezvous: boolean;
}

interface Coordinator {
  step: number;
  phase: number;
  round: number;
  generation: number;
}

class World {
  readonly sab: SharedArrayBuffer;
  readonly code: CodePage;
  readonly patch: PatchState;
  coord: Coordinator;
  cpus: CpuModel[];

  constructor(sab: SharedArrayBuffer, sites: number, cpus: number, coord: Coordinator, models: CpuModel[]) {
    this.sab = sab;
    this.code = new CodePage(sab, 0, sites);
    this.patch = new PatchState(sab, codePageBytes(sites), cpus, sites);
    this.coord = coord;
    this.cpus = models;
  }

  clone(): World {
    const sab = new SharedArrayBuffer(this.sab.byteLength);
    new Uint8Array(sab).set(new Uint8Array(this.sab));
    const cpus = this.cpus.map((c) => ({
      ...c,
      fetch: c.fetch.clone(),
      frames: c.frames.map((f) => ({ ...f, trap: f.trap === null ? null : { ...f.trap } })),
    }));
    return new World(sab, this.code.sites, this.cpus.length, { ...this.coord }, cpus);
  }

  /** What distinguishes two states: code bytes, the patch control words, refcounts, and each actor. */
  key(): string {
    // The table and redo buffer are written by the patcher's steps, so its step index covers them.
    let k = Buffer.from(this.code.bytes.buffer, this.code.bytes.byteOffset, this.code.sites * 8).toString('latin1');
    k += Buffer.from(this.patch.u8.buffer, this.patch.u8.byteOffset, PATCH_CONTROL_BYTES).toString('latin1');
    for (let cpu = 0; cpu < this.cpus.length; cpu++) k += `,${this.patch.i32[this.patch.cpuWord(cpu, PC_REFCOUNT)]}`;
    k += `|${this.coord.step}.${this.coord.phase}`;
    for (const c of this.cpus) {
      k += `|${c.fetch.key()}${JSON.stringify(c.frames)}${c.execsLeft}.${c.nmisLeft}.${c.syncPending ? 1 : 0}.${c.ackedRound === this.coord.round ? 1 : 0}.${c.kicked ? 1 : 0}.${c.inRendezvous ? 1 : 0}`;
    }
    return k;
  }
}

/** A move: its label, and the states it leads to (several when the fetch model chooses). */
interface Move {
  readonly actor: string;
  readonly apply: (w: World) => Array<{ world: World; action: string; failure: string | null }>;
}

class Found extends Error {}

export function explore(options: ExploreOptions): ExploreResult {
  const cpuCount = options.cpus ?? 2;
  const patched = options.sites ?? 1;
  const bound = options.bound ?? 60;
  const maxStates = options.maxStates ?? 3_000_000;
  if (!(Number.isInteger(cpuCount) && cpuCount >= 1 && cpuCount <= 3)) throw new RangeError(`cpus must be an integer between 1 and 3 (got ${cpuCount})`);
  if (!(Number.isInteger(patched) && patched >= 1 && patched <= 2)) throw new RangeError(`sites must be 1 or 2 (got ${patched})`);
  if (!(Number.isInteger(bound) && bound >= 1 && bound <= 1000)) throw new RangeError(`bound must be an integer between 1 and 1000 (got ${bound})`);
  const protocol = protocols[options.protocol];
  if (protocol === undefined) throw new RangeError(`protocol must be one of ${Object.keys(protocols).join(', ')} (got ${String(options.protocol)})`);

  const siteCount = patched + 1;
  const entries: PatchEntry[] = [];
  for (let s = 1; s <= patched; s++) entries.push({ site: s, from: siteInstruction(s, false), to: siteInstruction(s, true) });
  const steps: PatchStep[] = [...protocol(entries, { bypass: options.bypass ?? 'new', refcount: options.refcount ?? 'percpu', skipSync: options.skipSync ?? 0 })];
  const nmiSites = options.notraceNmi === true ? [0] : entries.map((e) => e.site);
  const nmiEntry = options.protocol === 'redo' ? NmiEntryMode.redo : options.protocol === 'redo-nmi-wait' ? NmiEntryMode.nmiRunning : NmiEntryMode.plain;

  const sab = new SharedArrayBuffer(codePageBytes(siteCount) + patchRegionBytes(cpuCount, siteCount));
  const models: CpuModel[] = [];
  for (let id = 0; id < cpuCount; id++) {
    models.push({
      id,
      fetch: new FetchModel(siteCount, () => 0.99, { staleByteProbability: 0.5 }),
      frames: [{ ctx: 'normal', pc: 0, trap: null }],
      execsLeft: options.execsPerCpu ?? 2,
      nmisLeft: options.nmisPerCpu ?? 1,
      syncPending: false,
      ackedRound: 0,
      kicked: false,
      inRendezvous: false,
    });
  }
  const initial = new World(sab, siteCount, cpuCount, { step: 0, phase: 0, round: 0, generation: 0 }, models);
  for (let s = 0; s < siteCount; s++) initial.code.initialiseSite(s, false, s === 0);
  initial.patch.i32[P_NMI_ENTRY_MODE >> 2] = nmiEntry;

  const bytes = new Uint8Array(INSN_BYTES);

  /** Executes `site` on `cpu`'s top frame: one child per fetch-model choice. */
  const exec = (w: World, cpuId: number, site: number, ctx: string): Array<{ world: World; action: string; failure: string | null }> => {
    // Count the choices this fetch makes, then enumerate them.
    const probe = w.clone();
    let choices = 0;
    probe.cpus[cpuId]!.fetch.random = () => (choices++, 0.99);
    probe.cpus[cpuId]!.fetch.fetch(probe.code, site, bytes);
    const out: Array<{ world: World; action: string; failure: string | null }> = [];
    for (let mask = 0; mask < 1 << choices; mask++) {
      const child = w.clone();
      const cpu = child.cpus[cpuId]!;
      let k = 0;
      cpu.fetch.random = () => ((mask >> k++) & 1 ? 0 : 0.99);
      cpu.fetch.fetch(child.code, site, bytes);
      const kind = decode(site, bytes);
      const top = cpu.frames[cpu.frames.length - 1]!;
      const stale = choices > 0 && mask !== 0 ? ' (with stale bytes)' : '';
      let failure: string | null = null;
      if (kind === Insn.fault) failure = `executes a torn instruction at site ${site}: ${formatBytes(bytes)}`;
      else if (kind === Insn.int3) top.trap = { site, index: -1, phase: 'enter' };
      else if (child.coord.step >= steps.length && site > 0 && kind !== Insn.callTracer) {
        failure = `executes the old instruction at site ${site} after the patch completed`;
      }
      out.push({ world: child, action: `${ctx}executes site ${site}: ${formatBytes(bytes)}${stale}${kind === Insn.int3 ? ' -> int3 trap' : ''}`, failure });
    }
    return out;
  };

  const one = (world: World, action: string, failure: string | null = null): Array<{ world: World; action: string; failure: string | null }> => [
    { world, action, failure },
  ];

  const moves = (w: World): Move[] => {
    const list: Move[] = [];
    // The patcher.
    const c = w.coord;
    if (c.step < steps.length) {
      const step = steps[c.step]!;
      const next = (x: World): void => {
        x.coord.step++;
        x.coord.phase = 0;
      };
      const patchMove = (apply: (x: World) => string | null): void => {
        list.push({
          actor: 'patcher',
          apply: (x0) => {
            const x = x0.clone();
            const label = apply(x);
            return label === null ? [] : one(x, label);
          },
        });
      };
      switch (step.kind) {
        case 'write': {
          const writes = [...writeBytes(step.entries, step.part)];
          const [site, index, byte] = writes[c.phase]!;
          patchMove((x) => {
            x.code.poke(site, index, byte);
            if (x.coord.phase + 1 < writes.length) x.coord.phase++;
            else next(x);
            return `writes byte ${index} of site ${site} = ${byte.toString(16).padStart(2, '0')}`;
          });
          break;
        }
        case 'sync':
          if (c.phase === 0) {
            patchMove((x) => {
              x.coord.round++;
              for (const cpu of x.cpus) cpu.syncPending = true;
              x.coord.phase = 1;
              return `sync_core: IPI to every CPU (round ${x.coord.round})`;
            });
          } else if (w.cpus.every((cpu) => cpu.ackedRound === c.round)) {
            patchMove((x) => {
              next(x);
              return 'sync_core: every CPU acknowledged';
            });
          }
          break;
        case 'publish':
          patchMove((x) => {
            effects.publishTable(x.patch, step.entries, options.bypass ?? 'new', options.refcount ?? 'percpu', ++x.coord.generation);
            next(x);
            return `publishes the breakpoint table (${step.entries.map((e) => e.site).join(', ')})`;
          });
          break;
        case 'teardown':
          if (c.phase === 0) {
            patchMove((x) => {
              effects.deactivateTable(x.patch);
              x.coord.phase = 1;
              return 'tears down: deactivates the table';
            });
          } else if (effects.handlersIdle(w.patch)) {
            patchMove((x) => {
              next(x);
              return 'tears down: no handler holds a reference';
            });
          }
          break;
        case 'stopMachine':
          if (c.phase === 0) {
            patchMove((x) => {
              effects.beginStop(x.patch, options.nmi === 'off');
              for (const cpu of x.cpus) cpu.kicked = true;
              x.coord.phase = 1;
              return `stop_machine: asks every CPU to stop${options.nmi === 'off' ? ' (NMIs masked)' : ''}`;
            });
          } else if (effects.stoppedCount(w.patch) === w.cpus.length) {
            patchMove((x) => {
              next(x);
              return 'stop_machine: every CPU stopped';
            });
          }
          break;
        case 'releaseMachine':
          if (c.phase === 0) {
            patchMove((x) => {
              effects.releaseStop(x.patch);
              x.coord.phase = 1;
              return 'stop_machine: releases the CPUs';
            });
          } else if (effects.releasedCount(w.patch) === w.cpus.length) {
            patchMove((x) => {
              effects.unmaskNmis(x.patch);
              next(x);
              return 'stop_machine: every CPU left';
            });
          }
          break;
        case 'setRedo':
          patchMove((x) => {
            effects.fillRedo(x.patch, step.site, step.bytes);
            effects.setRedoPending(x.patch, true);
            next(x);
            return `fills the redo buffer for site ${step.site}, redo_pending = 1`;
          });
          break;
        case 'clearRedo':
          patchMove((x) => {
            effects.setRedoPending(x.patch, false);
            next(x);
            return 'redo_pending = 0';
          });
          break;
        case 'raiseWriteFlag':
          if (effects.nmisIdle(w.patch)) {
            patchMove((x) => {
              effects.fillRedo(x.patch, step.site, step.bytes);
              if (!effects.tryRaiseWriteFlag(x.patch)) return null;
              next(x);
              return `fills the redo buffer for site ${step.site}, raises the write flag (no NMI running)`;
            });
          }
          break;
        case 'dropWriteFlag':
          patchMove((x) => {
            effects.dropWriteFlag(x.patch);
            next(x);
            return 'drops the write flag';
          });
          break;
        case 'waitNmisIdle':
          if (effects.nmisIdle(w.patch)) {
            patchMove((x) => {
              next(x);
              return 'no NMI running';
            });
          }
          break;
      }
    }
    // The CPUs.
    for (const cpu0 of w.cpus) {
      const id = cpu0.id;
      const actor = `cpu ${id}`;
      const top0 = cpu0.frames[cpu0.frames.length - 1]!;
      const cpuMove = (apply: (x: World, cpu: CpuModel, top: Frame) => Array<{ world: World; action: string; failure: string | null }>): void => {
        list.push({
          actor,
          apply: (x0) => {
            const x = x0.clone();
            const cpu = x.cpus[id]!;
            return apply(x, cpu, cpu.frames[cpu.frames.length - 1]!);
          },
        });
      };
      const shim = (x: World, cpu: CpuModel) => ({
        id,
        runInstruction: () => undefined,
        breakpointInterruptPoint: () => undefined,
        serialize: () => cpu.fetch.serialize(),
      });
      if (top0.trap !== null) {
        const trap = top0.trap;
        if (trap.phase === 'enter') {
          cpuMove((x, cpu, top) => {
            const index = breakpointEnter(x.patch, id, trap.site);
            if (index < 0) return one(x, `int3 handler: site ${trap.site} is in no active table`, `executes an int3 nobody handles at site ${trap.site}`);
            top.trap = { ...trap, index, phase: 'bypass' };
            return one(x, `int3 handler: takes a reference, finds site ${trap.site}`);
          });
        } else if (trap.phase === 'bypass') {
          cpuMove((x, _cpu, top) => {
            breakpointBypass(x.patch, trap.index, bytes);
            const kind = decode(trap.site, bytes);
            top.trap = { ...trap, phase: 'leave' };
            return one(x, `int3 handler: runs the bypass ${formatBytes(bytes)}`, kind === Insn.fault ? `the bypass of site ${trap.site} is not an instruction` : null);
          });
        } else {
          cpuMove((x, cpu, top) => {
            breakpointLeave(x.patch, id);
            cpu.fetch.serialize();
            top.trap = null;
            return one(x, 'int3 handler: drops its reference, returns (serializing)');
          });
        }
      } else if (top0.ctx === 'nmi') {
        if (top0.pc < nmiSites.length) {
          const site = nmiSites[top0.pc]!;
          cpuMove((x, cpu, top) => {
            top.pc++;
            return exec(x, cpu.id, site, 'NMI: ');
          });
        } else {
          cpuMove((x, cpu) => {
            nmiExit(x.patch);
            cpu.fetch.serialize();
            cpu.frames.pop();
            return one(x, 'NMI: returns (serializing)');
          });
        }
      } else if (cpu0.inRendezvous) {
        if (!rendezvousHeld(w.patch)) {
          cpuMove((x, cpu) => {
            leaveRendezvous(x.patch, shim(x, cpu));
            cpu.inRendezvous = false;
            return one(x, 'leaves the rendezvous (sync_core)');
          });
        }
      } else {
        if (cpu0.syncPending) {
          cpuMove((x, cpu) => {
            cpu.fetch.serialize();
            cpu.syncPending = false;
            cpu.ackedRound = x.coord.round;
            return one(x, 'takes the sync_core IPI: serializes, acknowledges');
          });
        }
        if (cpu0.kicked) {
          cpuMove((x, cpu) => {
            cpu.kicked = false;
            if (!rendezvousHeld(x.patch)) return one(x, 'takes the stop IPI: nothing to do');
            arriveAtRendezvous(x.patch, shim(x, cpu));
            cpu.inRendezvous = true;
            return one(x, 'enters the rendezvous (IRQs off)');
          });
        }
        if (cpu0.execsLeft > 0 && !cpu0.kicked) {
          for (let site = 0; site < siteCount; site++) {
            cpuMove((x, cpu) => {
              cpu.execsLeft--;
              return exec(x, cpu.id, site, '');
            });
          }
        }
      }
      // Last, so depth-first search tries the quiet schedules first and counterexamples come out short:
      // an NMI may arrive between any two moves, unless one is running or NMIs are masked.
      if (cpu0.nmisLeft > 0 && !cpu0.frames.some((f) => f.ctx === 'nmi') && !nmisMasked(w.patch)) {
        cpuMove((x, cpu) => {
          cpu.nmisLeft--;
          cpu.frames.push({ ctx: 'nmi', pc: 0, trap: null });
          nmiEnter(x.patch, x.code, shim(x, cpu));
          return one(x, 'NMI: enters the handler');
        });
      }
    }
    return list;
  };

  // Complete interleavings from each state seen: counting paths through the explored graph
  // (memoised on the state) gives the number of interleavings covered without walking each.
  const seen = new Map<string, number>();
  const path: ExploreStep[] = [];
  let transitions = 0;
  let boundReached = false;
  let incomplete = false;
  let counterexample: ExploreStep[] | null = null;
  let failure: string | null = null;

  /** Explores from `w`; returns the number of complete interleavings from it. */
  const visit = (w: World, depth: number): number => {
    const key = w.key();
    const known = seen.get(key);
    if (known !== undefined) return known;
    if (seen.size >= maxStates) {
      incomplete = true;
      return 0;
    }
    if (depth >= bound) {
      boundReached = true;
      return 1;
    }
    seen.set(key, 0);
    const available = moves(w);
    if (available.length === 0) {
      if (w.coord.step < steps.length) {
        counterexample = [...path];
        failure = `deadlock: the patcher waits at step ${w.coord.step} (${steps[w.coord.step]!.kind}) and nothing else can move`;
        throw new Found();
      }
      seen.set(key, 1);
      return 1;
    }
    let paths = 0;
    for (const move of available) {
      for (const child of move.apply(w)) {
        transitions++;
        path.push({ actor: move.actor, action: child.action });
        if (child.failure !== null) {
          counterexample = [...path];
          failure = `${move.actor} ${child.failure}`;
          throw new Found();
        }
        paths += visit(child.world, depth + 1);
        path.pop();
      }
    }
    seen.set(key, paths);
    return paths;
  };

  let interleavings = 0;
  try {
    interleavings = visit(initial, 0);
  } catch (err) {
    if (!(err instanceof Found)) throw err;
  }
  return { protocol: options.protocol, statesExplored: seen.size, transitions, interleavings, counterexample, failure, boundReached, incomplete };
}

/** A counterexample as a diagram: one column per actor, time going down (like Mathieu's). */
export function formatCounterexample(steps: readonly ExploreStep[], failure: string): string {
  const actors = [...new Set(['patcher', ...steps.map((s) => s.actor)])];
  const width = 50;
  const cell = (text: string): string => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));
  const lines = [actors.map((a) => cell(a.toUpperCase())).join(' | '), actors.map(() => '-'.repeat(width)).join('-+-')];
  for (const s of steps) lines.push(actors.map((a) => cell(a === s.actor ? s.action : '')).join(' | '));
  lines.push('', `=> ${failure}`);
  return lines.join('\n');
}
