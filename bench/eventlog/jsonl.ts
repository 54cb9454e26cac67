import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFields, encode } from '../../src/log/payload-codec.js';
import { JsonLineFormat } from '../../src/log/json-lines.js';
import { loadDevDependency } from '../dev-deps.js';
import { BenchVerifyError } from '../ring/verify.js';
import type { SingleBench } from '../single.js';
import { Request, bytesOf, microsOf, pathOf, requestMismatch, requestValues, statusOf, workerOf } from './request.js';

/*
 * jsonl-format / jsonl-stringify: what turning one event of the ring into a JSON line costs
 * a consumer (a drain thread), and how long the line is.
 *
 *   payloads: 1024 Request events encoded once, as the ring holds them (u8, offset, length)
 *
 *   jsonl-format:     JsonLineFormat.writePayload(Request, u8, offset, length, slot, index, t, out, at)
 *                       decode (the schema's generated decoder) --> the shape's generated writer
 *                       --> UTF-8 bytes in a 1 MiB Buffer (the JsonLinesSink's), restarted when full
 *   jsonl-stringify:  decodeFields --> a LogEntry object --> JSON.stringify(entry, bigint replacer)
 *                       + '\n' --> Buffer.write into the same buffer (what JsonLinesSink did before)
 *
 * Timestamps are ns an hour into a log (3.6e12 + ...), with `time` from an epoch origin,
 * so the numbers are as long as a real log's. Checked after timing: a sample of lines
 * JSON.parse to the event's values; pino's line for the same fields is measured beside.
 */

const PAYLOADS = 1024;
const OUT_BYTES = 1 << 20;
/** An hour into a log, in ns: timestamps of a realistic length. */
const T_BASE = 3.6e12;
const EPOCH_MS_AT_ZERO = 1_764_000_000_000;

interface Payloads {
  readonly u8: Uint8Array;
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
}

function encodePayloads(): Payloads {
  const u8 = new Uint8Array(PAYLOADS * Request.maxBytes);
  const offsets = new Int32Array(PAYLOADS);
  const lengths = new Int32Array(PAYLOADS);
  let at = 0;
  for (let s = 0; s < PAYLOADS; s++) {
    offsets[s] = at;
    lengths[s] = encode(Request, requestValues(s), u8, at);
    at += lengths[s]!;
  }
  return { u8, offsets, lengths };
}

/** Bytes of pino's line (pino 10 defaults) for event `seq`'s fields, averaged over `n` events. */
async function pinoBytesPerEvent(n: number): Promise<number> {
  const { pino } = await loadDevDependency('pino', () => import('pino'));
  const dir = mkdtempSync(join(tmpdir(), 'ringtrace-bench-'));
  try {
    const file = join(dir, 'pino.log');
    const dest = pino.destination({ dest: file, sync: true });
    const logger = pino(dest);
    for (let s = 0; s < n; s++) logger.info({ status: statusOf(s), bytes: bytesOf(s), micros: microsOf(s), worker: workerOf(s), path: pathOf(s) });
    dest.flushSync();
    dest.end();
    return readFileSync(file).length / n;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function jsonlBench(kind: 'format' | 'stringify', pinoBytes: number): SingleBench {
  const p = encodePayloads();
  const out = Buffer.allocUnsafe(OUT_BYTES);
  const format = new JsonLineFormat({ epochMsAtZero: EPOCH_MS_AT_ZERO });
  const flags = { truncated: false };
  const replacer = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);
  let at = 0;
  let seq = 0;
  // Bytes written before the current buffer, and events formatted (typed memory: no boxing).
  const totals = new Float64Array(2);
  const one = (s: number): number => {
    const i = s & (PAYLOADS - 1);
    if (kind === 'format') return format.writePayload(Request, p.u8, p.offsets[i]!, p.lengths[i]!, 0, s, T_BASE + s * 250, out, at);
    const values = decodeFields(Request, p.u8, p.offsets[i]!, p.lengths[i]!, flags);
    if (values === null) return -2;
    const entry = { kind: 'event', name: Request.name, slot: 0, index: s, timestamp: T_BASE + s * 250, values, truncated: flags.truncated };
    const line = `${JSON.stringify(entry, replacer)}\n`;
    if (at + Buffer.byteLength(line) > out.length) return -1;
    return at + out.write(line, at);
  };
  return {
    eventsPerBatch: 1 << 12,
    batch(n) {
      const end = seq + n;
      for (let s = seq; s < end; s++) {
        let next = one(s);
        if (next === -1) {
          totals[0]! += at;
          at = 0;
          next = one(s);
        }
        if (next < 0) throw new Error(`event ${s} did not format (${next})`);
        at = next;
      }
      totals[1]! += n;
      seq = end;
    },
    verify() {
      const sample = [0, 1, 63, 64, PAYLOADS - 1, seq - 1];
      for (const s of sample) {
        at = 0;
        const end = one(s);
        const line = out.toString('utf8', 0, end);
        const o = JSON.parse(line) as Record<string, unknown>;
        const values = kind === 'format' ? o : (o['values'] as Record<string, unknown>);
        const problem = requestMismatch(s & (PAYLOADS - 1), values);
        if (problem !== '') throw new BenchVerifyError(`line ${line.trim()}: ${problem}`);
        if (kind === 'format' && (o['t'] !== T_BASE + s * 250 || o['time'] !== Math.floor(EPOCH_MS_AT_ZERO + (T_BASE + s * 250) / 1e6))) {
          throw new BenchVerifyError(`line ${line.trim()}: t or time is not the event's`);
        }
      }
      return `${totals[1]} events formatted; a sample of ${sample.length} lines JSON.parse to the events' values${kind === 'format' ? ', t and time' : ''}`;
    },
    figures: () => ({ bytesPerEvent: (totals[0]! + at) / totals[1]!, pinoBytesPerEvent: pinoBytes }),
    notes:
      kind === 'format'
        ? "JsonLineFormat.writePayload: decode + the shape's generated writer, straight into a 1 MiB Buffer (JsonLinesSink's path)"
        : 'decodeFields, a LogEntry object, JSON.stringify(entry, bigint replacer) + Buffer.write: the JsonLinesSink before JsonLineFormat',
  };
}

export async function jsonlFormatBench(): Promise<SingleBench> {
  return jsonlBench('format', await pinoBytesPerEvent(256));
}

export async function jsonlStringifyBench(): Promise<SingleBench> {
  return jsonlBench('stringify', await pinoBytesPerEvent(256));
}
