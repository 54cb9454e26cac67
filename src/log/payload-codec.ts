/**
 * The EventLog's payload codec: writes and reads one event's values at a payload offset
 * of the ring's memory, in the layout its descriptor fixed (byte map in event-schema.ts).
 *
 * Two ways in:
 * - `encodedLength` + `encode`: the checked path. Every value is validated before a
 *   byte is written; a bad one is a TypeError/RangeError naming the field and the rule.
 * - `createRecord` + `compiledEncoder(d).length` + `.write`: the hot path. Fill a reusable
 *   record, measure it (which also checks each value's JS type), reserve, encode. It
 *   returns failure codes instead of throwing and allocates nothing: numbers are
 *   converted the way typed arrays convert them, strings are UTF-8-encoded by hand
 *   straight into the ring.
 *
 * ```ts
 * const rec = createRecord(req);                      // once
 * rec.status = 200; rec.path = url;                   // per event
 * const enc = compiledEncoder(req);                    // keep it, and a DataView of writer.u8
 * const length = enc.length(rec, NO_BUDGET);           // < 0: an EncodeFailure
 * const at = length < 0 ? length : writer.reserve(REQ, length);
 * if (at >= 0) { enc.write(rec, view, writer.u8, at, NO_BUDGET); writer.commit(); }
 * ```
 *
 * `decode` turns a payload back into a plain object, or `null` when the bytes cannot be a
 * payload of that schema (the caller reports corruption); it never throws on bad bytes.
 * Like the encoders, each schema's decoder is generated (`compile`): it checks the bytes,
 * then builds one object literal in declaration order, so a schema's decoded objects share
 * a hidden class; short ASCII strings are sliced natively, others go through a fatal
 * TextDecoder. (About twice as fast as the generic loop it replaced: 190–230 ns against
 * 420–470 ns a `drain`ed event of four fields, this machine, quiet.)
 */
import {
  type EventDescriptor,
  type EventValues,
  type FieldSlot,
  type FieldSpec,
  type FieldValue,
  FLAG_TRUNCATED,
  FieldCode,
  STRING_LENGTH_BYTES,
} from './event-schema.js';

/** A reusable, mutable set of values for the hot path (`createRecord`). */
export type EventRecord<F extends FieldSpec> = { -readonly [K in keyof F]: FieldValue<F[K]> };

/** A decoded event: its values and whether a string was truncated when it was written. */
export type DecodedEvent<F extends FieldSpec> = { -readonly [K in keyof F]: FieldValue<F[K]> } & { truncated: boolean };

/** Why the compiled encoder's `length` cannot encode a record. Negative, so it can be passed on like a `ReserveFailure`. */
export const EncodeFailure = {
  /** a string is longer than `maxStringBytes` and the schema says `onLongString: 'error'`. */
  stringTooLong: -16,
  /** a field is missing or holds a value of the wrong JS type (`encode` names it). */
  wrongType: -17,
} as const;
export type EncodeFailure = (typeof EncodeFailure)[keyof typeof EncodeFailure];

const MAX_U64 = 0xffff_ffff_ffff_ffffn;
const RANGES: Readonly<Record<number, readonly [number, number]>> = {
  [FieldCode.u8]: [0, 0xff],
  [FieldCode.u16]: [0, 0xffff],
  [FieldCode.u32]: [0, 0xffff_ffff],
  [FieldCode.i32]: [-0x8000_0000, 0x7fff_ffff],
};

/** The JS type of each field type's values. */
function jsType(code: FieldCode): 'number' | 'bigint' | 'boolean' | 'string' {
  return code === FieldCode.u64 ? 'bigint' : code === FieldCode.bool ? 'boolean' : code === FieldCode.string ? 'string' : 'number';
}

// One DataView per buffer view, made on first use: the codec allocates nothing per event.
// Weak, so a dropped ring is not kept alive by the codec.
const views = new WeakMap<Uint8Array, DataView>();

function viewOf(u8: Uint8Array): DataView {
  let view = views.get(u8);
  if (view === undefined) {
    view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
    views.set(u8, view);
  }
  return view;
}

// Fatal: bytes our encoder cannot have written are corruption, not U+FFFD. ignoreBOM keeps
// a leading U+FEFF, which is part of the string that was encoded.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Buffer views of the memories strings are read from (Buffer's latin1 slice is native and fast). */
const buffers = new WeakMap<ArrayBufferLike, Buffer>();

/**
 * The string of `n` UTF-8 bytes at `u8[at]`, or null if they are not UTF-8. Most strings
 * are short ASCII: those take a byte check and a native latin1 slice (ASCII is latin1);
 * the rest go through the fatal TextDecoder.
 */
function readUtf8(u8: Uint8Array, at: number, n: number): string | null {
  if (n === 0) return '';
  let ascii = true;
  for (let i = at; i < at + n; i++) {
    if (u8[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    let b = buffers.get(u8.buffer);
    if (b === undefined) {
      b = Buffer.from(u8.buffer, 0, u8.buffer.byteLength);
      buffers.set(u8.buffer, b);
    }
    const base = u8.byteOffset;
    return b.toString('latin1', base + at, base + at + n);
  }
  try {
    return utf8Decoder.decode(u8.subarray(at, at + n));
  } catch {
    return null; // not UTF-8: the encoder never writes that
  }
}

/**
 * UTF-8 length of `s` (lone surrogates count as U+FFFD, 3 bytes, as TextEncoder writes
 * them). If it exceeds `limit`, returns `~fit` (negative), where `fit` is the length of
 * the longest prefix of whole characters within `limit`.
 */
export function utf8Fit(s: string, limit: number): number {
  const n = s.length;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let width = 3;
    if (c < 0x80) width = 1;
    else if (c < 0x800) width = 2;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) width = 4;
    if (bytes + width > limit) return ~bytes;
    bytes += width;
    if (width === 4) i++;
  }
  return bytes;
}

/** Writes the first `bytes` bytes of `s`'s UTF-8 (a whole-character prefix, from utf8Fit) at `at`. */
function writeUtf8(u8: Uint8Array, at: number, s: string, bytes: number): void {
  const end = at + bytes;
  for (let i = 0; at < end; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      u8[at++] = c;
    } else if (c < 0x800) {
      u8[at++] = 0xc0 | (c >> 6);
      u8[at++] = 0x80 | (c & 0x3f);
    } else if ((c & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c & 0x3ff) << 10) + (s.charCodeAt(++i) & 0x3ff);
      u8[at++] = 0xf0 | (c >> 18);
      u8[at++] = 0x80 | ((c >> 12) & 0x3f);
      u8[at++] = 0x80 | ((c >> 6) & 0x3f);
      u8[at++] = 0x80 | (c & 0x3f);
    } else {
      if ((c & 0xf800) === 0xd800) c = 0xfffd; // a lone surrogate
      u8[at++] = 0xe0 | (c >> 12);
      u8[at++] = 0x80 | ((c >> 6) & 0x3f);
      u8[at++] = 0x80 | (c & 0x3f);
    }
  }
}

/**
 * Payload bytes when no ring bounds the event (`encode` into a buffer of one's own): above
 * any payload, and a small integer, so the generated code keeps one number representation.
 */
export const NO_BUDGET = 0x3fffffff;

/**
 * The encoder of one schema, specialised to its layout (see `compile`). `budget` is the
 * most payload bytes the event may take (a log's maxEventBytes): strings are cut, in
 * declaration order, to fit it as well as their `maxStringBytes`.
 */
interface CompiledEncoder {
  /** Constructor of this schema's records: every field at its zero value, in declaration order. */
  readonly Record: new () => object;
  /** Payload length for these values, or an EncodeFailure. Throws nothing. */
  length(values: object, budget: number): number;
  /** Writes the payload (after `length` accepted the values with the same budget) and returns its length. */
  write(values: object, view: DataView, u8: Uint8Array, offset: number, budget: number): number;
  /**
   * Full validation, fast: the payload length, or -1 if any value is wrong or a field is
   * unknown (then `check` says why).
   */
  validate(values: unknown, budget: number): number;
  /**
   * Reads a payload (bounds already checked to be integers inside `u8`): its fields in
   * declaration order, or null if the bytes cannot be a payload of this schema; the
   * truncated flag goes to `flagsOut`.
   */
  decode(view: DataView, u8: Uint8Array, o: number, length: number, flagsOut: { truncated: boolean }): Record<string, unknown> | null;
}

const encoders = new WeakMap<EventDescriptor, CompiledEncoder>();
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function encoderOf(descriptor: EventDescriptor): CompiledEncoder {
  let encoder = encoders.get(descriptor);
  if (encoder === undefined) {
    const d = descriptor as Partial<EventDescriptor> | null;
    if (typeof d !== 'object' || d === null || typeof d.name !== 'string' || !Array.isArray(d.layout) || typeof d.fields !== 'object') {
      throw new TypeError(`an event descriptor made by defineEvent() is required (got ${describe(descriptor)})`);
    }
    encoder = compile(descriptor);
    encoders.set(descriptor, encoder);
  }
  return encoder;
}

/**
 * Generates a schema's encoder: its record constructor, and `length` and `write` with every
 * field read by name (`v.status`) at its constant offset. Why generate code:
 * - Generic code (`values[slot.name]` in a loop) boxes each double it reads out of an
 *   object, one allocation per f64 field per event; a named load in optimised code reads
 *   the double unboxed, straight into `setFloat64`.
 * - The records need a hidden class of their own. V8 shares field representations along
 *   an object's property-transition tree, so a plain `{ d: 0 }` shares its class with any
 *   other `{ d: ... }` built the same way, such as the `{ d: 'f64' }` fields object of the
 *   schema itself: its field turns "tagged" and every double stored into it is a new heap
 *   number. A constructor per schema starts a tree of its own, whose number fields stay
 *   unboxed doubles updated in place.
 * The source is a function of the layout alone: field names are identifiers (checked again
 * here, so a hand-made descriptor cannot inject code) and every other token is a number
 * this module computed.
 */
function compile(d: EventDescriptor): CompiledEncoder {
  const fixed = d.layout.slice(0, d.fixedCount);
  const strings = d.layout.slice(d.fixedCount);
  const numbers = [d.fixedBytes, d.flagsOffset, d.stringsOffset, d.options.maxStringBytes];
  const codes: readonly number[] = Object.values(FieldCode);
  const declared = Object.keys(d.fields).map((name) => d.layout.find((s) => s.name === name));
  const sound =
    numbers.every(Number.isInteger) &&
    declared.length === d.layout.length &&
    d.layout.every((s) => IDENTIFIER.test(s.name) && Number.isInteger(s.offset) && codes.includes(s.code) && declared.includes(s));
  if (!sound) throw new TypeError(`event ${JSON.stringify(d.name)}: not a descriptor made by defineEvent (its layout does not check out)`);
  const max = d.options.maxStringBytes;
  const onLong = d.options.onLongString === 'error' ? `return ${EncodeFailure.stringTooLong};` : 'n = ~n;';
  // `left`: what the strings may still take of the budget. Each string is cut at the lesser
  // of maxStringBytes and what is left, so length, validate and write cut it alike.
  const stringsBudget = `let left = budget - ${d.stringsOffset + strings.length * STRING_LENGTH_BYTES};`;
  const fit = (name: string): string => `n = utf8Fit(v.${name}, left < ${max} ? left : ${max});`;
  const length = [
    `if (${d.layout.map((s) => `typeof v.${s.name} !== '${jsType(s.code)}'`).join(' || ')}) return ${EncodeFailure.wrongType};`,
    `let length = ${d.fixedBytes};`,
    'let n = 0;',
    ...(strings.length > 0 ? [stringsBudget] : []),
    ...strings.map((s) => `${fit(s.name)} if (n < 0) { ${onLong} } left -= n; length += ${STRING_LENGTH_BYTES} + n;`),
    'return length;',
  ];
  const rangeOf = (code: FieldCode): string => {
    const r = RANGES[code];
    return r === undefined ? '' : ` || !Number.isInteger(v.NAME) || v.NAME < ${r[0]} || v.NAME > ${r[1]}`;
  };
  const validate = [
    "if (typeof v !== 'object' || v === null) return -1;",
    // Exactly the schema's fields: an unknown one is bad input (check() names it).
    `let keys = 0; for (const key in v) keys++; if (keys !== ${d.layout.length}) return -1;`,
    ...fixed.map((s) =>
      s.code === FieldCode.u64
        ? `if (typeof v.${s.name} !== 'bigint' || v.${s.name} < 0n || v.${s.name} > ${MAX_U64}n) return -1;`
        : `if (typeof v.${s.name} !== '${jsType(s.code)}'${rangeOf(s.code).replaceAll('NAME', s.name)}) return -1;`,
    ),
    `let length = ${d.fixedBytes};`,
    'let n = 0;',
    ...(strings.length > 0 ? [stringsBudget] : []),
    ...strings.map(
      (s) =>
        `if (typeof v.${s.name} !== 'string') return -1; ${fit(s.name)} ` +
        `if (n < 0) { ${d.options.onLongString === 'error' ? 'return -1;' : 'n = ~n;'} } left -= n; length += ${STRING_LENGTH_BYTES} + n;`,
    ),
    'return length;',
  ];
  const setter: Record<FieldCode, string> = {
    [FieldCode.f64]: 'view.setFloat64',
    [FieldCode.u64]: 'view.setBigUint64',
    [FieldCode.u32]: 'view.setUint32',
    [FieldCode.i32]: 'view.setInt32',
    [FieldCode.u16]: 'view.setUint16',
    [FieldCode.u8]: '',
    [FieldCode.bool]: '',
    [FieldCode.string]: '',
  };
  const write = [
    ...fixed.map((s) =>
      s.code === FieldCode.u8
        ? `u8[o + ${s.offset}] = v.${s.name};`
        : s.code === FieldCode.bool
          ? `u8[o + ${s.offset}] = v.${s.name} === true ? 1 : 0;`
          : `${setter[s.code]}(o + ${s.offset}, v.${s.name}, true);`,
    ),
    `let at = o + ${d.stringsOffset};`,
    'let flags = 0;',
    'let n = 0;',
    "let s = '';",
    ...(strings.length > 0 ? [stringsBudget] : []),
    ...strings.map(
      (s) =>
        `s = v.${s.name}; ${fit(s.name)} if (n < 0) { n = ~n; flags = ${FLAG_TRUNCATED}; } left -= n; ` +
        `view.setUint16(at, n, true); writeUtf8(u8, at + ${STRING_LENGTH_BYTES}, s, n); at += ${STRING_LENGTH_BYTES} + n;`,
    ),
    `u8[o + ${d.flagsOffset}] = flags;`,
    'return at - o;',
  ];
  const zero: Record<FieldCode, string> = {
    [FieldCode.f64]: '0',
    [FieldCode.u64]: '0n',
    [FieldCode.u32]: '0',
    [FieldCode.i32]: '0',
    [FieldCode.u16]: '0',
    [FieldCode.u8]: '0',
    [FieldCode.bool]: 'false',
    [FieldCode.string]: "''",
  };
  const getter: Record<FieldCode, string> = {
    [FieldCode.f64]: 'view.getFloat64(o + OFF, true)',
    [FieldCode.u64]: 'view.getBigUint64(o + OFF, true)',
    [FieldCode.u32]: 'view.getUint32(o + OFF, true)',
    [FieldCode.i32]: 'view.getInt32(o + OFF, true)',
    [FieldCode.u16]: 'view.getUint16(o + OFF, true)',
    [FieldCode.u8]: 'u8[o + OFF]',
    [FieldCode.bool]: '',
    [FieldCode.string]: '',
  };
  // Bools and strings are checked before the object is made; the literal then lists every
  // field in declaration order, so each schema's decoded objects share one hidden class.
  const decode = [
    `if (length < ${d.fixedBytes}) return null;`,
    'const end = o + length;',
    'if (end > u8.length) return null;',
    `const flags = u8[o + ${d.flagsOffset}];`,
    `if ((flags & ~${FLAG_TRUNCATED}) !== 0${strings.length === 0 ? ' || flags !== 0' : ''}) return null;`,
    ...fixed.filter((s) => s.code === FieldCode.bool).map((s) => `const b_${s.name} = u8[o + ${s.offset}]; if (b_${s.name} > 1) return null;`),
    `let at = o + ${d.stringsOffset};`,
    'let n = 0;',
    ...strings.map(
      (s) =>
        `if (at + ${STRING_LENGTH_BYTES} > end) return null; n = view.getUint16(at, true); at += ${STRING_LENGTH_BYTES}; ` +
        `if (n > ${max} || at + n > end) return null; const s_${s.name} = readUtf8(u8, at, n); if (s_${s.name} === null) return null; at += n;`,
    ),
    'if (at !== end) return null;',
    `flagsOut.truncated = (flags & ${FLAG_TRUNCATED}) !== 0;`,
    `return { ${(declared as FieldSlot[])
      .map((s) =>
        s.code === FieldCode.string
          ? `${s.name}: s_${s.name}`
          : s.code === FieldCode.bool
            ? `${s.name}: b_${s.name} === 1`
            : `${s.name}: ${getter[s.code].replace('OFF', String(s.offset))}`,
      )
      .join(', ')} };`,
  ];
  const source = [
    "'use strict';",
    `function EventRecord() {\n    ${(declared as FieldSlot[]).map((s) => `this.${s.name} = ${zero[s.code]};`).join('\n    ')}\n  }`,
    'return {',
    '  Record: EventRecord,',
    `  length: function length(v, budget) {\n    ${length.join('\n    ')}\n  },`,
    `  write: function write(v, view, u8, o, budget) {\n    ${write.join('\n    ')}\n  },`,
    `  validate: function validate(v, budget) {\n    ${validate.join('\n    ')}\n  },`,
    `  decode: function decode(view, u8, o, length, flagsOut) {\n    ${decode.join('\n    ')}\n  },`,
    '};',
  ].join('\n');
  const make = new Function('utf8Fit', 'writeUtf8', 'readUtf8', source) as (
    fit: typeof utf8Fit,
    put: typeof writeUtf8,
    get: typeof readUtf8,
  ) => CompiledEncoder;
  return make(utf8Fit, writeUtf8, readUtf8);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function fieldError(descriptor: EventDescriptor, slot: FieldSlot, rule: string): string {
  return `event ${JSON.stringify(descriptor.name)}: field ${JSON.stringify(slot.name)} (${slot.type}) ${rule}`;
}

/**
 * Checks every value and returns the exact payload length within `budget` bytes (see
 * CompiledEncoder); with `exact`, a key that is not a field is refused too.
 */
function check(descriptor: EventDescriptor, values: unknown, budget: number, exact: boolean): number {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new TypeError(`event ${JSON.stringify(descriptor.name)}: values must be an object (got ${describe(values)})`);
  }
  const record = values as Readonly<Record<string, unknown>>;
  if (exact) for (const key in record) {
    if (!Object.hasOwn(descriptor.fields, key)) {
      throw new TypeError(`event ${JSON.stringify(descriptor.name)}: unknown field ${JSON.stringify(key)} (the fields are ${Object.keys(descriptor.fields).join(', ')})`);
    }
  }
  const max = descriptor.options.maxStringBytes;
  let length = descriptor.fixedBytes;
  let left = budget - descriptor.stringsOffset - (descriptor.layout.length - descriptor.fixedCount) * STRING_LENGTH_BYTES;
  const layout = descriptor.layout;
  // An index loop and no destructuring: this runs per emit(), and both would allocate.
  for (let i = 0; i < layout.length; i++) {
    const slot = layout[i]!;
    const v = record[slot.name];
    const want = jsType(slot.code);
    if (typeof v !== want) {
      throw new TypeError(fieldError(descriptor, slot, v === undefined ? 'is missing' : `must be a ${want} (got ${describe(v)})`));
    }
    switch (slot.code) {
      case FieldCode.u8:
      case FieldCode.u16:
      case FieldCode.u32:
      case FieldCode.i32: {
        const range = RANGES[slot.code]!;
        const lo = range[0];
        const hi = range[1];
        if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) {
          throw new RangeError(fieldError(descriptor, slot, `must be an integer between ${lo} and ${hi} (got ${v as number})`));
        }
        break;
      }
      case FieldCode.u64:
        if ((v as bigint) < 0n || (v as bigint) > MAX_U64) {
          throw new RangeError(fieldError(descriptor, slot, `must be between 0n and ${MAX_U64}n (got ${v as bigint}n)`));
        }
        break;
      case FieldCode.string: {
        let bytes = utf8Fit(v as string, left < max ? left : max);
        if (bytes < 0) {
          if (descriptor.options.onLongString === 'error') {
            const total = utf8Fit(v as string, Infinity);
            const bound = left < max ? `the ${left} bytes the event has left for it` : `options.maxStringBytes = ${max}`;
            throw new RangeError(fieldError(descriptor, slot, `is ${total} UTF-8 bytes, over ${bound} (onLongString is 'error')`));
          }
          bytes = ~bytes;
        }
        left -= bytes;
        length += STRING_LENGTH_BYTES + bytes;
        break;
      }
      default: // f64 (any number), bool: the type is the rule
    }
  }
  return length;
}

/**
 * Exact payload bytes `encode` writes for these values (strings measured in UTF-8 without
 * allocating). Validates the values like `encode`.
 */
export function encodedLength<F extends FieldSpec>(descriptor: EventDescriptor<F>, values: NoInfer<EventValues<F>>): number {
  const length = encoderOf(descriptor as EventDescriptor).validate(values, NO_BUDGET);
  return length >= 0 ? length : check(descriptor as EventDescriptor, values, NO_BUDGET, false);
}

/**
 * `encodedLength` within `budget` payload bytes (strings cut to fit it, as CompiledEncoder
 * says), refusing keys that are not fields of the schema: what a log's writer measures an
 * event with. A TypeError for anything that is not a descriptor made by defineEvent.
 */
export function checkedLength(descriptor: EventDescriptor, values: unknown, budget: number): number {
  // The schema's generated validator accepts good values fast; for bad ones the generic
  // check runs to say exactly what is wrong (and throws).
  const length = encoderOf(descriptor).validate(values, budget);
  return length >= 0 ? length : check(descriptor, values, budget, true);
}

/**
 * Validates every value, then writes the payload at `u8[offset]` and returns its length.
 * TypeError for a missing field or a value of the wrong type, RangeError for a value out
 * of range (or, under `onLongString: 'error'`, a string over `maxStringBytes`) or a payload
 * that runs past `u8`; in every such case nothing is written. Extra keys are ignored here
 * (a log's `emit` refuses them).
 */
export function encode<F extends FieldSpec>(
  descriptor: EventDescriptor<F>,
  values: NoInfer<EventValues<F>>,
  u8: Uint8Array,
  offset: number,
): number {
  const d = descriptor as EventDescriptor;
  const length = check(d, values, NO_BUDGET, false);
  if (!Number.isInteger(offset) || offset < 0 || offset + length > u8.length) {
    throw new RangeError(
      `event ${JSON.stringify(d.name)}: a payload of ${length} bytes at offset ${offset} does not fit a buffer of ${u8.length} bytes`,
    );
  }
  return encoderOf(d).write(values, viewOf(u8), u8, offset, NO_BUDGET);
}

/**
 * The compiled encoder of a schema, for a caller that keeps it across events (the
 * EventLog's writer caches the last one it used). Both within `budget` payload bytes
 * (`NO_BUDGET`: none); both the hot path (throw nothing, allocate nothing):
 * - `length(values, budget)`: the exact payload bytes `write` writes, or a negative
 *   `EncodeFailure`: `wrongType` when a field is missing or not of its schema's JS type
 *   (ranges are not checked), `stringTooLong` when a string is over `maxStringBytes` under
 *   `onLongString: 'error'`;
 * - `write(values, view, u8, offset, budget)`: the payload at `u8[offset]` (`view` a
 *   DataView of `u8`), after `length` accepted the same values; numbers are converted as
 *   typed arrays convert them, and a string over `maxStringBytes` is cut and flagged.
 * A TypeError for anything that is not a descriptor made by defineEvent.
 */
export function compiledEncoder(descriptor: EventDescriptor): {
  length(values: object, budget: number): number;
  write(values: object, view: DataView, u8: Uint8Array, offset: number, budget: number): number;
  validate(values: unknown, budget: number): number;
} {
  return encoderOf(descriptor);
}

/**
 * A reusable record for the hot path: an object with every field at its zero value (0, 0n,
 * false, ''), in declaration order, sealed so a misspelt field throws. Keep one per schema
 * and thread and refill it per event: the numbers stored into it stay unboxed, where a
 * plain object literal's may not (see `compile`).
 */
export function createRecord<F extends FieldSpec>(descriptor: EventDescriptor<F>): EventRecord<F> {
  return Object.seal(new (encoderOf(descriptor as EventDescriptor).Record)()) as EventRecord<F>;
}

/**
 * Reads the payload of `length` bytes at `u8[offset]` (an `EventView`'s `u8`, `offset`
 * and `length`). Returns its values and `truncated`, or `null` if the bytes cannot be a
 * payload of this schema: too short, a string running past `length`, bytes left over, a
 * string over `maxStringBytes` or not UTF-8, a bool other than 0 or 1, reserved flag bits
 * set. Never throws on bad bytes or bad bounds.
 */
export function decode<F extends FieldSpec>(
  descriptor: EventDescriptor<F>,
  u8: Uint8Array,
  offset: number,
  length: number,
): DecodedEvent<F> | null {
  const out = decodeFields(descriptor, u8, offset, length, decodeFlags);
  if (out === null) return null;
  out['truncated'] = decodeFlags.truncated;
  return out as DecodedEvent<F>;
}

/** Scratch for `decode`'s truncated flag. */
const decodeFlags = { truncated: false };

/**
 * `decode` without the `truncated` key: the fields alone, in declaration order, and the
 * flag in `flagsOut` (what a consumer building its own entry wants; no copy).
 */
export function decodeFields(
  descriptor: EventDescriptor,
  u8: Uint8Array,
  offset: number,
  length: number,
  flagsOut: { truncated: boolean },
): Record<string, unknown> | null {
  if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0)) return null;
  return encoderOf(descriptor).decode(viewOf(u8), u8, offset, length, flagsOut);
}
