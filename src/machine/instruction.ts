import { INSN_BYTES, NOP5, OPCODE_CALL, OPCODE_INT3, TRACER_ENTRY, siteAddress } from './code-page.js';

/** What a CPU does with the 5 bytes it fetched at a site. */
export const Insn = {
  /** 0F 1F 44 00 00: continue. */
  nop5: 1,
  /** E8 rel32 whose target is the function tracer's entry: trace the function. */
  callTracer: 2,
  /** CC in the first byte: trap to the breakpoint handler. */
  int3: 3,
  /** Anything else: a torn or invalid instruction. The simulated crash. */
  fault: 4,
} as const;
export type Insn = (typeof Insn)[keyof typeof Insn];

export const insnNames: Readonly<Record<number, string>> = { 1: 'nop5', 2: 'call', 3: 'int3', 4: 'fault' };

/**
 * Decodes a site's 5 fetched bytes. Only the two instructions a patch site may hold and
 * int3 are valid; a mix of them (the first byte of one, the rest of the other) is a fault:
 * `0F` + a call's rel32 is not a NOP, and `E8 1F 44 00 00` calls into nowhere.
 */
export function decode(site: number, bytes: Uint8Array): Insn {
  const first = bytes[0]!;
  if (first === OPCODE_INT3) return Insn.int3;
  if (first === OPCODE_CALL) {
    const rel = bytes[1]! | (bytes[2]! << 8) | (bytes[3]! << 16) | (bytes[4]! << 24);
    return siteAddress(site) + INSN_BYTES + rel === TRACER_ENTRY ? Insn.callTracer : Insn.fault;
  }
  for (let b = 0; b < INSN_BYTES; b++) if (bytes[b] !== NOP5[b]) return Insn.fault;
  return Insn.nop5;
}

/** "0f 1f 44 00 00" */
export function formatBytes(bytes: ArrayLike<number>): string {
  return Array.from({ length: INSN_BYTES }, (_, i) => (bytes[i] ?? 0).toString(16).padStart(2, '0')).join(' ');
}
