/**
 * The patch area: the state shared by the patching coordinator and the CPUs — the
 * breakpoint table and its refcounts, the redo buffer and flags of the 2008 schemes, the
 * stop_machine rendezvous, and per-CPU patching counters. This module owns the layout of
 * that region of the machine's buffer.
 *
 * ```
 * +0            patch control (256 bytes, four cache lines)
 * +256          per-CPU lines, 64 bytes each
 * +256 + 64 c   expected instruction per site (1 byte each, padded to 64)
 * then          breakpoint table, 16 bytes per entry, capacity = sites
 * ```
 *
 * | off | width | word                 | written by                         | read by                 | how                                     |
 * |-----|-------|----------------------|------------------------------------|-------------------------|-----------------------------------------|
 * | 0   | i32   | breakpoints active   | coordinator (publish / tear down)  | int3 handler            | Atomics.store after the table / load    |
 * | 4   | i32   | table entries        | coordinator                        | int3 handler            | before the active word                  |
 * | 8   | i32   | bypass (1 old, 2 new)| coordinator                        | int3 handler            | before the active word                  |
 * | 12  | i32   | refcount (1 shared, 2 per-CPU) | coordinator              | int3 handler            | before the active word                  |
 * | 16  | i32   | redo pending         | coordinator (redo)                 | NMI entry               | Atomics.store / Atomics.load            |
 * | 20  | i32   | redo site            | coordinator                        | NMI entry               | before redo pending                     |
 * | 24  | u8x5  | redo bytes           | coordinator                        | NMI entry               | before redo pending                     |
 * | 32  | i32   | stop state           | coordinator                        | CPUs                    | Atomics.store + kick IPI / load         |
 * | 36  | i32   | NMIs masked          | coordinator (stop-machine --no-nmi)| CPUs                    | Atomics.store / load                    |
 * | 40  | i32   | NMI entry mode       | machine boot                       | CPUs                    | posting the SAB                         |
 * | 64  | i32   | shared refcount      | int3 handlers                      | coordinator (teardown)  | Atomics.add / sub / load                |
 * | 128 | i32   | nmi_running (+bit 31 write flag) | NMI entry/exit; coordinator CAS | both             | Atomics.add / sub / compareExchange     |
 * | 192 | i32   | CPUs stopped         | CPUs entering the rendezvous       | coordinator             | Atomics.add + notify / wait             |
 * | 196 | i32   | CPUs released        | CPUs leaving the rendezvous        | coordinator             | Atomics.add + notify / wait             |
 *
 * Per-CPU line (CPU-written, coordinator-read): +0 i32 per-CPU refcount (Atomics.add/sub),
 * +8 f64 traps, +16 f64 ns in int3 handlers, +24 f64 ns stopped, +32 f64 ns in IPI
 * handlers, +40 f64 executions of an old instruction after its operation completed.
 *
 * Expected instruction (1 byte per site; coordinator writes with Atomics.store, CPUs read
 * plainly): 0 while a patch is in flight or never set, else the decoded kind a CPU must
 * see at that site (`Insn.nop5` / `Insn.callTracer`). A CPU that decodes the other kind
 * there executed a stale instruction after the operation said it was done.
 *
 * Table entry: +0 i32 site, +4 5 old bytes, +9 5 new bytes. Sorted by site (binary search).
 */

export const PATCH_CONTROL_BYTES = 256;
export const PATCH_PERCPU_BYTES = 64;
export const TABLE_ENTRY_BYTES = 16;

export const P_BP_ACTIVE = 0;
export const P_BP_COUNT = 4;
export const P_BP_BYPASS = 8;
export const P_BP_REFCOUNT_MODE = 12;
export const P_REDO_PENDING = 16;
export const P_REDO_SITE = 20;
export const P_REDO_BYTES = 24;
export const P_STOP_STATE = 32;
export const P_NMI_MASKED = 36;
export const P_NMI_ENTRY_MODE = 40;
export const P_REFCOUNT = 64;
export const P_NMI_RUNNING = 128;
export const P_STOPPED = 192;
export const P_RELEASED = 196;

export const PC_REFCOUNT = 0;
export const PC_TRAPS = 8;
export const PC_BP_NS = 16;
export const PC_STOPPED_NS = 24;
export const PC_IPI_NS = 32;
export const PC_STALE = 40;

/** The write flag of redo-nmi-wait, folded into nmi_running (Rostedt, 2009). */
export const NMI_WRITE_FLAG = 1 << 31;

export const Bypass = { old: 1, new: 2 } as const;
export type BypassName = keyof typeof Bypass;
export const Refcount = { shared: 1, percpu: 2 } as const;
export type RefcountName = keyof typeof Refcount;
export const StopState = { running: 0, stopping: 1 } as const;

/** What NMI entry does, fixed at boot by the protocol the machine runs. */
export const NmiEntryMode = {
  /** Nothing (every protocol but the 2008 redo schemes). */
  plain: 0,
  /** Ingo's scheme: if redo is pending, copy the redo buffer to its site and serialize. */
  redo: 1,
  /** Rostedt's fix: count nmi_running; if the write flag is up, do the pending write first. */
  nmiRunning: 2,
} as const;
export type NmiEntryMode = (typeof NmiEntryMode)[keyof typeof NmiEntryMode];

export function patchRegionBytes(cpus: number, sites: number): number {
  const expected = Math.ceil(sites / 64) * 64;
  return PATCH_CONTROL_BYTES + cpus * PATCH_PERCPU_BYTES + expected + sites * TABLE_ENTRY_BYTES;
}

/** Views of the patch area. */
export class PatchState {
  readonly cpus: number;
  readonly sites: number;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  /** Byte offsets inside the region. */
  readonly expectedBase: number;
  readonly tableBase: number;

  constructor(sab: SharedArrayBuffer, byteOffset: number, cpus: number, sites: number) {
    this.cpus = cpus;
    this.sites = sites;
    const bytes = patchRegionBytes(cpus, sites);
    this.i32 = new Int32Array(sab, byteOffset, bytes / 4);
    this.f64 = new Float64Array(sab, byteOffset, Math.floor(bytes / 8));
    this.u8 = new Uint8Array(sab, byteOffset, bytes);
    this.expectedBase = PATCH_CONTROL_BYTES + cpus * PATCH_PERCPU_BYTES;
    this.tableBase = this.expectedBase + Math.ceil(sites / 64) * 64;
  }

  word(off: number): number {
    return off >> 2;
  }

  cpuWord(cpu: number, off: number): number {
    return (PATCH_CONTROL_BYTES + cpu * PATCH_PERCPU_BYTES + off) >> 2;
  }

  cpuDouble(cpu: number, off: number): number {
    return (PATCH_CONTROL_BYTES + cpu * PATCH_PERCPU_BYTES + off) >> 3;
  }

  addCpu(cpu: number, off: number, by: number): void {
    this.f64[this.cpuDouble(cpu, off)]! += by;
  }

  cpuCounter(cpu: number, off: number): number {
    return this.f64[this.cpuDouble(cpu, off)]!;
  }

  expected(site: number): number {
    return this.u8[this.expectedBase + site]!;
  }

  setExpected(site: number, kind: number): void {
    Atomics.store(this.u8, this.expectedBase + site, kind);
  }

  nmiEntryMode(): NmiEntryMode {
    return this.i32[P_NMI_ENTRY_MODE >> 2] as NmiEntryMode;
  }

  /** Binary search of the published table: the entry index of `site`, or -1. */
  lookup(site: number): number {
    const count = this.i32[P_BP_COUNT >> 2]!;
    const base = this.tableBase >> 2;
    let lo = 0;
    let hi = count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.i32[base + mid * (TABLE_ENTRY_BYTES >> 2)]!;
      if (s === site) return mid;
      if (s < site) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Byte offset (in u8) of entry `index`'s old (`which = 0`) or new (`which = 1`) bytes. */
  entryBytes(index: number, which: 0 | 1): number {
    return this.tableBase + index * TABLE_ENTRY_BYTES + 4 + which * 5;
  }
}
