import type { LogEntry } from './event-log.js';
import { decodeFields } from './payload-codec.js';
import type { EventDescriptor } from './event-schema.js';

/**
 * Log entries as JSON lines: one entry per line, flat and compact, the way pino writes
 * (`JSON.parse` of a line gives the entry back; `jq .status` reads a field).
 *
 * ```
 * {"time":1764640000123,"t":5120034,"slot":0,"i":41,"event":"request","status":200,"path":"/items/42"}
 * {"time":1764640000124,"t":6003311,"slot":1,"i":7,"event":"request","status":500,"path":"/x","truncated":true}
 * {"slot":0,"lost":12,"cause":"dropped","before":42}
 * {"slot":-1,"corrupt":"event 9 (request) does not decode with its schema"}
 * ```
 *
 * An event line: `time` (epoch milliseconds, an integer as pino's; only when the format
 * knows the epoch of the log's timestamp 0, i.e. for the `hrtime` and `coarse` clocks),
 * `t` (the event's timestamp as the log's clock gave it: ns since the log's origin, or the
 * `counter` clock's ticket), `slot`, `i` (the per-slot index), `event` (the schema's
 * name), then the fields in declaration order, and `"truncated":true` when a string was cut.
 * A lost line says how many events a slot lost, why, and the index of the event after
 * them (`before`); a corrupt line says what was damaged.
 *
 * Values: integers and finite f64 as JSON numbers (`-0` stays `-0`, which JSON.parse
 * reads back as -0), NaN and ±Infinity as the strings `"NaN"`, `"Infinity"`,
 * `"-Infinity"` (JSON has no such numbers), u64 as a decimal string (beyond 2^53 a JSON
 * number loses digits in most readers), bools as JSON booleans, strings escaped exactly
 * as `JSON.stringify` escapes them (a lone surrogate as `\udXXX`, which JSON's grammar allows
 * but some parsers, jq 1.6 among them, reject; events read from the ring never hold one, as
 * the encoder writes U+FFFD for it). A field named like one of the line's own keys (`time`,
 * `t`, `slot`, `i`, `event`, `truncated`) is written with a `$` in front (`$t`), repeated
 * until the name is unique in the line.
 *
 * Each event name gets a writer generated for its fields (`new Function` over a source
 * made only of identifiers checked here and constants), as the codec's encoders are: the
 * line's UTF-8 bytes go straight into the caller's Buffer, every key an unrolled run of
 * byte stores, numbers digit by digit, no string built, no replacer. Values of another
 * shape than the one a writer was made for (a key more or less, a value of another JS
 * type) take the generic path, which builds the same line as a string.
 */

/** The keys an event line uses itself; fields so named get a `$` prefix. */
const LINE_KEYS: readonly string[] = ['time', 't', 'slot', 'i', 'event', 'truncated'];
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A number as a JSON value: JSON.stringify's text for finite ones (but `-0` kept), a string for the rest. */
export function jsonNumber(x: number): string {
  if (x === 0) return 1 / x < 0 ? '-0' : '0';
  if (x - x === 0) return '' + x;
  return x !== x ? '"NaN"' : x > 0 ? '"Infinity"' : '"-Infinity"';
}

/** Any field value as JSON (the generic path; the generated formatters inline the same rules per type). */
function jsonValue(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return jsonNumber(v);
    case 'bigint':
      return `"${v}"`;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return JSON.stringify(v);
    default:
      return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? 'null';
  }
}

/** Bytes a number can take in a line: `"-Infinity"`, or JS's longest number text (`-1.2345678901234567e-308`). */
const NUMBER_BYTES = 25;

/**
 * Writes `jsonNumber(x)` as bytes at `out[at]`, returns the end. Integers below 2^53 go
 * digit by digit (JS's own number-to-string is slow for doubles outside the small-integer
 * range, which every ns timestamp and epoch ms is); other numbers through `jsonNumber`.
 */
export function putNumber(out: Uint8Array, at: number, x: number): number {
  if (x === Math.floor(x) && x < 9007199254740992 && x > -9007199254740992 && (x !== 0 || 1 / x > 0)) {
    if (x < 0) {
      out[at++] = 45; // '-'
      x = -x;
    }
    if (x < 1e8) return putSmall(out, at, x);
    // Two halves of int32 range, so the digit loops divide integers (a multiply and a shift), not doubles.
    const high = Math.floor(x / 1e8);
    at = putSmall(out, at, high);
    let low = x - high * 1e8;
    for (let i = at + 7; i >= at; i--) {
      const q = (low / 10) | 0;
      out[i] = 48 + low - q * 10;
      low = q;
    }
    return at + 8;
  }
  const end = putShortDecimal(out, at, x);
  return end >= 0 ? end : putAscii(out, at, jsonNumber(x));
}

const POWERS_OF_TEN = [1, 10, 100, 1000, 1e4, 1e5, 1e6];

/**
 * A number of at most 6 decimals that JS would print as such (durations, ratios, the
 * common case of an f64 field), written without JS's number-to-string: the fewest
 * decimals k whose integer `m = round(|x| * 10^k)` gives back exactly x as `m / 10^k`.
 * That decimal round-trips, and no shorter one does (k is the least), which is JS's rule
 * for the text of a number (ECMA-262 Number::toString: the fewest digits that round-trip);
 * a trailing zero means the float product missed a shorter k, so that case, like every
 * number outside 1e-6 ≤ |x| < 1e9, is left to `jsonNumber` (-1).
 */
function putShortDecimal(out: Uint8Array, at: number, x: number): number {
  const ax = x < 0 ? -x : x;
  if (!(ax >= 1e-6 && ax < 1e9)) return -1;
  for (let k = 1; k <= 6; k++) {
    const scale = POWERS_OF_TEN[k]!;
    const m = Math.round(ax * scale);
    if (m / scale !== ax) continue;
    if (m % 10 === 0) return -1;
    if (x < 0) out[at++] = 45; // '-'
    const whole = Math.floor(m / scale);
    at = putSmall(out, at, whole);
    out[at++] = 46; // '.'
    let frac = m - whole * scale;
    for (let i = at + k - 1; i >= at; i--) {
      const q = (frac / 10) | 0;
      out[i] = 48 + frac - q * 10;
      frac = q;
    }
    return at + k;
  }
  return -1;
}

/** Writes the digits of an integer 0 <= x < 2^31 at `out[at]`, returns the end. */
function putSmall(out: Uint8Array, at: number, x: number): number {
  let n = x | 0;
  let digits = 1;
  for (let p = 10; p <= n && digits < 10; p *= 10) digits++;
  const end = at + digits;
  for (let i = end - 1; i >= at; i--) {
    const q = (n / 10) | 0;
    out[i] = 48 + n - q * 10;
    n = q;
  }
  return end;
}

/** Writes a string known to be ASCII (a number's text, a key) at `out[at]`, returns the end. */
function putAscii(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
  return at;
}

/**
 * Writes `JSON.stringify(s)` as UTF-8 at `out[at]`, returns the end. ASCII strings are
 * escaped here byte by byte; any other goes through JSON.stringify and Buffer's UTF-8
 * writer. `out` must have room for `6 * s.length + 2` bytes (the worst case: every
 * character a `\u00XX` escape).
 */
export function putString(out: Buffer, at: number, s: string): number {
  const start = at;
  out[at++] = 34; // '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Printable ASCII but '"' and '\\' stands for itself; anything else: JSON.stringify's rules.
    if (c < 0x20 || c >= 0x80 || c === 34 || c === 92) return start + out.write(JSON.stringify(s), start, 'utf8');
    out[at++] = c;
  }
  out[at++] = 34;
  return at;
}

/** The keys the fields take in a line, in order: each field name, `$`-prefixed while it collides. */
export function lineKeys(fieldNames: readonly string[]): string[] {
  const used = new Set(LINE_KEYS);
  return fieldNames.map((name) => {
    let key = name;
    while (used.has(key)) key = `$${key}`;
    used.add(key);
    return key;
  });
}

/**
 * Writes one event's line at `out[at]`: the end, -1 when `out` has no room left for it,
 * -2 when the values are not of the shape the writer was made for.
 */
type ShapeWriter = (out: Buffer, at: number, v: Readonly<Record<string, unknown>>, truncated: boolean, t: number, slot: number, index: number) => number;

/** One event name's line: its name as JSON, and the writer generated for its values' shape. */
interface Shape {
  readonly nameJson: string;
  readonly write: ShapeWriter;
}

/** The keys and JS types of a set of values, or null for a shape no generated writer handles (a non-identifier key, another type). */
function shapeOf(values: Readonly<Record<string, unknown>>): { keys: string[]; types: string[] } | null {
  const keys = Object.keys(values);
  const types: string[] = [];
  for (const k of keys) {
    const t = typeof values[k];
    if (!IDENTIFIER.test(k) || (t !== 'number' && t !== 'bigint' && t !== 'boolean' && t !== 'string')) return null;
    types.push(t);
  }
  return { keys, types };
}

/** Source that stores the bytes of an ASCII constant one by one (keys are short: unrolled stores beat a copy loop). */
function storeAscii(text: string): string {
  return [...text].map((ch) => `out[at++] = ${ch.charCodeAt(0)};`).join(' ');
}

/** `,"truncated":true}` then the newline, or `}` then the newline. */
const END_TRUNCATED = ',"truncated":true}\n';
const END = '}\n';

/** Bytes of a line's head without the name, at most: `{"time":N,"t":N,"slot":N,"i":N,"event":`. */
const HEAD_BYTES = 9 + 5 + 8 + 5 + 9 + 4 * NUMBER_BYTES;

/**
 * Generates the writer of one shape: a guard (the same keys, each of the same JS type),
 * a room check (a bound from the key lengths, `NUMBER_BYTES` per number, 6 bytes per
 * character of each string), then the head and each key as unrolled byte stores and each
 * value by `putNumber` / `putString` / a literal. Keys are identifiers (checked), types one
 * of four words, the name is stored as its UTF-8 byte values, every other token a number
 * computed here: no text from the values reaches the source.
 */
function compileShape(keys: readonly string[], types: readonly string[], nameJson: string, epochMsAtZero: number | null): ShapeWriter {
  const out = lineKeys(keys);
  const guard = keys.map((k, i) => `typeof v.${k} !== '${types[i]}'`);
  const name = Buffer.from(nameJson, 'utf8');
  let fixed = HEAD_BYTES + name.length + END_TRUNCATED.length;
  const strings: string[] = [];
  const body = keys.map((k, i) => {
    const key = `,"${out[i]}":`;
    fixed += key.length;
    switch (types[i]) {
      case 'number':
        fixed += NUMBER_BYTES;
        return `${storeAscii(key)}\n  at = putNumber(out, at, v.${k});`;
      case 'bigint':
        fixed += 22; // a u64 has at most 20 digits, and its quotes
        return `${storeAscii(key)}\n  out[at++] = 34; at = putAscii(out, at, '' + v.${k}); out[at++] = 34;`;
      case 'boolean':
        fixed += 5;
        return `${storeAscii(key)}\n  if (v.${k}) { ${storeAscii('true')} } else { ${storeAscii('false')} }`;
      default:
        fixed += 2;
        strings.push(`6 * v.${k}.length`);
        return `${storeAscii(key)}\n  at = putString(out, at, v.${k});`;
    }
  });
  const source = [
    "'use strict';",
    'return function write(out, at, v, truncated, t, slot, index) {',
    `  if (${[...guard, 'false'].join(' || ')}) return -2;`,
    '  let n = 0;',
    '  for (const _ in v) n++;',
    `  if (n !== ${keys.length}) return -2;`,
    `  if (at + ${[fixed, ...strings].join(' + ')} > out.length) return -1;`,
    epochMsAtZero === null
      ? `  ${storeAscii('{"t":')}`
      : `  ${storeAscii('{"time":')}\n  at = putNumber(out, at, Math.floor(epoch + t / 1e6));\n  ${storeAscii(',"t":')}`,
    '  at = putNumber(out, at, t);',
    `  ${storeAscii(',"slot":')}`,
    '  at = putNumber(out, at, slot);',
    `  ${storeAscii(',"i":')}`,
    '  at = putNumber(out, at, index);',
    `  ${storeAscii(',"event":')}`,
    `  ${[...name].map((b) => `out[at++] = ${b};`).join(' ')}`,
    `  ${body.join('\n  ')}`,
    `  if (truncated) { ${storeAscii(END_TRUNCATED)} } else { ${storeAscii(END)} }`,
    '  return at;',
    '};',
  ].join('\n');
  const make = new Function('putNumber', 'putString', 'putAscii', 'epoch', source);
  return make(putNumber, putString, putAscii, epochMsAtZero ?? 0) as ShapeWriter;
}

/** The generic path: a whole line as a string (any keys, any values), the same text the generated writers write. */
function genericLine(nameJson: string, epochMsAtZero: number | null, t: number, slot: number, index: number, values: Readonly<Record<string, unknown>>, truncated: boolean): string {
  const names = Object.keys(values);
  const keys = lineKeys(names);
  let s = epochMsAtZero === null ? '{' : `{"time":${jsonNumber(Math.floor(epochMsAtZero + t / 1e6))},`;
  s += `"t":${jsonNumber(t)},"slot":${jsonNumber(slot)},"i":${jsonNumber(index)},"event":${nameJson}`;
  for (let i = 0; i < names.length; i++) s += `,${JSON.stringify(keys[i])}:${jsonValue(values[names[i]!])}`;
  return s + (truncated ? END_TRUNCATED : END);
}

export interface JsonLineFormatOptions {
  /**
   * Epoch milliseconds of the log's timestamp 0 (`log.epochMs(0)`): with it, event lines
   * carry `time`. Leave it out for a `counter` clock, whose timestamps are not times.
   */
  readonly epochMsAtZero?: number;
}

const FORMAT_OPTIONS: readonly string[] = ['epochMsAtZero'];

/**
 * Turns log entries into JSON lines (each ends with `\n`), written as UTF-8 into a
 * caller's Buffer (`write`) or returned as a string (`line`). Keeps one generated writer
 * per event name: use one format per log (names are unique within a log).
 *
 * A consumer that reads the ring itself (a drain thread) calls `writePayload` with an
 * `EventView`'s bounds: the payload is decoded and written in one call.
 */
export class JsonLineFormat {
  private readonly epochMsAtZero: number | null;
  private readonly shapes = new Map<string, Shape>();
  private readonly decodeFlags = { truncated: false };
  /** Scratch for `line`. */
  private scratch = Buffer.alloc(4096);

  constructor(options: JsonLineFormatOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('JsonLineFormat options must be an object');
    for (const key of Object.keys(options)) {
      if (!FORMAT_OPTIONS.includes(key)) throw new TypeError(`unknown JsonLineFormat option ${JSON.stringify(key)} (options are ${FORMAT_OPTIONS.join(', ')})`);
    }
    const epoch = options.epochMsAtZero;
    if (epoch !== undefined && typeof epoch !== 'number') throw new TypeError(`options.epochMsAtZero must be a number (got ${typeof epoch})`);
    if (epoch !== undefined && !Number.isFinite(epoch)) throw new RangeError(`options.epochMsAtZero must be a finite number (got ${epoch})`);
    this.epochMsAtZero = epoch ?? null;
  }

  /** One entry as a line (a string; `write` is the fast path). */
  line(entry: LogEntry): string {
    for (;;) {
      const end = this.write(entry, this.scratch, 0);
      if (end >= 0) return this.scratch.toString('utf8', 0, end);
      this.scratch = Buffer.alloc(this.scratch.length * 4);
    }
  }

  /**
   * Writes one entry's line as UTF-8 at `out[at]` and returns where it ends, or -1 when
   * `out` has no room for it from `at` (what was written past `at` is garbage then: flush
   * up to `at` and call again; a line longer than all of `out` takes `line`).
   */
  write(entry: LogEntry, out: Buffer, at: number): number {
    if (entry.kind === 'event') return this.writeEvent(entry.name, entry.slot, entry.index, entry.timestamp, entry.values, entry.truncated, out, at);
    const text =
      entry.kind === 'lost'
        ? `{"slot":${jsonNumber(entry.slot)},"lost":${jsonNumber(entry.count)},"cause":${JSON.stringify(entry.cause)},"before":${jsonNumber(entry.beforeIndex)}}\n`
        : `{"slot":${jsonNumber(entry.slot)},"corrupt":${JSON.stringify(entry.reason)}}\n`;
    return putText(out, at, text);
  }

  /**
   * Decodes the payload at `u8[offset .. offset + length)` (an `EventView`'s bounds) with
   * `descriptor` and writes the event's line at `out[at]`: the end, -1 when `out` has no
   * room (flush and call again), or -2 when the bytes do not decode with the schema (the
   * caller reports the event corrupt, as `EventLog.drain` does).
   */
  writePayload(descriptor: EventDescriptor, u8: Uint8Array, offset: number, length: number, slot: number, index: number, timestamp: number, out: Buffer, at: number): number {
    const values = decodeFields(descriptor, u8, offset, length, this.decodeFlags);
    if (values === null) return -2;
    return this.writeEvent(descriptor.name, slot, index, timestamp, values, this.decodeFlags.truncated, out, at);
  }

  private writeEvent(name: string, slot: number, index: number, timestamp: number, values: Readonly<Record<string, unknown>>, truncated: boolean, out: Buffer, at: number): number {
    let shape = this.shapes.get(name);
    if (shape === undefined) {
      const found = shapeOf(values);
      const nameJson = JSON.stringify(name);
      shape = { nameJson, write: found === null ? () => -2 : compileShape(found.keys, found.types, nameJson, this.epochMsAtZero) };
      this.shapes.set(name, shape);
    }
    const end = shape.write(out, at, values, truncated, timestamp, slot, index);
    if (end !== -2) return end;
    return putText(out, at, genericLine(shape.nameJson, this.epochMsAtZero, timestamp, slot, index, values, truncated));
  }
}

/** Writes `text` as UTF-8 at `out[at]` if it fits: the end, or -1. */
function putText(out: Buffer, at: number, text: string): number {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (at + bytes > out.length) return -1;
  return at + out.write(text, at, 'utf8');
}
