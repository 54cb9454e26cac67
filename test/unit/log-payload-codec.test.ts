import { describe, expect, expectTypeOf, it } from 'vitest';
import { bytesPerIteration, scavengesDuring } from '../gc.js';
import { RingBuffer } from '../../src/index.js';
import {
  FLAG_TRUNCATED,
  assertFits,
  defineEvent,
  schemaFromJson,
  schemaToJson,
  type EventDescriptor,
  type EventValues,
  type FieldSpec,
} from '../../src/log/event-schema.js';
import {
  EncodeFailure,
  createRecord,
  decode,
  NO_BUDGET,
  compiledEncoder,
  encode,
  encodedLength,
  utf8Fit,
  type DecodedEvent,
} from '../../src/log/payload-codec.js';
import { prng, testSeed } from '../seed.js';

/** The hot path as the EventLog's writer drives it: the compiled encoder's length, then its write. */
function recordLength(d: EventDescriptor, record: object): number {
  return compiledEncoder(d).length(record, NO_BUDGET);
}
let viewOf: { u8: Uint8Array | null; view: DataView | null } = { u8: null, view: null };
function encodeRecord(d: EventDescriptor, record: object, u8: Uint8Array, offset: number): number {
  // The writer keeps its DataView; so does this helper (the allocation test runs through it).
  if (viewOf.u8 !== u8) viewOf = { u8, view: new DataView(u8.buffer, u8.byteOffset, u8.byteLength) };
  return compiledEncoder(d).write(record, viewOf.view!, u8, offset, NO_BUDGET);
}

const all = defineEvent('all', {
  a8: 'u8',
  a16: 'u16',
  a32: 'u32',
  s32: 'i32',
  d: 'f64',
  big: 'u64',
  flag: 'bool',
  text: 'string',
  more: 'string',
}, { maxStringBytes: 64 });

/** Encodes into a fresh buffer at an offset with guard bytes around it, decodes, checks the guards. */
function roundTrip<F extends FieldSpec>(d: EventDescriptor<F>, values: EventValues<F>): DecodedEvent<F> | null {
  const u8 = new Uint8Array(8 + d.maxBytes + 16).fill(0xa5);
  const length = encodedLength(d, values);
  expect(encode(d, values, u8, 8)).toBe(length);
  for (let i = 0; i < 8; i++) expect(u8[i]).toBe(0xa5);
  for (let i = 8 + length; i < u8.length; i++) expect(u8[i]).toBe(0xa5);
  return decode(d, u8, 8, length);
}

describe('event schema', () => {
  it('types the values from the field types', () => {
    const req = defineEvent('req', { status: 'u16', path: 'string', id: 'u64', ok: 'bool' });
    const r = createRecord(req);
    expectTypeOf(r.status).toEqualTypeOf<number>();
    expectTypeOf(r.path).toEqualTypeOf<string>();
    expectTypeOf(r.id).toEqualTypeOf<bigint>();
    expectTypeOf(r.ok).toEqualTypeOf<boolean>();
    const u8 = new Uint8Array(req.maxBytes);
    const length = encode(req, { status: 200, path: '/', id: 1n, ok: true }, u8, 0);
    const got = decode(req, u8, 0, length);
    expectTypeOf(got).toEqualTypeOf<({ status: number; path: string; id: bigint; ok: boolean } & { truncated: boolean }) | null>();
    // @ts-expect-error a string where a u16 goes
    expect(() => encode(req, { status: '200', path: '/', id: 1n, ok: true }, u8, 0)).toThrow(TypeError);
    // @ts-expect-error path is missing
    expect(() => encode(req, { status: 200, id: 1n, ok: true }, u8, 0)).toThrow(TypeError);
    // @ts-expect-error a number where a u64 (bigint) goes
    expect(() => encodedLength(req, { status: 200, path: '/', id: 1, ok: true })).toThrow(TypeError);
    const rec = createRecord(req);
    // @ts-expect-error a number where a bool goes (at run time the hot path reports it before anything is reserved)
    rec.ok = 1;
    expect(recordLength(req, rec)).toBe(EncodeFailure.wrongType);
    expect(Object.isFrozen(req) && Object.isFrozen(req.fields) && Object.isFrozen(req.layout)).toBe(true);
  });

  it('lays out the documented byte map: 8-byte fields, then 4, 2, 1, flags, strings', () => {
    const req = defineEvent('req', { status: 'u16', path: 'string', at: 'f64', ok: 'bool', id: 'u64', n: 'i32' });
    expect(req.layout.map((s) => [s.name, s.type, s.offset])).toEqual([
      ['at', 'f64', 0],
      ['id', 'u64', 8],
      ['n', 'i32', 16],
      ['status', 'u16', 20],
      ['ok', 'bool', 22],
      ['path', 'string', -1],
    ]);
    // A string takes up to 1024 bytes by default; the smallest payload has every string empty.
    expect([req.flagsOffset, req.stringsOffset, req.fixedBytes, req.minBytes, req.maxBytes]).toEqual([23, 24, 24, 24 + 2, 24 + 2 + 1024]);
    expect(Object.keys(req.fields)).toEqual(['status', 'path', 'at', 'ok', 'id', 'n']);

    const u8 = new Uint8Array(128);
    const length = encode(req, { status: 0x1234, path: 'hé', at: 1.5, ok: true, id: 0x0102030405060708n, n: -2 }, u8, 8);
    expect(length).toBe(24 + 2 + 3);
    const view = new DataView(u8.buffer, 8);
    expect(view.getFloat64(0, true)).toBe(1.5);
    expect(view.getBigUint64(8, true)).toBe(0x0102030405060708n);
    expect(view.getInt32(16, true)).toBe(-2);
    expect([u8[8 + 20], u8[8 + 21]]).toEqual([0x34, 0x12]); // little-endian
    expect(u8[8 + 22]).toBe(1);
    expect(u8[8 + 23]).toBe(0); // flags
    expect([...u8.subarray(8 + 24, 8 + 29)]).toEqual([3, 0, 0x68, 0xc3, 0xa9]); // u16 length 3, "hé"

    // Offsets depend on the schema only; same-width fields keep declaration order.
    const widths = defineEvent('w', { a: 'u8', b: 'u32', c: 'u8', d: 'f64', e: 'i32', f: 'u16', g: 'u64' });
    expect(widths.layout.map((s) => `${s.name}@${s.offset}`)).toEqual(['d@0', 'g@8', 'b@16', 'e@20', 'f@24', 'a@26', 'c@27']);
    expect([widths.flagsOffset, widths.fixedBytes, widths.maxBytes]).toEqual([28, 29, 29]);
    const strings = defineEvent('s', { x: 'string', y: 'string' }, { maxStringBytes: 100 });
    expect([strings.flagsOffset, strings.fixedBytes, strings.maxBytes]).toEqual([0, 1, 1 + 2 * 102]);
  });

  it('says whether it fits a ring, and assertFits names the numbers', () => {
    const big = defineEvent('big', { a: 'string', b: 'string', c: 'u32' }, { maxStringBytes: 200 });
    expect(big.maxBytes).toBe(4 + 1 + 2 * 202);
    expect(big.fits(409)).toBe(true);
    expect(big.fits(408)).toBe(false);
    expect(() => assertFits(big, 409)).not.toThrow();
    expect(() => assertFits(big, 256)).toThrow(
      new RangeError(
        'event "big" needs up to 409 payload bytes (5 fixed + 2 string(s) of up to 2 + 200), over maxPayloadBytes = 256; ' +
          "lower options.maxStringBytes or raise the ring's maxPayloadBytes",
      ),
    );
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 4096 });
    expect(all.fits(rb.config.maxPayloadBytes)).toBe(true);
  });

  it('rejects bad definitions with errors naming the field and the rule', () => {
    const bad = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (e) {
        return e;
      }
      throw new Error('did not throw');
    };
    const cases: Array<[() => unknown, ErrorConstructor, string]> = [
      [() => defineEvent(1 as never, { a: 'u8' }), TypeError, 'event name must be a string (got number)'],
      [() => defineEvent('', { a: 'u8' }), RangeError, 'event name must be 1 to 64 characters long (got 0)'],
      [() => defineEvent('x'.repeat(65), { a: 'u8' }), RangeError, 'event name must be 1 to 64 characters long (got 65)'],
      [() => defineEvent('e', null as never), TypeError, 'event "e": fields must be an object of field names to types (got null)'],
      [() => defineEvent('e', ['u8'] as never), TypeError, 'event "e": fields must be an object of field names to types (got array)'],
      [() => defineEvent('e', {}), RangeError, 'event "e": fields must name 1 to 32 fields (got 0)'],
      [
        () => defineEvent('e', Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, 'u8' as const]))),
        RangeError,
        'event "e": fields must name 1 to 32 fields (got 33)',
      ],
      [
        () => defineEvent('e', { '1x': 'u8' }),
        RangeError,
        'event "e": field name "1x" must be an identifier (ASCII letters, digits, _ and $, not starting with a digit)',
      ],
      [
        () => defineEvent('e', { 'a-b': 'u8' }),
        RangeError,
        'event "e": field name "a-b" must be an identifier (ASCII letters, digits, _ and $, not starting with a digit)',
      ],
      [
        () => defineEvent('e', { truncated: 'bool' }),
        RangeError,
        'event "e": field name "truncated" is reserved (decode() adds "truncated")',
      ],
      [
        () => defineEvent('e', { a: 'u17' as never }),
        RangeError,
        'event "e": field "a" has type "u17"; the types are u8, u16, u32, i32, f64, u64, bool, string',
      ],
      [
        () => defineEvent('e', { a: 8 as never }),
        TypeError,
        'event "e": field "a" must have a type, one of u8, u16, u32, i32, f64, u64, bool, string (got number)',
      ],
      [() => defineEvent('e', { a: 'u8' }, 5 as never), TypeError, 'event "e": options must be an object (got number)'],
      [
        () => defineEvent('e', { a: 'u8' }, { maxStringLength: 5 } as never),
        TypeError,
        'event "e": options: unknown option "maxStringLength" (the options are maxStringBytes, onLongString)',
      ],
      [
        () => defineEvent('e', { a: 'u8' }, { maxStringBytes: '5' as never }),
        TypeError,
        'event "e": options.maxStringBytes must be a number (got string)',
      ],
      [
        () => defineEvent('e', { a: 'u8' }, { maxStringBytes: 1025 }),
        RangeError,
        'event "e": options.maxStringBytes must be an integer between 1 and 1024 (got 1025)',
      ],
      [
        () => defineEvent('e', { a: 'u8' }, { maxStringBytes: 0 }),
        RangeError,
        'event "e": options.maxStringBytes must be an integer between 1 and 1024 (got 0)',
      ],
      [
        () => defineEvent('e', { a: 'u8' }, { maxStringBytes: 1.5 }),
        RangeError,
        'event "e": options.maxStringBytes must be an integer between 1 and 1024 (got 1.5)',
      ],
      [
        () => defineEvent('e', { a: 'u8' }, { onLongString: 'drop' as never }),
        RangeError,
        'event "e": options.onLongString must be one of truncate, error (got "drop")',
      ],
      [
        () => defineEvent('e', { a: 'u8' }, { onLongString: true as never }),
        TypeError,
        'event "e": options.onLongString must be a string, one of truncate, error (got boolean)',
      ],
    ];
    for (const [fn, type, message] of cases) {
      const e = bad(fn);
      expect(e).toBeInstanceOf(type);
      expect((e as Error).message).toBe(message);
    }
    expect(defineEvent('x'.repeat(64), { $a_1: 'u8', _b: 'u8' }).name).toHaveLength(64);
    expect(defineEvent('e', Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`f${i}`, 'u8' as const]))).fixedBytes).toBe(33);
    expect(defineEvent('e', { a: 'string' }, { maxStringBytes: 1024 }).maxBytes).toBe(1 + 2 + 1024);
  });
});

describe('schema JSON', () => {
  it('round-trips to an identical descriptor, through a string too', () => {
    const d = defineEvent('http.req', { path: 'string', status: 'u16', at: 'f64', ok: 'bool' }, { maxStringBytes: 200, onLongString: 'error' });
    const json = schemaToJson(d);
    expect(json).toEqual({
      format: 1,
      name: 'http.req',
      fields: [
        { name: 'path', type: 'string' },
        { name: 'status', type: 'u16' },
        { name: 'at', type: 'f64' },
        { name: 'ok', type: 'bool' },
      ],
      options: { maxStringBytes: 200, onLongString: 'error' },
    });
    for (const input of [json, JSON.stringify(json), JSON.parse(JSON.stringify(json)) as unknown]) {
      const back = schemaFromJson(input);
      expect(schemaToJson(back)).toEqual(json);
      expect(back.layout).toEqual(d.layout);
      expect(Object.keys(back.fields)).toEqual(Object.keys(d.fields));
      expect([back.flagsOffset, back.stringsOffset, back.fixedBytes, back.maxBytes]).toEqual([
        d.flagsOffset,
        d.stringsOffset,
        d.fixedBytes,
        d.maxBytes,
      ]);
      // Bytes written with one decode with the other.
      const u8 = new Uint8Array(d.maxBytes);
      const length = encode(d, { path: '/ä', status: 404, at: -0.25, ok: false }, u8, 0);
      expect(decode(back, u8, 0, length)).toEqual({ path: '/ä', status: 404, at: -0.25, ok: false, truncated: false });
    }
    const defaults = schemaToJson(defineEvent('d', { x: 'u8' }));
    expect(defaults.options).toEqual({ maxStringBytes: 1024, onLongString: 'truncate' });
  });

  it('rejects garbage with a TypeError saying what is wrong', () => {
    const good = schemaToJson(defineEvent('e', { a: 'u8', s: 'string' }));
    const cases: Array<[unknown, string]> = [
      ['{', 'schema JSON does not parse: '],
      ['null', 'schema JSON must be an object (got null)'],
      [[], 'schema JSON must be an object (got array)'],
      [42, 'schema JSON must be an object (got number)'],
      [{ ...good, format: 2 }, 'schema JSON format must be 1 (got 2)'],
      [{ ...good, format: undefined }, 'schema JSON format must be 1 (got undefined)'],
      [{ ...good, name: 7 }, 'schema JSON name must be a string (got number)'],
      [{ ...good, fields: { a: 'u8' } }, 'schema JSON fields must be an array of { name, type } (got object)'],
      [{ ...good, fields: [null] }, 'schema JSON fields[0] must be an object { name: string, type } (got null)'],
      [{ ...good, fields: [{ name: 'a', type: 'u8' }, { type: 'u8' }] }, 'schema JSON fields[1] must be an object { name: string, type } (got object)'],
      [{ ...good, fields: [{ name: 'a', type: 'u8' }, { name: 'a', type: 'u16' }] }, 'schema JSON fields[1] repeats the field name "a"'],
      [{ ...good, fields: [] }, 'schema JSON is not a valid schema: event "e": fields must name 1 to 32 fields (got 0)'],
      [
        { ...good, fields: [{ name: 'a', type: 'i64' }] },
        'schema JSON is not a valid schema: event "e": field "a" has type "i64"; the types are u8, u16, u32, i32, f64, u64, bool, string',
      ],
      [
        { ...good, fields: [{ name: '__proto__', type: 'u8' }] },
        'schema JSON is not a valid schema: event "e": field name "__proto__" is reserved (decode() adds "truncated")',
      ],
      [{ ...good, options: null }, 'schema JSON options must be an object (got null)'],
      [
        { ...good, options: { maxStringBytes: 4096, onLongString: 'truncate' } },
        'schema JSON is not a valid schema: event "e": options.maxStringBytes must be an integer between 1 and 1024 (got 4096)',
      ],
      [{ ...good, name: '' }, 'schema JSON is not a valid schema: event name must be 1 to 64 characters long (got 0)'],
    ];
    for (const [input, message] of cases) {
      let error: unknown = null;
      try {
        schemaFromJson(input);
      } catch (e) {
        error = e;
      }
      expect(error, message).toBeInstanceOf(TypeError);
      if (message.endsWith(': ')) expect((error as Error).message.startsWith(message)).toBe(true);
      else expect((error as Error).message).toBe(message);
    }
  });
});

describe('event codec', () => {
  it('round-trips every type at its extremes', () => {
    const lows = { a8: 0, a16: 0, a32: 0, s32: -0x8000_0000, d: -0, big: 0n, flag: false, text: '', more: '' };
    const highs = {
      a8: 255,
      a16: 65535,
      a32: 2 ** 32 - 1,
      s32: 2 ** 31 - 1,
      d: Number.MAX_VALUE,
      big: 2n ** 64n - 1n,
      flag: true,
      text: 'x'.repeat(64),
      more: '€'.repeat(21), // 63 bytes
    };
    expect(roundTrip(all, lows)).toEqual({ ...lows, truncated: false });
    expect(Object.is(roundTrip(all, lows)!.d, -0)).toBe(true);
    expect(roundTrip(all, highs)).toEqual({ ...highs, truncated: false });
    expect(encodedLength(all, highs)).toBe(all.maxBytes - 1);
    for (const d of [Number.NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MAX_VALUE, 2 ** 53 + 2, Math.PI]) {
      const got = roundTrip(all, { ...lows, d });
      expect(Object.is(got!.d, d)).toBe(true);
    }
    for (const big of [1n, 2n ** 32n, 2n ** 63n, 2n ** 63n - 1n, 0xdead_beef_cafe_f00dn]) {
      expect(roundTrip(all, { ...lows, big })!.big).toBe(big);
    }
    for (const s32 of [-1, 0, 1, -12345678]) expect(roundTrip(all, { ...lows, s32 })!.s32).toBe(s32);
    // Multi-byte UTF-8: 2, 3 and 4 bytes (a surrogate pair), a leading BOM, a NUL.
    for (const text of ['é', 'ütf-8 ✓', '日本語', '𝄞 music', '\uFEFFbom', 'a\0b', '🏳️‍🌈']) {
      expect(roundTrip(all, { ...lows, text, more: text })).toEqual({ ...lows, text, more: text, truncated: false });
    }
  });

  it('encodes UTF-8 exactly as TextEncoder does, lone surrogates as U+FFFD', () => {
    const d = defineEvent('s', { s: 'string' }, { maxStringBytes: 1024 });
    const encoder = new TextEncoder();
    const random = prng(testSeed('log-event-codec-utf8'));
    // A leading U+FEFF is part of the string (the codec keeps it), so the expectation keeps it too.
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    const samples = ['\ud800', 'a\udc00b', '\ud83d', '\ud83d\ude00', '\udbff\udfff', '\u07ff\u0800\uffff', '\ufeffbom', '\ufeff'];
    for (let n = 0; n < 500; n++) {
      let s = '';
      const len = Math.floor(random() * 40);
      for (let i = 0; i < len; i++) {
        const pick = random();
        s += String.fromCharCode(pick < 0.4 ? Math.floor(random() * 0x80) : pick < 0.6 ? Math.floor(random() * 0x800) : Math.floor(random() * 0x10000));
      }
      samples.push(s);
    }
    const u8 = new Uint8Array(d.maxBytes);
    for (const s of samples) {
      const expected = encoder.encode(s);
      expect(utf8Fit(s, Infinity)).toBe(expected.length);
      const length = encode(d, { s }, u8, 0);
      expect([...u8.subarray(3, length)]).toEqual([...expected]);
      expect(decode(d, u8, 0, length)).toEqual({ s: decoder.decode(expected), truncated: false });
    }
  });

  it('truncates strings over the bound at a character boundary and flags the record', () => {
    const d = defineEvent('t', { s: 'string', n: 'u8' }, { maxStringBytes: 8 });
    const cases: Array<[string, string, boolean]> = [
      ['abcdefgh', 'abcdefgh', false], // exactly at the bound
      ['abcdefghi', 'abcdefgh', true],
      ['abcdefg€', 'abcdefg', true], // € is 3 bytes: 10 > 8, cut before it
      ['abcdef€', 'abcdef', true], // 9 bytes
      ['abcde€', 'abcde€', false], // exactly 8
      ['abcde𝄞', 'abcde', true], // 4-byte character never split
      ['abcd𝄞', 'abcd𝄞', false],
      ['€€€', '€€', true],
    ];
    for (const [s, kept, truncated] of cases) {
      const rec = createRecord(d);
      rec.s = s;
      rec.n = 7;
      expect(recordLength(d, rec)).toBe(1 + 1 + 2 + utf8Fit(kept, Infinity));
      expect(roundTrip(d, { s, n: 7 })).toEqual({ s: kept, n: 7, truncated });
      const u8 = new Uint8Array(32);
      const length = encodeRecord(d, rec, u8, 0);
      expect(length).toBe(recordLength(d, rec));
      expect(u8[d.flagsOffset]).toBe(truncated ? FLAG_TRUNCATED : 0);
      expect(decode(d, u8, 0, length)).toEqual({ s: kept, n: 7, truncated });
    }
  });

  it("rejects strings over the bound under onLongString: 'error', writing nothing", () => {
    const d = defineEvent('t', { s: 'string', n: 'u8' }, { maxStringBytes: 8, onLongString: 'error' });
    expect(roundTrip(d, { s: 'abcdefgh', n: 1 })).toEqual({ s: 'abcdefgh', n: 1, truncated: false });
    expect(roundTrip(d, { s: 'abcde€', n: 1 })).toEqual({ s: 'abcde€', n: 1, truncated: false });
    const u8 = new Uint8Array(32).fill(0xa5);
    const message = 'event "t": field "s" (string) is 10 UTF-8 bytes, over options.maxStringBytes = 8 (onLongString is \'error\')';
    expect(() => encode(d, { s: 'abcdefg€', n: 1 }, u8, 0)).toThrow(new RangeError(message));
    expect(() => encodedLength(d, { s: 'abcdefg€', n: 1 })).toThrow(new RangeError(message));
    expect(u8.every((b) => b === 0xa5)).toBe(true);
    const rec = createRecord(d);
    rec.s = 'abcdefghi';
    expect(recordLength(d, rec)).toBe(EncodeFailure.stringTooLong);
    rec.s = 'abcdefgh';
    expect(recordLength(d, rec)).toBe(12);
  });

  it('rejects every bad value with an error naming the field and the rule, and writes nothing', () => {
    const good = { a8: 1, a16: 1, a32: 1, s32: 1, d: 1, big: 1n, flag: true, text: 't', more: 'm' };
    const cases: Array<[Record<string, unknown>, ErrorConstructor, string]> = [
      [{ a8: undefined }, TypeError, 'field "a8" (u8) is missing'],
      [{ more: undefined }, TypeError, 'field "more" (string) is missing'],
      [{ a8: '1' }, TypeError, 'field "a8" (u8) must be a number (got string)'],
      [{ a8: 256 }, RangeError, 'field "a8" (u8) must be an integer between 0 and 255 (got 256)'],
      [{ a8: -1 }, RangeError, 'field "a8" (u8) must be an integer between 0 and 255 (got -1)'],
      [{ a8: 1.5 }, RangeError, 'field "a8" (u8) must be an integer between 0 and 255 (got 1.5)'],
      [{ a8: Number.NaN }, RangeError, 'field "a8" (u8) must be an integer between 0 and 255 (got NaN)'],
      [{ a16: 65536 }, RangeError, 'field "a16" (u16) must be an integer between 0 and 65535 (got 65536)'],
      [{ a16: 1n }, TypeError, 'field "a16" (u16) must be a number (got bigint)'],
      [{ a32: 2 ** 32 }, RangeError, 'field "a32" (u32) must be an integer between 0 and 4294967295 (got 4294967296)'],
      [{ a32: Infinity }, RangeError, 'field "a32" (u32) must be an integer between 0 and 4294967295 (got Infinity)'],
      [{ s32: 2 ** 31 }, RangeError, 'field "s32" (i32) must be an integer between -2147483648 and 2147483647 (got 2147483648)'],
      [{ s32: -(2 ** 31) - 1 }, RangeError, 'field "s32" (i32) must be an integer between -2147483648 and 2147483647 (got -2147483649)'],
      [{ d: '1' }, TypeError, 'field "d" (f64) must be a number (got string)'],
      [{ d: null }, TypeError, 'field "d" (f64) must be a number (got null)'],
      [{ big: 1 }, TypeError, 'field "big" (u64) must be a bigint (got number)'],
      [{ big: -1n }, RangeError, 'field "big" (u64) must be between 0n and 18446744073709551615n (got -1n)'],
      [{ big: 2n ** 64n }, RangeError, 'field "big" (u64) must be between 0n and 18446744073709551615n (got 18446744073709551616n)'],
      [{ flag: 1 }, TypeError, 'field "flag" (bool) must be a boolean (got number)'],
      [{ text: 5 }, TypeError, 'field "text" (string) must be a string (got number)'],
      [{ more: ['x'] }, TypeError, 'field "more" (string) must be a string (got array)'],
    ];
    const u8 = new Uint8Array(all.maxBytes + 8);
    for (const [patch, type, rule] of cases) {
      const values = { ...good, ...patch } as never;
      u8.fill(0xa5);
      let error: unknown = null;
      try {
        encode(all, values, u8, 8);
      } catch (e) {
        error = e;
      }
      expect(error, rule).toBeInstanceOf(type);
      expect((error as Error).message).toBe(`event "all": ${rule}`);
      expect(u8.every((b) => b === 0xa5)).toBe(true);
      expect(() => encodedLength(all, values)).toThrow(type);
    }
    expect(() => encode(all, null as never, u8, 0)).toThrow(new TypeError('event "all": values must be an object (got null)'));
    expect(() => encode(all, good, u8, u8.length - 4)).toThrow(
      new RangeError(`event "all": a payload of 35 bytes at offset ${u8.length - 4} does not fit a buffer of ${u8.length} bytes`),
    );
    expect(() => encode(all, good, u8, -1)).toThrow(RangeError);
    expect(u8.every((b) => b === 0xa5)).toBe(true);
    // Extra keys (a decoded event's `truncated`, say) are ignored.
    expect(roundTrip(all, { ...good, truncated: true, extra: 1 } as never)).toEqual({ ...good, truncated: false });
  });

  it('writes through a ring and reads back what the reader delivers', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 4096, clock: 'counter' });
    assertFits(all, rb.config.maxPayloadBytes);
    const w = rb.writer(0);
    const sent: Array<EventValues<(typeof all)['fields']>> = [];
    for (let i = 0; i < 40; i++) {
      // Payload derives from the sequence number, so a torn or misplaced event shows.
      const values = {
        a8: i & 0xff,
        a16: i * 1000,
        a32: i * 100_000_000,
        s32: (i * -50_000_000) | 0,
        d: i / 3,
        big: BigInt(i) * 0x1_0000_0001n,
        flag: (i & 1) === 1,
        text: `#${i} ${'ü'.repeat(i)}`,
        more: 'm'.repeat(i),
      };
      sent.push(values);
      const at = w.reserve(7, encodedLength(all, values));
      expect(at).toBeGreaterThanOrEqual(0);
      encode(all, values, w.u8, at);
      w.commit();
    }
    const got: unknown[] = [];
    rb.reader().drain({ event: (e) => got.push(decode(all, e.u8, e.offset, e.length)) });
    expect(got).toEqual(
      sent.map((v) => {
        const text = truncateUtf8(v.text, 64);
        return { ...v, text, truncated: text !== v.text };
      }),
    );
  });

  it('decodes null, never throwing, when the bytes cannot be a payload of the schema', () => {
    const d = defineEvent('t', { n: 'u16', ok: 'bool', s: 'string' }, { maxStringBytes: 8 });
    const u8 = new Uint8Array(16);
    const length = encode(d, { n: 5, ok: true, s: 'abc' }, u8, 0); // 2 + 1 + 1 + 2 + 3
    expect(length).toBe(9);
    expect(decode(d, u8, 0, length)).toEqual({ n: 5, ok: true, s: 'abc', truncated: false });
    const damaged = (at: number, byte: number, len = length): unknown => {
      const copy = u8.slice();
      copy[at] = byte;
      return decode(d, copy, 0, len);
    };
    expect(decode(d, u8, 0, length - 1)).toBeNull(); // string runs past length
    expect(decode(d, u8, 0, length + 1)).toBeNull(); // a byte left over
    expect(decode(d, u8, 0, 3)).toBeNull(); // shorter than the fixed part
    expect(damaged(4, 9)).toBeNull(); // string length 9 > maxStringBytes
    expect(damaged(4, 4)).toBeNull(); // string length runs past
    expect(damaged(2, 2)).toBeNull(); // bool 2
    expect(damaged(3, 2)).toBeNull(); // reserved flag bit
    expect(damaged(6, 0xff)).toBeNull(); // not UTF-8
    expect(damaged(6, 0xc3)).toBeNull(); // a truncated 2-byte sequence
    expect(damaged(3, FLAG_TRUNCATED)).toEqual({ n: 5, ok: true, s: 'abc', truncated: true });
    expect(decode(d, u8, 10, 9)).toBeNull(); // past the buffer
    for (const [offset, len] of [
      [-1, 9],
      [0, -1],
      [Number.NaN, 9],
      [0, Infinity],
      [0.5, 9],
      [0, 2 ** 40],
    ] as const) {
      expect(decode(d, u8, offset, len)).toBeNull();
    }
    const fixed = defineEvent('f', { a: 'u32' });
    const f8 = new Uint8Array(8);
    expect(decode(fixed, f8, 0, encode(fixed, { a: 1 }, f8, 0))).toEqual({ a: 1, truncated: false });
    f8[4] = FLAG_TRUNCATED; // no strings to truncate
    expect(decode(fixed, f8, 0, 5)).toBeNull();
  });
});

/** The longest prefix of whole characters of s within max UTF-8 bytes. */
function truncateUtf8(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    if (new TextEncoder().encode(out + ch).length > max) break;
    out += ch;
  }
  return out;
}

describe('hot path', () => {
  it('records are sealed objects of their own class; the hot path reports wrong types and encodes like encode()', () => {
    const rec = createRecord(all);
    expect(Object.keys(rec)).toEqual(['a8', 'a16', 'a32', 's32', 'd', 'big', 'flag', 'text', 'more']);
    expect({ ...rec }).toEqual({ a8: 0, a16: 0, a32: 0, s32: 0, d: 0, big: 0n, flag: false, text: '', more: '' });
    expect(() => Object.assign(rec, { typo: 1 })).toThrow(TypeError); // sealed
    const values = { a8: 200, a16: 60000, a32: 2 ** 32 - 1, s32: -5, d: -0.5, big: 2n ** 64n - 1n, flag: true, text: 'é', more: '𝄞' };
    Object.assign(rec, values);
    const a = new Uint8Array(all.maxBytes);
    const b = new Uint8Array(all.maxBytes);
    expect(recordLength(all, rec)).toBe(encodedLength(all, values));
    expect(encodeRecord(all, rec, a, 0)).toBe(encode(all, values, b, 0));
    expect(a).toEqual(b);
    // Any object of the right shape works too.
    expect(recordLength(all, values)).toBe(encodedLength(all, values));
    for (const [field, v] of [
      ['a8', '1'],
      ['d', undefined],
      ['big', 1],
      ['flag', 0],
      ['text', null],
      ['more', 5],
    ] as const) {
      expect(recordLength(all, { ...values, [field]: v } as never), field).toBe(EncodeFailure.wrongType);
    }
    // Out-of-range numbers are converted as typed arrays convert them.
    rec.a8 = 257;
    rec.s32 = 2 ** 31;
    rec.a16 = -1;
    rec.a32 = 1.9;
    const length = recordLength(all, rec);
    encodeRecord(all, rec, a, 0);
    expect(decode(all, a, 0, length)).toMatchObject({ a8: 1, s32: -(2 ** 31), a16: 65535, a32: 1 });
  });

  it('refuses to generate code for a hand-made descriptor whose field names are not identifiers', () => {
    const fake = { ...all, layout: [{ ...all.layout[0]!, name: 'a;globalThis.x=1' }, ...all.layout.slice(1)] } as EventDescriptor;
    expect(() => recordLength(fake, {} as never)).toThrow(new TypeError('event "all": not a descriptor made by defineEvent (its layout does not check out)'));
    expect(() => createRecord(fake)).toThrow(TypeError);
  });

  it('allocates nothing per event: 1 M reserve + encodeRecord + commit trigger no scavenge (no strings, ASCII, non-ASCII)', async () => {
    const fixed = defineEvent('fixed', { a8: 'u8', a16: 'u16', a32: 'u32', s32: 'i32', d: 'f64', big: 'u64', flag: 'bool' });
    const ascii = defineEvent('ascii', { status: 'u16', path: 'string', method: 'string', ms: 'f64' });
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 16, pageBytes: 4096, clock: 'counter', mode: 'overwrite' });
    const w = rb.writer(0);
    const bigs = [0n, 1n, 2n ** 64n - 1n, 0x1234_5678_9abc_def0n];
    // Flat strings made up front (the loop itself must not build strings).
    const paths = ['/', '/index.html', '/api/v1/users/12345/profile?fields=all', 'x'.repeat(80)].map((s) => s.split('').join(''));
    const wide = ['/ünïcödé', '/日本語/パス', '/😀/emoji', 'é'.repeat(40)];
    const methods = ['GET', 'POST', 'DELETE'];
    const fixedRec = createRecord(fixed);
    const asciiRec = createRecord(ascii);
    // Accumulate into typed memory: a double kept in a closure variable would box per store.
    const sum = new Float64Array(1);
    const loop = (n: number, strings: readonly string[]): void => {
      for (let i = 0; i < n; i++) {
        fixedRec.a8 = i & 0xff;
        fixedRec.a16 = i & 0xffff;
        fixedRec.a32 = i;
        fixedRec.s32 = -i;
        fixedRec.d = i * 0.5;
        fixedRec.big = bigs[i & 3]!;
        fixedRec.flag = (i & 1) === 0;
        let length = recordLength(fixed, fixedRec);
        let at = w.reserve(1, length);
        if (at >= 0) {
          sum[0]! += encodeRecord(fixed, fixedRec, w.u8, at);
          w.commit();
        }
        asciiRec.status = 200 + (i & 7);
        asciiRec.path = strings[i & 3]!;
        asciiRec.method = methods[i % 3]!;
        asciiRec.ms = i / 7;
        length = recordLength(ascii, asciiRec);
        at = w.reserve(2, length);
        if (at >= 0) {
          sum[0]! += encodeRecord(ascii, asciiRec, w.u8, at);
          w.commit();
        }
      }
    };
    loop(200_000, paths); // warm up: let V8 optimise the path first
    loop(200_000, wide);
    const minorAscii = await scavengesDuring(() => loop(1_000_000, paths));
    const minorWide = await scavengesDuring(() => loop(1_000_000, wide));
    expect(minorAscii).toBeLessThanOrEqual(1);
    expect(minorWide).toBeLessThanOrEqual(1);
    expect(sum[0]).toBeGreaterThan(0);
    expect(rb.cpuStats(0).entries).toBe(2 * 2_400_000); // two events per iteration
    // And precisely (after the count above: this runs the loop a few more times): one boxed number per iteration would read 16 bytes.
    expect(bytesPerIteration((n) => loop(n, paths), 10_000)).toBeLessThan(0.5);
    expect(bytesPerIteration((n) => loop(n, wide), 10_000)).toBeLessThan(0.5);
    // And what it wrote decodes.
    const seen = new Map<number, unknown>();
    rb.reader().drain({
      event: (e) => {
        const d = e.type === 1 ? fixed : ascii;
        const v = decode(d as EventDescriptor, e.u8, e.offset, e.length);
        expect(v).not.toBeNull();
        seen.set(e.type, v);
      },
    });
    expect(seen.size).toBe(2);
  });
});

describe('decode fuzz', () => {
  it('never throws on random bytes, offsets and lengths, and still decodes good payloads afterwards', () => {
    const seed = testSeed('log-event-codec-fuzz');
    const random = prng(seed);
    const schemas: EventDescriptor[] = [
      all as EventDescriptor,
      defineEvent('one', { s: 'string' }, { maxStringBytes: 4 }) as EventDescriptor,
      defineEvent('fixed', { a: 'u8', b: 'bool', c: 'u64' }) as EventDescriptor,
      defineEvent('strs', { a: 'string', b: 'string', c: 'string', ok: 'bool' }, { maxStringBytes: 16 }) as EventDescriptor,
    ];
    const u8 = new Uint8Array(512);
    let decoded = 0;
    for (let round = 0; round < 20_000; round++) {
      const d = schemas[round % schemas.length]!;
      // Mostly plausible payloads with a few flipped bytes; sometimes pure noise.
      if (random() < 0.7) {
        const values = randomValues(d, random);
        const length = encode(d, values, u8, 0);
        for (let k = Math.floor(random() * 4); k > 0; k--) u8[Math.floor(random() * length)] = Math.floor(random() * 256);
        const len = random() < 0.8 ? length : Math.floor(random() * (length + 8));
        const v = decode(d, u8, 0, len);
        if (v !== null) decoded++;
      } else {
        for (let i = 0; i < 64; i++) u8[i] = Math.floor(random() * 256);
        const offset = random() < 0.1 ? Math.floor(random() * 600) - 50 : Math.floor(random() * 8);
        const len = random() < 0.1 ? Math.floor(random() * 2000) - 100 : Math.floor(random() * 64);
        const v = decode(d, u8, offset, len);
        if (v !== null) decoded++;
      }
    }
    expect(decoded).toBeGreaterThan(0);
    // Still works: random values round-trip exactly.
    for (let round = 0; round < 500; round++) {
      const d = schemas[round % schemas.length]!;
      const values = randomValues(d, random);
      const length = encode(d, values, u8, 8);
      const back = decode(d, u8, 8, length);
      expect(back, `seed ${seed}`).not.toBeNull();
      expect(back, `seed ${seed}`).toEqual(expectedBack(d, values));
      expect(encodedLength(d, back as never)).toBe(length);
    }
  });
});

/**
 * What a round trip gives back: every value as given, except a string, which comes back as
 * its UTF-8 (a lone surrogate becomes U+FFFD) cut to `maxStringBytes` at a character boundary,
 * and `truncated` says whether any was cut.
 */
function expectedBack(d: EventDescriptor, values: EventValues<FieldSpec>): Record<string, unknown> {
  const max = d.options.maxStringBytes;
  const out: Record<string, unknown> = {};
  let truncated = false;
  for (const slot of d.layout) {
    const v = (values as Record<string, unknown>)[slot.name];
    if (typeof v !== 'string') {
      out[slot.name] = v;
      continue;
    }
    let bytes = new TextEncoder().encode(v);
    if (bytes.length > max) {
      truncated = true;
      let cut = max;
      while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
      bytes = bytes.subarray(0, cut);
    }
    out[slot.name] = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  }
  out['truncated'] = truncated;
  return out;
}

function randomValues(d: EventDescriptor, random: () => number): EventValues<FieldSpec> {
  const values: Record<string, string | number | bigint | boolean> = {};
  for (const slot of d.layout) {
    const r = Math.floor(random() * 2 ** 32);
    switch (slot.type) {
      case 'u8':
        values[slot.name] = r & 0xff;
        break;
      case 'u16':
        values[slot.name] = r & 0xffff;
        break;
      case 'u32':
        values[slot.name] = r >>> 0;
        break;
      case 'i32':
        values[slot.name] = r | 0;
        break;
      case 'f64':
        values[slot.name] = (random() - 0.5) * 2 ** (r % 64);
        break;
      case 'u64':
        values[slot.name] = (BigInt(r) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
        break;
      case 'bool':
        values[slot.name] = (r & 1) === 1;
        break;
      default: {
        let s = '';
        for (let i = r % 12; i > 0; i--) s += String.fromCodePoint(random() < 0.5 ? 0x20 + Math.floor(random() * 0x5f) : Math.floor(random() * 0x30000));
        values[slot.name] = s;
      }
    }
  }
  return values;
}
