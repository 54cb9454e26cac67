import { INSN_BYTES, siteInstruction, type CodePage } from '../machine/code-page.js';
import { Insn, decode } from '../machine/instruction.js';
import type { PatchEntry } from './protocol.js';

/** Which sites a request patches, like set_ftrace_filter. Notrace sites are never patched. */
export type SiteFilter =
  | 'all'
  | { readonly sites: readonly number[] }
  | { readonly from: number; readonly to: number }
  | { readonly every: number; readonly offset?: number };

/** enable: sites become CALL; disable: NOP5; toggle: each site the other one. */
export type PatchAction = 'enable' | 'disable' | 'toggle';

/**
 * The entries an operation patches: every matching, non-notrace site not already as wanted.
 * A site that holds neither instruction (an unsafe protocol left it torn) is rewritten to
 * the wanted one and counted in `damaged`.
 */
export function selectEntries(code: CodePage, filter: SiteFilter, action: PatchAction): { entries: PatchEntry[]; damaged: number } {
  const out: PatchEntry[] = [];
  let damaged = 0;
  const now = new Uint8Array(INSN_BYTES);
  for (const site of sitesOf(code, filter)) {
    if (code.isNotrace(site)) continue;
    code.read(site, now);
    const kind = decode(site, now);
    const sound = kind === Insn.nop5 || kind === Insn.callTracer;
    if (!sound) damaged++;
    const traced = action === 'enable' ? true : action === 'disable' ? false : kind !== Insn.callTracer;
    if (sound && (kind === Insn.callTracer) === traced) continue;
    out.push({ site, from: now.slice(), to: siteInstruction(site, traced) });
  }
  return { entries: out, damaged };
}

function* sitesOf(code: CodePage, filter: SiteFilter): Generator<number> {
  const sites = code.sites;
  const check = (s: number): number => code.checkSite(s);
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
