import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError } from '../exit-codes.js';
import { integerIn } from '../parse.js';
import type { LogEntry } from '../../log/event-log.js';
import type { EventDescriptor } from '../../log/event-schema.js';
import type { ClockName } from '../../ring/layout.js';
import { loadDump, parseBinaryLog } from '../../log/sinks.js';
import { toChromeTrace } from '../../export/chrome-trace.js';
import { writeCtf } from '../../export/ctf.js';

interface ReportFlags {
  readonly json?: boolean;
  readonly chrome?: boolean;
  readonly ctf?: string;
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
  if (magic === 'RTLOG01\n') return parseBinaryLog(path);
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
    .description('Prints the events of a flight-recorder dump (writeDump) or a binary log (BinaryLogSink), with losses where they happened.')
    .argument('<file>', 'a .dump or binary log file')
    .option('--json', 'one JSON object per line instead of text')
    .option('--chrome', 'Chrome / Perfetto trace JSON (open in ui.perfetto.dev or chrome://tracing)')
    .option('--ctf <dir>', 'write a CTF 1.8 trace into the new or empty directory dir (babeltrace2, Trace Compass)')
    .option('--limit <n>', 'print at most the last n entries', integerIn(1, 1e9))
    .action((file: string, flags: ReportFlags) => {
      const read = readLogFile(file);
      let entries = read.entries;
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
      process.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
    });
}
