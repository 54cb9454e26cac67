import { decodeFields } from '../log/payload-codec.js';
import { schemaFromJson, type EventDescriptor } from '../log/event-schema.js';
import { interruptPointNames } from '../machine/interrupts.js';
import type { MachineTraceDescription } from '../machine/machine.js';
import { Symbols, globRegExp } from '../machine/trace-events.js';
import { END_COUNTERS } from '../trace/trace-file.js';
import { TraceFileReader, type TraceSegment } from '../trace/trace-reader.js';
import { UsageError } from './exit-codes.js';
import { count, table } from './format.js';

/** Whether a trace file's first segment was written by the machine (`ringtrace run`). */
export function isMachineTrace(reader: TraceFileReader): boolean {
  const d = reader.segments[0]?.info.description as Partial<MachineTraceDescription> | null | undefined;
  return typeof d === 'object' && d !== null && d.producer === 'ringtrace machine';
}

export interface MachineReportOptions {
  readonly cpu?: number;
  /** Event names to keep (function, nmi_enter, nmi_exit, int3, fault). */
  readonly events?: string;
  /** Keep the events at sites whose names match these globs (function, int3, fault). */
  readonly filter?: string;
  readonly json?: boolean;
}

/** The context marks of ftrace's latency format: normal, IRQ, NMI. */
const MARK = ['.', 'h', 'N'];

/** Stops the read when the output's reader went away. */
class OutputClosed extends Error {}

/**
 * `ringtrace report` on a machine trace: one line per event, merged by timestamp across
 * CPUs (the trace reader's order), decoded with the schemas the file carries (the log
 * codec), names from its symbol table; LOST where the drain found losses. Writes through
 * `write`, which returns false once its reader has gone away (the read stops there).
 */
export function reportMachineTrace(reader: TraceFileReader, options: MachineReportOptions, write: (text: string) => boolean): void {
  const names = options.events === undefined ? null : new Set(options.events.split(',').map((s) => s.trim()));
  const known = ['function', 'nmi_enter', 'nmi_exit', 'int3', 'patch_phase', 'fault'];
  for (const n of names ?? []) if (!known.includes(n)) throw new UsageError(`--events: unknown event ${JSON.stringify(n)} (known: ${known.join(', ')})`);
  const filter = options.filter === undefined ? null : globRegExp(options.filter);
  const cpuWanted = options.cpu ?? -1;
  let schemas = new Map<number, EventDescriptor>();
  let symbols: Symbols | null = null;
  let timeOf = (ts: number): string => String(ts);
  const flags = { truncated: false };
  let out = '';
  const flush = (): void => {
    if (out.length > 0 && !write(out)) throw new OutputClosed();
    out = '';
  };
  const emit = (line: string): void => {
    out += line;
    out += '\n';
    if (out.length > 1 << 16) flush();
  };
  const cpuText = (cpu: number): string => `[${String(cpu).padStart(3, '0')}]`;
  try {
    reader.read({
      segment(segment: TraceSegment) {
        schemas = new Map();
        for (const [type, json] of segment.schemas) schemas.set(type, schemaFromJson(json));
        const d = segment.info.description as MachineTraceDescription;
        symbols = new Symbols(d.symbols);
        timeOf = segment.info.clock === 'counter' ? (ts) => String(ts) : (ts) => (ts / 1e9).toFixed(9);
      },
      event(v) {
        if (cpuWanted >= 0 && v.cpu !== cpuWanted) return;
        const d = schemas.get(v.type);
        const values = d === undefined ? null : decodeFields(d, v.u8, v.offset, v.length, flags);
        if (d === undefined || values === null) {
          emit(`${cpuText(v.cpu)}   ${timeOf(v.timestamp)}: CORRUPT event ${v.index} of type 0x${v.type.toString(16)} does not decode`);
          return;
        }
        if (names !== null && !names.has(d.name)) return;
        const site = values['site'] as number | undefined;
        const name = (s: number): string => symbols!.name(s);
        if (filter !== null && (site === undefined || !filter.test(name(site)))) return;
        const context = d.name === 'nmi_enter' || d.name === 'nmi_exit' ? 2 : ((values['context'] as number | undefined) ?? 0);
        let fields: string;
        switch (d.name) {
          case 'function': {
            const parent = values['parent'] as number;
            fields = parent >= 0 ? `${name(site!)} <- ${name(parent)}` : name(site!);
            break;
          }
          case 'nmi_enter':
          case 'nmi_exit':
            fields = `at ${interruptPointNames[values['point'] as number] ?? String(values['point'])}`;
            break;
          case 'patch_phase':
            fields = `op ${values['op'] as number}: ${values['what'] as string} (${count.format(values['sites'] as number)} sites)`;
            break;
          case 'int3':
            fields = `${name(site!)} ${values['handled'] === 1 ? 'handled' : 'NOT handled'}`;
            break;
          case 'fault':
            fields = `${name(site!)} bytes ${(values['bytes'] as number).toString(16).padStart(8, '0')} ${(values['byte4'] as number).toString(16).padStart(2, '0')}`;
            break;
          default:
            fields = Object.entries(values).map(([k, x]) => `${k}=${String(x)}`).join(' ');
        }
        if (options.json === true) {
          emit(JSON.stringify({ ts: v.timestamp, cpu: v.cpu, context: MARK[context] ?? '?', event: d.name, text: fields, fields: values }));
        } else {
          emit(`${cpuText(v.cpu)} ${MARK[context] ?? '?'} ${timeOf(v.timestamp)}: ${d.name}: ${fields}`);
        }
      },
      lost(l) {
        if (cpuWanted >= 0 && l.cpu !== cpuWanted) return;
        if (options.json === true) emit(JSON.stringify({ cpu: l.cpu, lost: l.count, cause: l.cause, beforeIndex: l.beforeIndex }));
        else emit(`${cpuText(l.cpu)} LOST ${l.count} events (${l.cause}) before #${l.beforeIndex}`);
      },
      corrupt(r) {
        if (cpuWanted >= 0 && r.cpu !== cpuWanted) return;
        emit(`${cpuText(r.cpu)} CORRUPT ${r.reason}`);
      },
    });
    flush();
  } catch (err) {
    if (!(err instanceof OutputClosed)) throw err;
  }
}

/** Per CPU, like `per_cpu/cpuN/stats`: the ring's counters from the end record, and what the file holds. */
export function machineTraceStats(reader: TraceFileReader): string {
  const segment = reader.segments[0];
  if (segment === undefined) throw new UsageError(`${reader.path} holds no trace segment`);
  const cpus = segment.info.cpus;
  const bytes = new Float64Array(cpus);
  const events = new Float64Array(cpus);
  const oldest = new Float64Array(cpus).fill(Infinity);
  const newest = new Float64Array(cpus).fill(-Infinity);
  reader.read({
    event(v) {
      if (v.cpu >= cpus) return;
      bytes[v.cpu]! += v.length;
      events[v.cpu]!++;
      if (v.timestamp < oldest[v.cpu]!) oldest[v.cpu] = v.timestamp;
      if (v.timestamp > newest[v.cpu]!) newest[v.cpu] = v.timestamp;
    },
  });
  const at = (name: (typeof END_COUNTERS)[number]): number => END_COUNTERS.indexOf(name);
  const ts = (x: number): string => (Number.isFinite(x) ? (segment.info.clock === 'counter' ? String(x) : (x / 1e9).toFixed(9)) : '-');
  const rows: string[][] = [['cpu', 'entries', 'overrun', 'dropped', 'read', 'in file', 'payload bytes', 'oldest', 'newest']];
  for (let cpu = 0; cpu < cpus; cpu++) {
    const c = segment.end?.[cpu];
    const n = (name: (typeof END_COUNTERS)[number]): string => (c === undefined ? '-' : count.format(c[at(name)] ?? 0));
    rows.push([`cpu${cpu}`, n('entries'), n('overrun'), n('dropped'), n('read'), count.format(events[cpu]!), count.format(bytes[cpu]!), ts(oldest[cpu]!), ts(newest[cpu]!)]);
  }
  const cut = segment.end === null ? '\n(the segment has no end record: the file was cut off; the counters are unknown)' : '';
  return `${table(rows)}${cut}\n`;
}
