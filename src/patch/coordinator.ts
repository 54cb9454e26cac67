import { INSN_BYTES, siteInstruction } from '../machine/code-page.js';
import { Insn, decode } from '../machine/instruction.js';
import { Ipi } from '../machine/interrupts.js';
import type { MachineMemory } from '../machine/machine-memory.js';
import {
  PC_BP_NS,
  PC_IPI_NS,
  PC_STALE,
  PC_STOPPED_NS,
  PC_TRAPS,
  P_NMI_RUNNING,
  P_RELEASED,
  P_STOPPED,
  type BypassName,
  type RefcountName,
} from '../machine/patch-area.js';
import {
  beginStop,
  deactivateTable,
  dropWriteFlag,
  fillRedo,
  handlersIdle,
  nmisIdle,
  publishTable,
  releaseStop,
  setRedoPending,
  tryRaiseWriteFlag,
  unmaskNmis,
} from './step-effects.js';
import type { PatchEntry, PatchStep, ProtocolName } from './protocol.js';
import { protocols } from './protocols/index.js';

/** Which sites a request patches, like set_ftrace_filter. Notrace sites are never patched. */
export type SiteFilter =
  | 'all'
  | { readonly sites: readonly number[] }
  | { readonly from: number; readonly to: number }
  | { readonly every: number; readonly offset?: number };

export interface PatchRequest {
  readonly protocol: ProtocolName;
  /** enable: sites become CALL; disable: NOP5; toggle: each site the other one. */
  readonly action: 'enable' | 'disable' | 'toggle';
  readonly filter?: SiteFilter;
  readonly bypass?: BypassName;
  readonly refcount?: RefcountName;
  /** stop-machine protocols: `off` masks NMIs while the machine is stopped. Defaults to `on`. */
  readonly nmi?: 'on' | 'off';
  /** Test-only: leave out one of int3's three sync rounds. */
  readonly skipSync?: 0 | 1 | 2 | 3;
  /** Busy time per byte written, ns: the cost of text_poke; widens the race windows. Defaults to 0. */
  readonly pokeCostNs?: number;
  /** Bound on each wait (sync round, rendezvous, handlers, NMIs), ms. Defaults to 2,000. */
  readonly timeoutMs?: number;
}

export interface PatchReport {
  readonly protocol: ProtocolName;
  readonly action: PatchRequest['action'];
  readonly sites: number;
  /** Sites found torn when the operation began (left so by an unsafe protocol), rewritten by it. */
  readonly damagedSites: number;
  readonly wallMs: number;
  readonly syncRounds: number;
  readonly ipis: number;
  readonly traps: number;
  /** CPU time, summed over CPUs, spent stopped / in IPI handlers / in int3 handlers, ms. */
  readonly stoppedMs: number;
  readonly ipiHandlerMs: number;
  readonly breakpointHandlerMs: number;
  /** Torn instructions (and stray int3s) the CPUs executed during the operation. */
  readonly faults: number;
  /** Executions of an old instruction after the previous operation had completed (must be 0). */
  readonly staleAfterPrevious: number;
}

/** Raised when a protocol's wait cannot complete (a CPU that does not answer). */
export class PatchTimeoutError extends Error {
  readonly code = 'ERR_PATCH_TIMEOUT';
}

/**
 * The patching coordinator: performs a protocol's steps against the machine's real shared
 * memory and real IPIs, one operation at a time, and measures each. It blocks (it runs in
 * its own worker thread); every wait has a timeout.
 */
export class Coordinator {
  private readonly memory: MachineMemory;
  private readonly all: number[];
  private generation = 0;
  private staleSeen = 0;
  private syncRounds = 0;
  private ipis = 0;

  constructor(memory: MachineMemory) {
    this.memory = memory;
    this.all = [...Array(memory.cpus).keys()];
  }

  /**
   * The entries a request patches: every matching, non-notrace site not already as wanted.
   * A site that holds neither instruction (an unsafe protocol left it torn) is rewritten to
   * the wanted one and counted in `damaged`.
   */
  entries(request: PatchRequest): { entries: PatchEntry[]; damaged: number } {
    const code = this.memory.code;
    const out: PatchEntry[] = [];
    let damaged = 0;
    const now = new Uint8Array(INSN_BYTES);
    for (const site of this.sitesOf(request.filter ?? 'all')) {
      if (code.isNotrace(site)) continue;
      code.read(site, now);
      const kind = decode(site, now);
      const sound = kind === Insn.nop5 || kind === Insn.callTracer;
      if (!sound) damaged++;
      const traced = request.action === 'enable' ? true : request.action === 'disable' ? false : kind !== Insn.callTracer;
      if (sound && (kind === Insn.callTracer) === traced) continue;
      out.push({ site, from: now.slice(), to: siteInstruction(site, traced) });
    }
    return { entries: out, damaged };
  }

  run(request: PatchRequest): PatchReport {
    const protocol = protocols[request.protocol];
    if (protocol === undefined) throw new RangeError(`protocol must be one of ${Object.keys(protocols).join(', ')} (got ${request.protocol})`);
    const { entries, damaged } = this.entries(request);
    const before = this.counters();
    const stale = before.stale - this.staleSeen;
    this.syncRounds = 0;
    this.ipis = 0;
    const started = performance.now();
    // While the operation runs either instruction is fine at its sites.
    for (const e of entries) this.memory.patch.setExpected(e.site, 0);
    const steps = protocol(entries, { bypass: request.bypass ?? 'new', refcount: request.refcount ?? 'percpu', skipSync: request.skipSync ?? 0 });
    for (const step of steps) this.perform(step, request);
    // Done: from now on every CPU must execute the new instructions.
    for (const e of entries) this.memory.patch.setExpected(e.site, decode(e.site, e.to));
    const wallMs = performance.now() - started;
    const after = this.counters();
    this.staleSeen = after.stale;
    return {
      protocol: request.protocol,
      action: request.action,
      sites: entries.length,
      damagedSites: damaged,
      wallMs,
      syncRounds: this.syncRounds,
      ipis: this.ipis,
      traps: after.traps - before.traps,
      stoppedMs: (after.stoppedNs - before.stoppedNs) / 1e6,
      ipiHandlerMs: (after.ipiNs - before.ipiNs) / 1e6,
      breakpointHandlerMs: (after.bpNs - before.bpNs) / 1e6,
      faults: after.faults - before.faults,
      staleAfterPrevious: stale,
    };
  }

  private perform(step: PatchStep, request: PatchRequest): void {
    const memory = this.memory;
    const patch = memory.patch;
    const timeoutMs = request.timeoutMs ?? 2_000;
    switch (step.kind) {
      case 'write': {
        const cost = request.pokeCostNs ?? 0;
        const code = memory.code;
        // The same byte order as writeBytes(), as a plain loop: no object per byte.
        const first = step.part === 'tail' ? 1 : 0;
        const last = step.part === 'int3' || step.part === 'head' ? 0 : 4;
        for (const e of step.entries) {
          for (let b = first; b <= last; b++) {
            code.poke(e.site, b, step.part === 'int3' ? 0xcc : e.to[b]!);
            if (cost > 0) for (const until = performance.now() + cost / 1e6; performance.now() < until; );
          }
        }
        return;
      }
      case 'sync': {
        const result = memory.irq.syncCore(this.all, timeoutMs);
        this.syncRounds++;
        this.ipis += this.all.length;
        if (result.missing.length > 0) {
          throw new PatchTimeoutError(`sync round ${result.round}: cpu ${result.missing.join(', ')} did not answer within ${timeoutMs} ms`);
        }
        return;
      }
      case 'publish':
        publishTable(patch, step.entries, request.bypass ?? 'new', request.refcount ?? 'percpu', ++this.generation);
        return;
      case 'teardown':
        deactivateTable(patch);
        // A handler that took its reference before deactivation may still read the table: wait for it.
        this.until(timeoutMs, 'int3 handlers to leave', () => handlersIdle(patch));
        return;
      case 'stopMachine':
        beginStop(patch, request.nmi === 'off');
        for (const cpu of this.all) memory.irq.sendIpi(cpu, Ipi.kick);
        this.ipis += this.all.length;
        this.waitCount(P_STOPPED, this.all.length, timeoutMs, 'every CPU to stop');
        return;
      case 'releaseMachine':
        releaseStop(patch);
        this.waitCount(P_RELEASED, this.all.length, timeoutMs, 'every CPU to leave the rendezvous');
        unmaskNmis(patch);
        return;
      case 'setRedo':
        fillRedo(patch, step.site, step.bytes);
        setRedoPending(patch, true);
        return;
      case 'clearRedo':
        setRedoPending(patch, false);
        return;
      case 'raiseWriteFlag':
        fillRedo(patch, step.site, step.bytes);
        this.until(timeoutMs, 'NMIs to leave before raising the write flag', () => tryRaiseWriteFlag(patch));
        return;
      case 'dropWriteFlag':
        dropWriteFlag(patch);
        return;
      case 'waitNmisIdle':
        this.until(timeoutMs, 'NMIs to leave', () => nmisIdle(patch));
        return;
    }
  }

  /** Waits until a counter word reaches `target` (CPUs add and notify). */
  private waitCount(word: number, target: number, timeoutMs: number, what: string): void {
    const i32 = this.memory.patch.i32;
    const deadline = performance.now() + timeoutMs;
    for (let seen = Atomics.load(i32, word >> 2); seen < target; seen = Atomics.load(i32, word >> 2)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new PatchTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what} (${seen} of ${target})`);
      Atomics.wait(i32, word >> 2, seen, left);
    }
  }

  /** Polls `done` with short sleeps until it holds, or throws after the timeout. */
  private until(timeoutMs: number, what: string, done: () => boolean): void {
    const deadline = performance.now() + timeoutMs;
    const i32 = this.memory.patch.i32;
    while (!done()) {
      if (performance.now() > deadline) throw new PatchTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`);
      Atomics.wait(i32, P_NMI_RUNNING >> 2, Atomics.load(i32, P_NMI_RUNNING >> 2), 0.01);
    }
  }

  private counters(): { traps: number; bpNs: number; stoppedNs: number; ipiNs: number; stale: number; faults: number } {
    const patch = this.memory.patch;
    const sum = (off: number): number => this.all.reduce((a, cpu) => a + patch.cpuCounter(cpu, off), 0);
    return {
      traps: sum(PC_TRAPS),
      bpNs: sum(PC_BP_NS),
      stoppedNs: sum(PC_STOPPED_NS),
      ipiNs: sum(PC_IPI_NS),
      stale: sum(PC_STALE),
      faults: this.all.reduce((a, cpu) => a + this.memory.irq.counters(cpu).faults, 0),
    };
  }

  private *sitesOf(filter: SiteFilter): Generator<number> {
    const sites = this.memory.code.sites;
    const check = (s: number): number => this.memory.code.checkSite(s);
    if (filter === 'all') {
      for (let s = 0; s < sites; s++) yield s;
    } else if ('sites' in filter) {
      for (const s of [...new Set(filter.sites)].sort((a, b) => a - b)) yield check(s);
    } else if ('from' in filter) {
      for (let s = check(filter.from); s <= check(filter.to); s++) yield s;
    } else {
      if (!(Number.isInteger(filter.every) && filter.every >= 1)) throw new RangeError(`filter.every must be a positive integer (got ${filter.every})`);
      for (let s = filter.offset ?? 0; s < sites; s += filter.every) yield s;
    }
  }
}
