import { INSN_BYTES, type CodePage } from './code-page.js';

/**
 * The fetch model: unsynchronised cross-modifying code (Intel SDM 8.1.3, erratum AH33).
 *
 * A CPU keeps copies of the site bytes it fetched earlier (its prefetch queue / trace
 * cache), including the next site's, prefetched without being executed. Until it executes a serializing event, executing a site may use, byte by byte,
 * either its earlier copy or the current bytes: a seeded random choice per byte. A
 * serializing event — the sync_core IPI handler, the return from an NMI, IRQ or int3
 * handler — drops every copy, so the next execution reads the current bytes (and keeps
 * them as its new copy).
 *
 * `mode: 'off'` always reads the current bytes (a CPU with perfectly coherent fetch).
 *
 * The state is the CPU's own (worker-local memory, not shared): dropping the copies is a
 * generation bump, O(1) for any number of sites.
 */
export interface FetchModelOptions {
  /** `stale` (the model above) or `off`. Defaults to `stale`. */
  readonly mode?: 'stale' | 'off';
  /** Probability that a byte comes from the earlier copy, when one exists. Defaults to 0.5. */
  readonly staleByteProbability?: number;
  /**
   * Sequential prefetch: executing site s also fetches site s + 1 (without executing it),
   * if the CPU holds no copy of it yet. A prefetched CC does not trap, so a copy of
   * CC + old tail can outlive a trap elsewhere: what sync 2 of int3 is for. Defaults to true.
   */
  readonly prefetch?: boolean;
}

export class FetchModel {
  readonly mode: 'stale' | 'off';
  readonly staleByteProbability: number;
  readonly prefetch: boolean;
  private readonly sites: number;
  private readonly copies: Uint8Array;
  private readonly copyGeneration: Uint32Array;
  private generation = 1;
  /** Where the per-byte choice comes from: the seeded PRNG, or the explorer's enumeration. */
  random: () => number;
  private readonly current = new Uint8Array(INSN_BYTES);
  /** Executions that used at least one stale byte that differed from the current one. */
  staleExecutions = 0;

  constructor(sites: number, random: () => number, options: FetchModelOptions = {}) {
    this.mode = options.mode ?? 'stale';
    this.staleByteProbability = options.staleByteProbability ?? 0.5;
    if (this.mode !== 'stale' && this.mode !== 'off') {
      throw new RangeError(`fetch model mode must be stale or off (got ${String(this.mode)})`);
    }
    if (!(this.staleByteProbability >= 0 && this.staleByteProbability <= 1)) {
      throw new RangeError(`staleByteProbability must be between 0 and 1 (got ${this.staleByteProbability})`);
    }
    this.prefetch = options.prefetch ?? true;
    this.sites = sites;
    this.copies = new Uint8Array(sites * INSN_BYTES);
    this.copyGeneration = new Uint32Array(sites);
    this.random = random;
  }

  /** The bytes this CPU executes at `site` now, into `out`. */
  fetch(code: CodePage, site: number, out: Uint8Array): void {
    this.fetchSite(code, site, out);
    const next = site + 1;
    if (this.prefetch && this.mode === 'stale' && next < this.sites && this.copyGeneration[next] !== this.generation) {
      code.read(next, this.current);
      this.copies.set(this.current, next * INSN_BYTES);
      this.copyGeneration[next] = this.generation;
    }
  }

  private fetchSite(code: CodePage, site: number, out: Uint8Array): void {
    code.read(site, this.current);
    const at = site * INSN_BYTES;
    if (this.mode === 'off' || this.copyGeneration[site] !== this.generation) {
      for (let b = 0; b < INSN_BYTES; b++) {
        out[b] = this.current[b]!;
        this.copies[at + b] = this.current[b]!;
      }
      this.copyGeneration[site] = this.generation;
      return;
    }
    let mixed = false;
    for (let b = 0; b < INSN_BYTES; b++) {
      const old = this.copies[at + b]!;
      const now = this.current[b]!;
      if (old !== now && this.random() < this.staleByteProbability) {
        out[b] = old;
        mixed = true;
      } else {
        out[b] = now;
      }
    }
    if (mixed) this.staleExecutions++;
  }

  /** A serializing event: every earlier copy is dropped. */
  serialize(): void {
    this.generation = (this.generation + 1) >>> 0 || 1;
  }

  /** An independent copy of this CPU's fetch state (the explorer branches on it). */
  clone(): FetchModel {
    const c = new FetchModel(this.sites, this.random, { mode: this.mode, staleByteProbability: this.staleByteProbability, prefetch: this.prefetch });
    c.copies.set(this.copies);
    c.copyGeneration.set(this.copyGeneration);
    c.generation = this.generation;
    return c;
  }

  /** The state that matters for execution, as a string: each site's copy if it is valid. */
  key(): string {
    let k = '';
    for (let site = 0; site < this.sites; site++) {
      k += this.copyGeneration[site] === this.generation ? `${this.copies.subarray(site * INSN_BYTES, (site + 1) * INSN_BYTES).join('.')};` : '-;';
    }
    return k;
  }
}
