import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog, type LogEntry } from '../../src/log/event-log.js';
import { defineEvent } from '../../src/log/event-schema.js';
import { JsonLineFormat, jsonNumber, lineKeys, putNumber } from '../../src/log/json-lines.js';

/**
 * JSON lines are read back with JSON.parse (the platform's parser, not ours): every line
 * must parse to the entry it was written from, with the documented mapping of the values
 * JSON cannot carry (bigint and NaN / ±Infinity as strings; -0 kept).
 */

/** What JSON.parse must give for a field value. */
function expected(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

function expectedLine(entry: Extract<LogEntry, { kind: 'event' }>, epochMsAtZero: number | null): Record<string, unknown> {
  const names = Object.keys(entry.values);
  const keys = lineKeys(names);
  const out: Record<string, unknown> = {};
  if (epochMsAtZero !== null) out['time'] = expected(Math.floor(epochMsAtZero + entry.timestamp / 1e6));
  Object.assign(out, { t: expected(entry.timestamp), slot: entry.slot, i: entry.index, event: entry.name });
  names.forEach((n, k) => (out[keys[k]!] = expected(entry.values[n])));
  if (entry.truncated) out['truncated'] = true;
  return out;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Any UTF-16 string: unicode, control characters, lone surrogates, quotes and backslashes. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\u2028', '\ud800', '\udc00', 'é', '😀', 'a'), maxLength: 20 }),
);
/** Numbers with few decimals (durations, ratios), which putNumber writes without JS's number-to-string. */
const shortDecimal = fc.tuple(fc.integer({ min: -(10 ** 15), max: 10 ** 15 }), fc.integer({ min: 0, max: 8 })).map(([m, k]) => m / 10 ** k);
const anyNumber = fc.oneof(
  fc.double(),
  shortDecimal,
  fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 2 ** 53 - 1, 1e21, 5e-324, 0.1, 1.375, 1e-6, 1e-7, 999999999.999999, 1e9, 0.3, -0.000001),
  fc.integer(),
);

describe('JsonLineFormat', () => {
  it('writes lines that JSON.parse reads back as the entry, for arbitrary values of every JS type', () => {
    const written: string[] = [];
    fc.assert(
      fc.property(
        fc.record({ a: anyNumber, big: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), ok: fc.boolean(), s: anyString, u: fc.integer({ min: 0, max: 0xffffffff }) }),
        fc.record({ t: anyNumber, slot: fc.integer({ min: 0, max: 1000 }), index: fc.nat(), truncated: fc.boolean() }),
        fc.option(fc.integer({ min: 0, max: 2e12 }), { nil: null }),
        (values, at, epoch) => {
          const entry = { kind: 'event' as const, name: 'tick "x"', slot: at.slot, index: at.index, timestamp: at.t, values, truncated: at.truncated };
          const format = new JsonLineFormat(epoch === null ? {} : { epochMsAtZero: epoch });
          const line = format.line(entry);
          if (!LONE_SURROGATE.test(values.s)) written.push(line);
          expect(line.endsWith('\n')).toBe(true);
          expect(line.indexOf('\n')).toBe(line.length - 1);
          const want = expectedLine(entry, epoch);
          expect(JSON.parse(line)).toEqual(want);
          // Strings exactly as JSON.stringify writes them.
          expect(line).toContain(`"s":${JSON.stringify(values.s)}`);
          // The generic path (values of another shape than the writer was made for) writes the same bytes.
          const primed = new JsonLineFormat(epoch === null ? {} : { epochMsAtZero: epoch });
          primed.line({ ...entry, values: { other: 'shape' } });
          expect(primed.line(entry)).toBe(line);
        },
      ),
      { numRuns: 500 },
    );
    // A parser we did not write reads every one of those lines: jq (Debian's), field by field.
    // Lines whose string holds a lone surrogate are left out: JSON.stringify escapes it as
    // \udXXX, which JSON's grammar allows but jq 1.6 rejects; the ring never holds one (its
    // encoder writes U+FFFD for it), so only entries made by hand can carry one.
    expect(written.length).toBeGreaterThan(100);
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-jsonl-'));
    try {
      const file = join(dir, 'lines.jsonl');
      writeFileSync(file, written.join(''));
      const out = execFileSync('jq', ['-c', '[.event, .slot, (.s | type), (.big | type)]'], { input: readFileSync(file), encoding: 'utf8' }).trim().split('\n');
      expect(out).toHaveLength(written.length);
      expect(out.every((l) => /^\["tick \\"x\\"",\d+,"string","string"\]$/.test(l))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes numbers as JSON.stringify does, but -0 kept and NaN / ±Infinity as strings', () => {
    fc.assert(
      fc.property(anyNumber, (x) => {
        const text = jsonNumber(x);
        if (Number.isFinite(x) && !Object.is(x, -0)) expect(text).toBe(JSON.stringify(x));
        expect(Object.is(JSON.parse(text), Number.isFinite(x) ? x : String(x))).toBe(true);
        // The byte writer's fast paths (integers, short decimals) write exactly jsonNumber's text.
        const out = Buffer.alloc(32);
        expect(out.toString('latin1', 0, putNumber(out, 0, x))).toBe(text);
      }),
      { numRuns: 20_000 },
    );
    const line = new JsonLineFormat().line({ kind: 'event', name: 'n', slot: 0, index: 0, timestamp: 0, values: { z: -0, n: NaN, p: Infinity, m: -Infinity }, truncated: false });
    expect(line).toBe('{"t":0,"slot":0,"i":0,"event":"n","z":-0,"n":"NaN","p":"Infinity","m":"-Infinity"}\n');
  });

  it('formats events straight from the ring, every field type, as the decoded entries', async () => {
    const All = defineEvent('all', { a8: 'u8', a16: 'u16', a32: 'u32', s32: 'i32', d: 'f64', big: 'u64', flag: 'bool', path: 'string' }, { maxStringBytes: 16 });
    const log = EventLog.create({ slots: 1, pagesPerSlot: 8, pageBytes: 4096, mode: 'discard' });
    try {
      const w = log.writer();
      const values = [
        { a8: 255, a16: 65535, a32: 4294967295, s32: -2147483648, d: -0, big: 2n ** 64n - 1n, flag: true, path: 'é"\\\n\u0001😀' },
        { a8: 0, a16: 0, a32: 0, s32: 0, d: NaN, big: 0n, flag: false, path: '' },
        { a8: 1, a16: 2, a32: 3, s32: -4, d: 1.375e-300, big: 9007199254740993n, flag: true, path: 'a much longer path than sixteen bytes' },
      ];
      for (const v of values) expect(w.emit(All, v)).toBe(true);
      const epoch = log.epochMs(0);
      const format = new JsonLineFormat({ epochMsAtZero: epoch });
      const fromRing: string[] = [];
      const out = Buffer.alloc(1 << 16);
      log.ring.reader().drain({
        event: (e) => {
          const end = format.writePayload(All, e.u8, e.offset, e.length, e.cpu, e.index, e.timestamp, out, 0);
          expect(end).toBeGreaterThan(0);
          fromRing.push(out.toString('utf8', 0, end));
        },
      });
      expect(fromRing).toHaveLength(3);
      const parsed = fromRing.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(parsed[0]).toMatchObject({ a8: 255, a16: 65535, a32: 4294967295, s32: -2147483648, big: '18446744073709551615', flag: true, path: 'é"\\\n\u0001😀', event: 'all', slot: 0, i: 0 });
      expect(Object.is(parsed[0]!['d'], -0)).toBe(true);
      expect(parsed[1]).toMatchObject({ d: 'NaN', path: '', flag: false });
      expect(parsed[2]).toMatchObject({ big: '9007199254740993', d: 1.375e-300, truncated: true });
      for (const p of parsed) {
        expect(p['time']).toBe(Math.floor(epoch + (p['t'] as number) / 1e6));
        expect(Object.keys(p).slice(0, 5)).toEqual(['time', 't', 'slot', 'i', 'event']);
      }
      // A payload that does not decode: -2, for the caller to report as corrupt.
      expect(format.writePayload(All, new Uint8Array(8), 0, 3, 0, 0, 0, out, 0)).toBe(-2);
    } finally {
      await log.close();
    }
  });

  it('renames fields named like the line keys, writes lost and corrupt entries, and reports a full buffer', () => {
    expect(lineKeys(['t', '$t', 'event', 'x', 'time', 'slot', 'i'])).toEqual(['$t', '$$t', '$event', 'x', '$time', '$slot', '$i']);
    const format = new JsonLineFormat();
    const line = format.line({ kind: 'event', name: 'e', slot: 1, index: 2, timestamp: 3, values: { t: 1, $t: 2, event: 'x' }, truncated: false });
    expect(JSON.parse(line)).toEqual({ t: 3, slot: 1, i: 2, event: 'e', $t: 1, $$t: 2, $event: 'x' });
    expect(format.line({ kind: 'lost', slot: 2, count: 12, cause: 'dropped', beforeIndex: 42 })).toBe('{"slot":2,"lost":12,"cause":"dropped","before":42}\n');
    expect(JSON.parse(format.line({ kind: 'corrupt', slot: -1, reason: 'bad "page"\n' }))).toEqual({ slot: -1, corrupt: 'bad "page"\n' });
    const entry = { kind: 'event' as const, name: 'e', slot: 0, index: 0, timestamp: 0, values: { s: 'x'.repeat(100) }, truncated: false };
    const small = Buffer.alloc(64);
    expect(format.write(entry, small, 0)).toBe(-1);
    expect(format.write({ kind: 'lost', slot: 0, count: 1, cause: 'overrun', beforeIndex: 1 }, small, 40)).toBe(-1);
    const big = Buffer.alloc(1024);
    const end = format.write(entry, big, 10);
    expect(big.toString('utf8', 10, end)).toBe(format.line(entry));
  });

  it('rejects unknown and bad options', () => {
    expect(() => new JsonLineFormat({ epoch: 1 } as never)).toThrow(/unknown JsonLineFormat option "epoch" \(options are epochMsAtZero\)/);
    expect(() => new JsonLineFormat({ epochMsAtZero: NaN })).toThrow(RangeError);
    expect(() => new JsonLineFormat({ epochMsAtZero: '1' as never })).toThrow(TypeError);
  });
});
