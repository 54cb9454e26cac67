import { codePageBytes, siteInstruction } from '../machine/code-page.js';
import { FetchModel } from '../machine/fetch-model.js';
import { P_NMI_ENTRY_MODE, patchRegionBytes, type BypassName, type RefcountName } from '../machine/patch-area.js';
import type { PatchEntry } from '../patch/protocol.js';
import { protocolOf, type ProtocolName } from '../patch/protocols/index.js';
import { beginOperation } from '../patch/step-effects.js';
import { stateSpace } from './scheduler.js';
import { search, type SearchResult } from './search.js';
import { World, type CpuModel } from './world.js';

export { formatCounterexample, type ExploreStep } from './diagram.js';

/**
 * The interleaving explorer: runs a protocol's very steps, phase by phase (the phases the
 * threaded coordinator runs), against CPUs with NMIs under a deterministic scheduler
 * (scheduler.ts), over the very CPU semantics the threaded CPUs use (decode, the fetch
 * model, the interrupt handlers), and searches every interleaving of their moves up to a
 * bound (search.ts), pruning states it has seen. Where the fetch model chooses a byte (copy
 * or current), both choices are explored.
 *
 * A counterexample is a path to a CPU executing a torn instruction, an int3 nobody
 * handles, or the old instruction after the patch completed (diagram.ts draws it).
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

export interface ExploreResult extends SearchResult {
  readonly protocol: ProtocolName;
}

export function explore(options: ExploreOptions): ExploreResult {
  const cpuCount = options.cpus ?? 2;
  const patched = options.sites ?? 1;
  const bound = options.bound ?? 60;
  if (!(Number.isInteger(cpuCount) && cpuCount >= 1 && cpuCount <= 3)) throw new RangeError(`cpus must be an integer between 1 and 3 (got ${cpuCount})`);
  if (!(Number.isInteger(patched) && patched >= 1 && patched <= 2)) throw new RangeError(`sites must be 1 or 2 (got ${patched})`);
  if (!(Number.isInteger(bound) && bound >= 1 && bound <= 1000)) throw new RangeError(`bound must be an integer between 1 and 1000 (got ${bound})`);
  const protocol = protocolOf(options.protocol);
  const settings = { bypass: options.bypass ?? 'new', refcount: options.refcount ?? 'percpu', maskNmis: options.nmi === 'off' } as const;

  const siteCount = patched + 1;
  const entries: PatchEntry[] = [];
  for (let s = 1; s <= patched; s++) entries.push({ site: s, from: siteInstruction(s, false), to: siteInstruction(s, true) });
  const steps = [...protocol.steps(entries, { bypass: settings.bypass, refcount: settings.refcount, skipSync: options.skipSync ?? 0 })];
  const nmiSites = options.notraceNmi === true ? [0] : entries.map((e) => e.site);

  const cpus: CpuModel[] = [];
  for (let id = 0; id < cpuCount; id++) {
    cpus.push({
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
  const sab = new SharedArrayBuffer(codePageBytes(siteCount) + patchRegionBytes(cpuCount, siteCount));
  const initial = new World(sab, siteCount, settings, { step: 0, phase: 0, rep: 0, round: 0, generation: 0 }, cpus);
  for (let s = 0; s < siteCount; s++) initial.code.initialiseSite(s, false, s === 0);
  initial.patch.i32[P_NMI_ENTRY_MODE >> 2] = protocol.nmiEntry;
  beginOperation(initial.patch, entries);

  const result = search(stateSpace({ steps, entries, sites: siteCount, nmiSites }), initial, { bound, maxStates: options.maxStates ?? 3_000_000 });
  return { protocol: options.protocol, ...result };
}
