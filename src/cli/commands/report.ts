import type { Command } from 'commander';
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { TRACE_MAGIC } from '../../trace/trace-file.js';
import { TraceFileReader } from '../../trace/trace-reader.js';
import { writePerfetto } from '../../export/perfetto.js';
import { isMachineTrace, machineTraceStats, reportMachineTrace } from '../machine-trace.js';
import { UsageError } from '../exit-codes.js';
import { integerIn } from '../parse.js';
import type { LogEntry } from '../../log/event-log.js';
import type { EventDescriptor } from '../../log/event-schema.js';
import type { ClockName } from '../../ring/layout.js';
import { loadDump, parseBinaryLog } from '../../log/sinks.js';
import { toChromeTrace } from '../../export/chrome-trace.js';
import { writeCtf } from '../../export/ctf.js';

interface ReportFlags {
  readonly cpu?: number;
  readonly events?: string;
  readonly filter?: string;
  readonly stats?: boolean;
  readonly json?: boolean;
  readonly chrome?: boolean;
  readonly ctf?: string;
  readonly perfetto?: string;
  readonly limit?: number;
}

/**
 * Reads a dump (writeDump, the flight recorder) or a binary log (BinaryLogSink) into
 * entries, with their schemas and, where the file records it, the clock of their timestamps.
 */
export function readLogFile(path: string): { entries: LogEntry[]; schemas: readonly EventDescriptor[]; clock?: ClockName } {
  let magic: string;
  try {
    magic = readFileSync(path).subarray(0, 8).toString('latin1');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (magic === 'RTLOG01\n' || magic === TRACE_MAGIC) return parseBinaryLog(path);
  if (magic === 'RTDUMP01') {
    const entries: LogEntry[] = [];
    const log = loadDump(path);
    log.drain((e) => entries.push(e));
    return { entries, schemas: log.registry.all(), clock: log.ring.config.clock };
  }
  throw new UsageError(`${path} is neither a ringtrace dump nor a binary log`);
}

const text = (v: unknown): string => (typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? JSON.stringify(v) : String(v));

/** `ringtrace report FILE`: the events of a dump or a binary log, merged by timestamp. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('Prints the events of a machine trace (ringtrace run), a flight-recorder dump (writeDump) or a binary log, merged by timestamp, with losses where they happened.')
    .argument('<file>', 'a ringtrace.dat, .dump or binary log file')
    .option('--cpu <n>', 'only this CPU (slot)', integerIn(0, 65535))
    .option('--events <names>', 'only these events (comma-separated names, e.g. function,nmi_enter)')
    .option('--filter <globs>', 'machine traces: only the events at functions whose names match (comma-separated globs, e.g. sched_*,vfs_*)')
    .option('--stats', 'machine traces: per CPU entries, overrun, dropped, read, bytes, oldest and newest timestamp')
    .option('--json', 'one JSON object per line instead of text')
    .option('--chrome', 'Chrome / Perfetto trace JSON (open in ui.perfetto.dev or chrome://tracing)')
    .option('--ctf <dir>', 'write a CTF 1.8 trace into the new or empty directory dir (babeltrace2, Trace Compass)')
    .option('--perfetto <out>', 'trace files (ringtrace run, a drain thread\'s binary log): write Perfetto\'s native protobuf trace to out (ui.perfetto.dev), streamed')
    .option('--limit <n>', 'print at most the last n entries', integerIn(1, 1e9))
    .action((file: string, flags: ReportFlags) => {
      // `report f | head`: the reader of the output went away; stop quietly.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
      });
      const trace = openTrace(file);
      if (flags.perfetto !== undefined) {
        if (trace === null) throw new UsageError('--perfetto reads trace files (ringtrace run, a drain thread\'s binary log); this file is a dump or an older binary log: use --chrome');
        const stats = writePerfetto(file, flags.perfetto);
        process.stdout.write(`wrote ${flags.perfetto} (${stats.bytes} bytes, ${stats.events} events): open it in ui.perfetto.dev\n`);
        return;
      }
      if (trace !== null && isMachineTrace(trace)) {
        if (flags.chrome === true || flags.ctf !== undefined || flags.limit !== undefined) throw new UsageError('--chrome, --ctf and --limit read EventLog files; a machine trace takes --cpu, --events, --filter, --stats, --json');
        if (flags.stats === true) {
          writeOut(machineTraceStats(trace));
          return;
        }
        const options = { ...(flags.cpu === undefined ? {} : { cpu: flags.cpu }), ...(flags.events === undefined ? {} : { events: flags.events }), ...(flags.filter === undefined ? {} : { filter: flags.filter }), json: flags.json === true };
        reportMachineTrace(trace, options, writeOut);
        return;
      }
      if (flags.filter !== undefined || flags.stats === true) throw new UsageError('--filter and --stats read machine traces (ringtrace run); this file is an EventLog file');
      const read = readLogFile(file);
      const wanted = flags.events === undefined ? null : new Set(flags.events.split(',').map((n) => n.trim()));
      let entries = read.entries.filter((e) => (flags.cpu === undefined || e.slot === flags.cpu) && (wanted === null || e.kind !== 'event' || wanted.has(e.name)));
      // Damage is reported, not fatal: the CORRUPT entries say what and where; stderr says how many.
      const damaged = entries.filter((e) => e.kind === 'corrupt').length;
      if (damaged > 0) process.stderr.write(`report: ${file}: ${damaged} damaged record${damaged === 1 ? '' : 's'} reported as CORRUPT and skipped\n`);
      if (flags.limit !== undefined) entries = entries.slice(-flags.limit);
      if (flags.ctf !== undefined) {
        if (flags.chrome === true || flags.json === true) throw new UsageError('--ctf writes a directory; it does not combine with --chrome or --json');
        const trace = writeCtf(flags.ctf, entries, read.schemas);
        const streams = trace.files.length - 1;
        process.stdout.write(`wrote a CTF trace of ${trace.events} entries in ${trace.packets} packet${trace.packets === 1 ? '' : 's'} and ${streams} stream${streams === 1 ? '' : 's'} to ${flags.ctf}: babeltrace2 ${flags.ctf}\n`);
        return;
      }
      if (flags.chrome === true) {
        process.stdout.write(`${JSON.stringify(toChromeTrace(entries, read.clock === undefined ? {} : { clock: read.clock }))}\n`);
        return;
      }
      const lines = entries.map((e) => {
        if (flags.json === true) return JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
        if (e.kind === 'event') {
          const fields = Object.entries(e.values).map(([k, v]) => `${k}=${text(v)}`).join(' ');
          return `${String(e.timestamp).padStart(16)}  slot ${e.slot}  #${e.index}  ${e.name}  ${fields}${e.truncated ? '  (truncated)' : ''}`;
        }
        if (e.kind === 'lost') return `${''.padStart(16)}  slot ${e.slot}  LOST ${e.count} (${e.cause}) before #${e.beforeIndex}`;
        return `${''.padStart(16)}  slot ${e.slot}  CORRUPT ${e.reason}`;
      });
      if (lines.length > 0) writeOut(`${lines.join('\n')}\n`);
    });
}

/** The file as a trace file, or null if it is another kind; a UsageError if it cannot be read. */
function openTrace(path: string): TraceFileReader | null {
  let head: Buffer;
  try {
    const fd = openSync(path, 'r');
    head = Buffer.alloc(TRACE_MAGIC.length);
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return TraceFileReader.is(head) ? TraceFileReader.open(path) : null;
}

/**
 * Writes to stdout synchronously; false once the reader of the output has gone away (EPIPE),
 * so a long report stops there (`ringtrace report f | head`).
 */
function writeOut(text: string): boolean {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; ) {
    try {
      at += writeSync(1, bytes, at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return false;
      if (code !== 'EAGAIN') throw err;
    }
  }
  return true;
}
