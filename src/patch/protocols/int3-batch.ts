import { NmiEntryMode } from '../../machine/patch-area.js';
import { int3Phases, type PatchEntry, type PatchStep, type ProtocolOptions, type Protocol } from '../protocol.js';

/**
 * `int3-batch` — text_poke_bp_batch (2019): the three int3 phases over a vector of sites,
 * one sync each, so 3 sync rounds per batch instead of 3 per site.
 *
 * 1. publish the table of every site, sorted by site (the handler binary-searches it;
 *    Mathieu proposed a hash table for 20,000 sites — the sorted table is what the kernel
 *    kept), activated;
 * 2. CC over every site's first byte;                      sync 1
 * 3. every site's other four bytes;                        sync 2
 * 4. every site's new first byte;                          sync 3
 * 5. tear down: deactivate, wait until the refcount drops to 0 — one shared counter
 *    (`--refcount shared`, every trap bounces its cache line between CPUs) or one per CPU
 *    (`--refcount percpu`, what the kernel moved to in 2025), summed by the patcher.
 *
 * A CPU executing any site of the batch observes, after each step, what `int3` describes
 * for one site.
 */
function* steps(entries: readonly PatchEntry[], options: ProtocolOptions): Generator<PatchStep, void, void> {
  if (entries.length === 0) return;
  // The table is binary-searched: it must be in site order (entries usually are already).
  const sorted = entries.every((e, i) => i === 0 || entries[i - 1]!.site < e.site) ? entries : [...entries].sort((a, b) => a.site - b.site);
  yield { kind: 'publish', entries: sorted };
  yield* int3Phases(entries, options.skipSync ?? 0);
  yield { kind: 'teardown' };
}

/** Safe whatever NMIs do, as `int3`. */
export const int3Batch = { name: 'int3-batch', steps, nmiEntry: NmiEntryMode.plain, safeWhen: () => true } as const satisfies Protocol;
