import { INSN_BYTES } from '../machine/code-page.js';
import { Insn, decode, formatBytes } from '../machine/instruction.js';
import { Ipi } from '../machine/interrupts.js';
import {
  breakpointBypass,
  breakpointEnter,
  breakpointLeave,
  handleIpis,
  leaveRendezvous,
  nmiEnter,
  nmiReturn,
  nmisMasked,
  rendezvousHeld,
  staleExecution,
} from '../machine/patch-handlers.js';
import { advance, phasesOf } from '../patch/phases.js';
import type { PatchEntry, PatchStep } from '../patch/protocol.js';
import { completeOperation } from '../patch/step-effects.js';
import type { Move, Outcome, StateSpace } from './search.js';
import type { CpuModel, Frame, World } from './world.js';

/**
 * The explorer's scheduler: the moves each actor can make from a state. The patcher's
 * next phase (phases.ts) is a move when its guard holds; a CPU's moves are the ones its
 * frames allow — the next site of the NMI handler, the next step of the int3 handler, a
 * pending IPI, a function call — and an NMI may arrive between any two. Everything a move
 * does to memory is done by the code the threaded machine runs: the patcher's phases and
 * the CPU's interrupt handlers (patch-handlers.ts).
 */
export interface Schedule {
  readonly steps: readonly PatchStep[];
  readonly entries: readonly PatchEntry[];
  /** Sites a CPU may call in normal context (site 0 is an unpatched neighbour). */
  readonly sites: number;
  /** Sites the NMI handler executes, in order. */
  readonly nmiSites: readonly number[];
}

const bytes = new Uint8Array(INSN_BYTES);

const one = (world: World, action: string, failure: string | null = null): Array<Outcome<World>> => [{ world, action, failure }];

/** The state space of one exploration: the world model's key and the scheduler's moves. */
export function stateSpace(schedule: Schedule): StateSpace<World> {
  return {
    key: (w) => w.key(),
    moves: (w) => {
      const list: Array<Move<World>> = [];
      const patcher = patcherMove(w, schedule);
      if (patcher !== null) list.push(patcher);
      for (const cpu of w.cpus) cpuMoves(w, cpu, schedule, list);
      return list;
    },
    deadlock: (w) => {
      const at = w.patcher.step;
      return at < schedule.steps.length ? `deadlock: the patcher waits at step ${at} (${schedule.steps[at]!.kind}) and nothing else can move` : null;
    },
  };
}

/** The patcher's next phase, if its guard holds. Completing the last step completes the operation. */
function patcherMove(w: World, schedule: Schedule): Move<World> | null {
  const { steps, entries } = schedule;
  if (w.patcher.step >= steps.length) return null;
  const step = steps[w.patcher.step]!;
  const phase = phasesOf(step)[w.patcher.phase]!;
  if (phase.ready !== undefined && !phase.ready(w)) return null;
  return {
    actor: 'patcher',
    apply: (w0) => {
      const x = w0.clone();
      const rep = x.patcher.rep;
      if (phase.act?.(x, step, rep, 1) === false) return [];
      const action = phase.describe(x, step, rep);
      if (advance(x.patcher, steps) && x.patcher.step === steps.length) completeOperation(x.patch, entries);
      return one(x, action);
    },
  };
}

/** A move of CPU `id`, applied to a clone of the state. */
function cpuMove(list: Array<Move<World>>, id: number, apply: (x: World, cpu: CpuModel, top: Frame) => Array<Outcome<World>>): void {
  list.push({
    actor: `cpu ${id}`,
    apply: (x0) => {
      const x = x0.clone();
      const cpu = x.cpus[id]!;
      return apply(x, cpu, cpu.frames[cpu.frames.length - 1]!);
    },
  });
}

function cpuMoves(w: World, cpu0: CpuModel, schedule: Schedule, list: Array<Move<World>>): void {
  const id = cpu0.id;
  const top0 = cpu0.frames[cpu0.frames.length - 1]!;
  if (top0.trap !== null) {
    const trap = top0.trap;
    if (trap.phase === 'enter') {
      cpuMove(list, id, (x, _cpu, top) => {
        const index = breakpointEnter(x.patch, id, trap.site);
        if (index < 0) return one(x, `int3 handler: site ${trap.site} is in no active table`, `executes an int3 nobody handles at site ${trap.site}`);
        top.trap = { ...trap, index, phase: 'bypass' };
        return one(x, `int3 handler: takes a reference, finds site ${trap.site}`);
      });
    } else if (trap.phase === 'bypass') {
      cpuMove(list, id, (x, _cpu, top) => {
        breakpointBypass(x.patch, trap.index, bytes);
        const kind = decode(trap.site, bytes);
        top.trap = { ...trap, phase: 'leave' };
        return one(x, `int3 handler: runs the bypass ${formatBytes(bytes)}`, kind === Insn.fault ? `the bypass of site ${trap.site} is not an instruction` : null);
      });
    } else {
      cpuMove(list, id, (x, cpu, top) => {
        breakpointLeave(x.patch, id);
        cpu.fetch.serialize();
        top.trap = null;
        return one(x, 'int3 handler: drops its reference, returns (serializing)');
      });
    }
  } else if (top0.ctx === 'nmi') {
    if (top0.pc < schedule.nmiSites.length) {
      const site = schedule.nmiSites[top0.pc]!;
      cpuMove(list, id, (x, _cpu, top) => {
        top.pc++;
        return execute(x, id, site, 'NMI: ');
      });
    } else {
      cpuMove(list, id, (x, cpu) => {
        nmiReturn(x.patch, x.handlerView(id));
        cpu.frames.pop();
        return one(x, 'NMI: returns (serializing)');
      });
    }
  } else if (cpu0.inRendezvous) {
    if (!rendezvousHeld(w.patch)) {
      cpuMove(list, id, (x, cpu) => {
        leaveRendezvous(x.patch, x.handlerView(id));
        cpu.inRendezvous = false;
        return one(x, 'leaves the rendezvous (sync_core)');
      });
    }
  } else {
    if (cpu0.syncPending) {
      cpuMove(list, id, (x, cpu) => {
        cpu.syncPending = false;
        handleIpis(x.patch, x.handlerView(id), Ipi.syncCore);
        return one(x, 'takes the sync_core IPI: serializes, acknowledges');
      });
    }
    if (cpu0.kicked) {
      cpuMove(list, id, (x, cpu) => {
        cpu.kicked = false;
        handleIpis(x.patch, x.handlerView(id), Ipi.kick);
        return one(x, cpu.inRendezvous ? 'enters the rendezvous (IRQs off)' : 'takes the stop IPI: nothing to do');
      });
    }
    if (cpu0.execsLeft > 0 && !cpu0.kicked) {
      for (let site = 0; site < schedule.sites; site++) {
        cpuMove(list, id, (x, cpu) => {
          cpu.execsLeft--;
          return execute(x, id, site, '');
        });
      }
    }
  }
  // Last, so depth-first search tries the quiet schedules first and counterexamples come out short:
  // an NMI may arrive between any two moves, unless one is running or NMIs are masked.
  if (cpu0.nmisLeft > 0 && !cpu0.frames.some((f) => f.ctx === 'nmi') && !nmisMasked(w.patch)) {
    cpuMove(list, id, (x, cpu) => {
      cpu.nmisLeft--;
      cpu.frames.push({ ctx: 'nmi', pc: 0, trap: null });
      nmiEnter(x.patch, x.code, x.handlerView(id));
      return one(x, 'NMI: enters the handler');
    });
  }
}

/** CPU `id` executes `site` on its top frame: one outcome per choice the fetch model can make. */
function execute(w: World, id: number, site: number, ctx: string): Array<Outcome<World>> {
  // Count the choices this fetch makes, then enumerate them.
  const probe = w.clone();
  let choices = 0;
  probe.cpus[id]!.fetch.random = () => (choices++, 0.99);
  probe.cpus[id]!.fetch.fetch(probe.code, site, bytes);
  const out: Array<Outcome<World>> = [];
  for (let mask = 0; mask < 1 << choices; mask++) {
    const child = w.clone();
    const cpu = child.cpus[id]!;
    let k = 0;
    cpu.fetch.random = () => ((mask >> k++) & 1 ? 0 : 0.99);
    cpu.fetch.fetch(child.code, site, bytes);
    const kind = decode(site, bytes);
    const top = cpu.frames[cpu.frames.length - 1]!;
    const stale = choices > 0 && mask !== 0 ? ' (with stale bytes)' : '';
    let failure: string | null = null;
    if (kind === Insn.fault) failure = `executes a torn instruction at site ${site}: ${formatBytes(bytes)}`;
    else if (kind === Insn.int3) top.trap = { site, index: -1, phase: 'enter' };
    else if (staleExecution(child.patch, site, kind)) failure = `executes the old instruction at site ${site} after the patch completed`;
    out.push({ world: child, action: `${ctx}executes site ${site}: ${formatBytes(bytes)}${stale}${kind === Insn.int3 ? ' -> int3 trap' : ''}`, failure });
  }
  return out;
}
