/**
 * The code page: S patchable call sites, the simulated machine's kernel text. This module
 * owns its layout.
 *
 * ```
 * site i, at byte 8 * i of the code page region:
 * +0..+4  the instruction: NOP5 0F 1F 44 00 00, CALL E8 rel32, or CC (int3) over byte 0
 * +5      flags: bit 0 notrace (never patched)
 * +6..+7  unused
 * ```
 *
 * | bytes   | written by                            | read by                         | how                               |
 * |---------|---------------------------------------|---------------------------------|-----------------------------------|
 * | +0..+4  | the machine at boot; the coordinator  | every CPU, at every execution   | coordinator: Atomics.store per    |
 * |         | while patching (byte by byte)         | (through its fetch model)       | byte; CPUs: plain byte reads — an |
 * |         |                                       |                                 | unsynchronised read is the point  |
 * | +5      | the machine at boot                   | the coordinator (filters)       | plain, before the CPUs start      |
 *
 * Cross-modifying code is a data race by nature: a CPU's plain read of a site may see old
 * or new bytes while they change. What orders them is the protocols' sync rounds: the
 * coordinator's stores happen before its IPI (`Atomics.or`), which happens before the
 * CPU's `Atomics.exchange` taking it, so every read after a sync sees the bytes written
 * before it. Between syncs the fetch model decides, explicitly, what a CPU executes.
 *
 * Addresses are virtual: site i lives at CODE_BASE + 8 i and the function tracer's entry
 * at TRACER_ENTRY; a CALL's rel32 is target - (site + 5), little-endian, as on x86.
 */

export const SITE_STRIDE = 8;
export const INSN_BYTES = 5;
export const SITE_FLAGS = 5;
export const FLAG_NOTRACE = 1;

export const CODE_BASE = 0x0100_0000;
export const TRACER_ENTRY = 0x0080_0000;

export const OPCODE_CALL = 0xe8;
export const OPCODE_INT3 = 0xcc;
export const NOP5: readonly number[] = [0x0f, 0x1f, 0x44, 0x00, 0x00];

export function siteAddress(site: number): number {
  return CODE_BASE + site * SITE_STRIDE;
}

/** Bytes of a code page of `sites` sites, padded to a cache line. */
export function codePageBytes(sites: number): number {
  return Math.ceil((sites * SITE_STRIDE) / 64) * 64;
}

/** Writes the 5 bytes of `CALL TRACER_ENTRY` at `site` into `out` (at `at`). */
export function encodeCallTracer(site: number, out: Uint8Array, at = 0): void {
  const rel = (TRACER_ENTRY - (siteAddress(site) + INSN_BYTES)) | 0;
  out[at] = OPCODE_CALL;
  out[at + 1] = rel & 0xff;
  out[at + 2] = (rel >>> 8) & 0xff;
  out[at + 3] = (rel >>> 16) & 0xff;
  out[at + 4] = (rel >>> 24) & 0xff;
}

/** Writes NOP5 into `out` (at `at`). */
export function encodeNop5(out: Uint8Array, at = 0): void {
  for (let b = 0; b < INSN_BYTES; b++) out[at + b] = NOP5[b]!;
}

/** The instruction a site holds when traced (`CALL`) or not (`NOP5`), as 5 bytes. */
export function siteInstruction(site: number, traced: boolean): Uint8Array {
  const out = new Uint8Array(INSN_BYTES);
  if (traced) encodeCallTracer(site, out);
  else encodeNop5(out);
  return out;
}

/** A view of the code page region of a machine's buffer. */
export class CodePage {
  readonly sites: number;
  /** The region's bytes: site i at 8 i. */
  readonly bytes: Uint8Array;

  constructor(sab: SharedArrayBuffer, byteOffset: number, sites: number) {
    this.sites = sites;
    this.bytes = new Uint8Array(sab, byteOffset, codePageBytes(sites));
  }

  checkSite(site: number): number {
    if (!Number.isInteger(site) || site < 0 || site >= this.sites) {
      throw new RangeError(`site must be an integer between 0 and ${this.sites - 1} (got ${site})`);
    }
    return site;
  }

  isNotrace(site: number): boolean {
    return (this.bytes[site * SITE_STRIDE + SITE_FLAGS]! & FLAG_NOTRACE) !== 0;
  }

  /** Boot-time set-up, before any CPU runs: instruction and notrace flag, plain stores. */
  initialiseSite(site: number, traced: boolean, notrace: boolean): void {
    const at = site * SITE_STRIDE;
    if (traced && !notrace) encodeCallTracer(site, this.bytes, at);
    else encodeNop5(this.bytes, at);
    this.bytes[at + SITE_FLAGS] = notrace ? FLAG_NOTRACE : 0;
  }

  /**
   * Writes one byte of a live site (text_poke): an `Atomics.store`, so that the sync round
   * after it (whose IPI is an Atomics op of the same thread) orders it before every read a
   * CPU makes after taking that IPI.
   */
  poke(site: number, index: number, value: number): void {
    Atomics.store(this.bytes, site * SITE_STRIDE + index, value);
  }

  /** Copies the site's current bytes into `out` (plain reads: what "current" means to a CPU). */
  read(site: number, out: Uint8Array): void {
    const at = site * SITE_STRIDE;
    const bytes = this.bytes;
    out[0] = bytes[at]!;
    out[1] = bytes[at + 1]!;
    out[2] = bytes[at + 2]!;
    out[3] = bytes[at + 3]!;
    out[4] = bytes[at + 4]!;
  }
}
