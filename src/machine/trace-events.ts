import { defineEvent, schemaToJson, type EventDescriptor } from '../log/event-schema.js';
import { prng } from '../prng.js';

/**
 * The machine's trace events as EventLog schemas: the CPUs write them with plain typed-array
 * stores at the offsets the schema layout fixes (no codec on the hot path, nothing
 * allocated), and every reader decodes them with the log codec through the schema records
 * the trace file carries, like any EventLog event.
 *
 * Payload byte maps (the log codec's layout, event-schema.ts: 4-byte fields in declaration
 * order, then 1-byte fields, then the flags byte, which the CPUs write as 0):
 *
 * ```
 * function (types 0x4600 + context)   nmi_enter / nmi_exit (0x4610 / 0x4611)
 * 0   seq      u32  stream words       0   point    u8   interrupt point
 * 4   tag      u32  (stream-payload)   1   flags    u8
 * 8   hash     u32
 * 12  check    u32                     int3 (0x4620)
 * 16  site     u32                     0   site     u32
 * 20  context  u32  0 . 1 h 2 N        4   context  u8
 * 24  parent   i32  caller site, -1    5   handled  u8   1: the patch area's handler took it
 *                                      6   flags    u8
 * 28  flags    u8
 *                                      patch_phase (0x4630, the coordinator's track): op u32, sites u32,
 *                                      flags u8, then what: u16 length + UTF-8 (up to 64 bytes)
 *                                      fault (0x46f0)
 *                                      0   site  u32, 4 context u32, 8 bytes u32 (first four), 12 byte4 u8, 13 flags u8
 * ```
 */
export const MachineEvent = {
  /** + context level (0 normal, 1 irq, 2 nmi): each level its own sequenced stream. */
  functionEntry: 0x4600,
  nmiEnter: 0x4610,
  nmiExit: 0x4611,
  int3: 0x4620,
  /** The coordinator's track: one event per phase of a patch operation. */
  patchPhase: 0x4630,
  fault: 0x46f0,
} as const;

export const functionEvent = defineEvent('function', { seq: 'u32', tag: 'u32', hash: 'u32', check: 'u32', site: 'u32', context: 'u32', parent: 'i32' });
export const nmiEnterEvent = defineEvent('nmi_enter', { point: 'u8' });
export const nmiExitEvent = defineEvent('nmi_exit', { point: 'u8' });
export const int3Event = defineEvent('int3', { site: 'u32', context: 'u8', handled: 'u8' });
/** Written by the coordinator through the log codec (not a hot path): `what` names the phase (`write int3`, `sync round 2`, `done`). */
export const patchPhaseEvent = defineEvent('patch_phase', { op: 'u32', sites: 'u32', what: 'string' });
export const faultEvent = defineEvent('fault', { site: 'u32', context: 'u32', bytes: 'u32', byte4: 'u8' });

/** Payload bytes of each event (the schema's fixed part: no strings). */
export const FUNCTION_ENTRY_BYTES = functionEvent.fixedBytes;
export const NMI_EVENT_BYTES = nmiEnterEvent.fixedBytes;
export const INT3_EVENT_BYTES = int3Event.fixedBytes;
export const FAULT_EVENT_BYTES = faultEvent.fixedBytes;

/** Offset of a field in a schema's payload. */
function offsetOf(d: EventDescriptor, field: string): number {
  const slot = d.layout.find((s) => s.name === field);
  if (slot === undefined) throw new Error(`${d.name} has no field ${field}`);
  return slot.offset;
}

/** The offsets the CPUs write at, checked against the schemas once at load: a layout change cannot go unnoticed. */
const expected: Array<[EventDescriptor, string, number]> = [
  [functionEvent, 'site', 16],
  [functionEvent, 'context', 20],
  [functionEvent, 'parent', 24],
  [nmiEnterEvent, 'point', 0],
  [nmiExitEvent, 'point', 0],
  [int3Event, 'site', 0],
  [int3Event, 'context', 4],
  [int3Event, 'handled', 5],
  [faultEvent, 'site', 0],
  [faultEvent, 'context', 4],
  [faultEvent, 'bytes', 8],
  [faultEvent, 'byte4', 12],
];
for (const [d, field, at] of expected) {
  if (offsetOf(d, field) !== at) throw new Error(`machine trace: ${d.name}.${field} is at ${offsetOf(d, field)}, the CPUs write it at ${at}`);
}
if (functionEvent.flagsOffset !== 28 || nmiEnterEvent.flagsOffset !== 1 || int3Event.flagsOffset !== 6 || faultEvent.flagsOffset !== 13) {
  throw new Error('machine trace: a flags byte moved; the CPUs write it at the old offset');
}

/** Every event type the machine writes with its schema: what the drain puts in the trace file. */
export function machineSchemas(): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (let level = 0; level < 3; level++) out.push([MachineEvent.functionEntry + level, JSON.stringify(schemaToJson(functionEvent))]);
  out.push([MachineEvent.nmiEnter, JSON.stringify(schemaToJson(nmiEnterEvent))]);
  out.push([MachineEvent.nmiExit, JSON.stringify(schemaToJson(nmiExitEvent))]);
  out.push([MachineEvent.int3, JSON.stringify(schemaToJson(int3Event))]);
  out.push([MachineEvent.patchPhase, JSON.stringify(schemaToJson(patchPhaseEvent))]);
  out.push([MachineEvent.fault, JSON.stringify(schemaToJson(faultEvent))]);
  return out;
}

/** Kernel-like function name stems the workload's sites are named after. */
const STEMS = [
  'vfs_read', 'vfs_write', 'sys_read', 'sys_write', 'do_sys_open', 'path_lookupat', 'dput', 'mntput',
  'schedule', 'sched_switch', 'sched_tick', 'pick_next_task_fair', 'enqueue_task_fair', 'update_curr',
  'rcu_note_context_switch', 'rcu_read_unlock', 'kmalloc', 'kfree', 'kmem_cache_alloc', 'page_fault',
  'handle_mm_fault', 'filemap_read', 'copy_page_to_iter', 'tcp_sendmsg', 'tcp_recvmsg', 'ip_rcv',
  'netif_receive_skb', 'mutex_lock', 'mutex_unlock', '_raw_spin_lock', 'ktime_get', 'hrtimer_interrupt',
];

/** Names of the sites with a special role. */
const NMI_STEM = 'nmi_handle';
const TRACER_STEM = 'ftrace_helper';

/**
 * The code page's symbol table, compact: the stems and each site's stem index. A site's
 * name is `stem_site` (`vfs_read_1042`), deterministic from the seed, unique per site.
 */
export interface SymbolTable {
  readonly stems: readonly string[];
  /** base64 of one byte per site: its stem's index. */
  readonly stemOf: string;
}

export function symbolTable(sites: number, seed: number, nmiSites: readonly number[], tracerSites: readonly number[]): SymbolTable {
  const stems = [...STEMS, NMI_STEM, TRACER_STEM];
  const random = prng(seed ^ 0x6e616d65);
  const stemOf = new Uint8Array(sites);
  for (let s = 0; s < sites; s++) stemOf[s] = Math.floor(random() * STEMS.length);
  for (const s of nmiSites) stemOf[s] = STEMS.length;
  for (const s of tracerSites) stemOf[s] = STEMS.length + 1;
  return { stems, stemOf: Buffer.from(stemOf).toString('base64') };
}

/** Site numbers to names, from a symbol table (as the trace carries it). */
export class Symbols {
  readonly sites: number;
  private readonly stems: readonly string[];
  private readonly stemOf: Uint8Array;

  constructor(table: SymbolTable) {
    if (typeof table !== 'object' || table === null || !Array.isArray(table.stems) || typeof table.stemOf !== 'string') {
      throw new TypeError('symbol table must be { stems: string[], stemOf: base64 string }');
    }
    this.stems = table.stems;
    this.stemOf = new Uint8Array(Buffer.from(table.stemOf, 'base64'));
    this.sites = this.stemOf.length;
  }

  /** `vfs_read_1042`; a site outside the table reads `site_N`. */
  name(site: number): string {
    const stem = site >= 0 && site < this.sites ? this.stems[this.stemOf[site]!] : undefined;
    return `${stem ?? 'site'}_${site}`;
  }

  /** Sites whose names match a glob list (`sched_*,vfs_*`; `*` any run, `?` one character). */
  matching(globs: string): number[] {
    const re = globRegExp(globs);
    const out: number[] = [];
    for (let s = 0; s < this.sites; s++) if (re.test(this.name(s))) out.push(s);
    return out;
  }
}

/**
 * A comma-separated glob list as one RegExp. Only letters, digits, `_`, `*`, `?` and `,` are
 * allowed (function names are identifiers): anything else is a RangeError naming it.
 */
export function globRegExp(globs: string): RegExp {
  if (typeof globs !== 'string') throw new TypeError(`a filter must be a string of globs (got ${typeof globs})`);
  const parts = globs.split(',').map((g) => g.trim());
  for (const g of parts) {
    if (!/^[A-Za-z0-9_*?]+$/.test(g)) throw new RangeError(`filter ${JSON.stringify(g)} is not a glob of letters, digits, _, * and ? (comma-separated, e.g. 'sched_*,vfs_*')`);
  }
  return new RegExp(`^(?:${parts.map((g) => g.replace(/\*/g, '.*').replace(/\?/g, '.')).join('|')})$`);
}
