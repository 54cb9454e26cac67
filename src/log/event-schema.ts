/**
 * The event schema of the EventLog: `defineEvent` turns a name and an object of field
 * types into a frozen descriptor that fixes the payload layout once. The codec
 * (payload-codec.ts) reads and writes payloads through this layout only.
 *
 * Payload byte map (offsets from the payload's start, which the ring aligns to 8 bytes;
 * every multi-byte value is little-endian, so a dump file reads the same anywhere):
 *
 * ```
 * offset          width  contents
 * 0               8 each the 8-byte fields (f64, u64), in declaration order
 * ...             4 each the 4-byte fields (u32, i32), in declaration order
 * ...             2 each the 2-byte fields (u16), in declaration order
 * ...             1 each the 1-byte fields (u8, bool: 0 or 1), in declaration order
 * flagsOffset     1      flags: bit 0 (FLAG_TRUNCATED) a string was truncated; bits 1-7 are zero
 * stringsOffset   2 + n  each string field, in declaration order: u16 byte length n, then n bytes of UTF-8
 * ```
 *
 * Every fixed field therefore sits at a multiple of its own width (all 8-byte fields come
 * before all 4-byte ones, and so on), so its offset depends only on the schema, never on
 * the values. `fixedBytes = stringsOffset` counts the fixed fields and the flags byte;
 * `maxBytes` adds each string's length word and `maxStringBytes`. A payload's exact
 * length is `fixedBytes` + the sum over strings of (2 + its UTF-8 byte length).
 *
 * Example: `defineEvent('req', { status: 'u16', path: 'string', at: 'f64', ok: 'bool', id: 'u64', n: 'i32' })`
 *
 * ```
 * 0   at      f64
 * 8   id      u64
 * 16  n       i32
 * 20  status  u16
 * 22  ok      bool
 * 23  flags   u8
 * 24  path    u16 length + up to 1024 bytes     fixedBytes 24, maxBytes 24 + 2 + 1024 = 1050
 * ```
 *
 * Only this module knows the layout; the codec uses the descriptor's `layout`,
 * `flagsOffset` and `stringsOffset` and the constants below.
 */

import { checkOptionNames } from '../option-check.js';

/** The field types, each with its width in the fixed part (strings: 0, they live after it). */
export const FieldWidth = {
  u8: 1,
  u16: 2,
  u32: 4,
  i32: 4,
  f64: 8,
  u64: 8,
  bool: 1,
  string: 0,
} as const;
export type FieldType = keyof typeof FieldWidth;
const FIELD_TYPES = Object.keys(FieldWidth) as FieldType[];

/** Numeric codes of the field types, for the codec's switch. */
export const FieldCode = {
  u8: 0,
  u16: 1,
  u32: 2,
  i32: 3,
  f64: 4,
  u64: 5,
  bool: 6,
  string: 7,
} as const;
export type FieldCode = (typeof FieldCode)[keyof typeof FieldCode];

/** The value a field type carries in JavaScript. */
export type FieldValue<T extends FieldType> = T extends 'u64'
  ? bigint
  : T extends 'bool'
    ? boolean
    : T extends 'string'
      ? string
      : number;

/** Field names to field types, in declaration order. */
export type FieldSpec = { readonly [name: string]: FieldType };

/** The values of one event of a schema. */
export type EventValues<F extends FieldSpec> = { readonly [K in keyof F]: FieldValue<F[K]> };

/** What to do with a string longer than `maxStringBytes`. */
export type LongStringPolicy = 'truncate' | 'error';

export interface EventOptions {
  /**
   * Largest UTF-8 byte length of each string field, 1 to 1024. Defaults to 1024: URLs, user
   * agents and error messages arrive whole. In a log, an event is also bounded as a whole by
   * the log's `maxEventBytes` (1024 by default): strings are cut, in declaration order, to
   * fit whichever bound comes first.
   */
  readonly maxStringBytes?: number;
  /**
   * `truncate`: cut the string at a character boundary to fit and set the record's
   * truncated flag; `error`: `encode` throws a RangeError (the hot path reports it).
   * Defaults to `truncate`.
   */
  readonly onLongString?: LongStringPolicy;
}

export interface ResolvedEventOptions {
  readonly maxStringBytes: number;
  readonly onLongString: LongStringPolicy;
}

/** Where one field lives in the payload. */
export interface FieldSlot {
  readonly name: string;
  readonly type: FieldType;
  readonly code: FieldCode;
  /** Byte offset in the payload; for a string, -1 (strings follow one another from `stringsOffset`). */
  readonly offset: number;
  /** Bytes in the fixed part (strings: 0). */
  readonly width: number;
}

export interface EventDescriptor<F extends FieldSpec = FieldSpec> {
  readonly name: string;
  /** Field types in declaration order. */
  readonly fields: F;
  readonly options: ResolvedEventOptions;
  /** Every field in payload order: fixed fields by falling width, then the strings. */
  readonly layout: readonly FieldSlot[];
  /** Number of fixed (non-string) fields: `layout[0 .. fixedCount)` are fixed, the rest strings. */
  readonly fixedCount: number;
  /** Offset of the flags byte. */
  readonly flagsOffset: number;
  /** Offset of the first string's length word. */
  readonly stringsOffset: number;
  /** Bytes before the strings: fixed fields and the flags byte. The smallest payload of a schema without strings. */
  readonly fixedBytes: number;
  /**
   * Smallest payload: `fixedBytes` plus each string's length word. A log takes a schema whose
   * smallest payload fits its `maxEventBytes`, and cuts strings to fit that bound.
   */
  readonly minBytes: number;
  /** Largest payload: `fixedBytes` plus each string's length word and `maxStringBytes`. */
  readonly maxBytes: number;
  /** Whether every event of this schema fits a ring whose `maxPayloadBytes` is this. */
  fits(maxPayloadBytes: number): boolean;
}

/** Bit of the flags byte: at least one string of the record was truncated. */
export const FLAG_TRUNCATED = 1;
/** Bytes of a string's length prefix (u16). */
export const STRING_LENGTH_BYTES = 2;
export const DEFAULT_MAX_STRING_BYTES = 1024;
export const MAX_STRING_BYTES = 1024;
export const MAX_EVENT_NAME_LENGTH = 64;
export const MAX_FIELDS = 32;
/** `decode()` adds this key to every decoded event, so no field may take it. */
const RESERVED_FIELD_NAMES: ReadonlySet<string> = new Set(['truncated', '__proto__']);
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const OPTION_NAMES: readonly (keyof EventOptions)[] = ['maxStringBytes', 'onLongString'];

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : String(value);
}

function resolveOptions(name: string, options: unknown): ResolvedEventOptions {
  if (options === undefined) return { maxStringBytes: DEFAULT_MAX_STRING_BYTES, onLongString: 'truncate' };
  checkOptionNames(options, OPTION_NAMES, `event ${JSON.stringify(name)}: options`);
  const o = options as { maxStringBytes?: unknown; onLongString?: unknown };
  const maxStringBytes = o.maxStringBytes ?? DEFAULT_MAX_STRING_BYTES;
  if (typeof maxStringBytes !== 'number') {
    throw new TypeError(`event ${JSON.stringify(name)}: options.maxStringBytes must be a number (got ${describe(maxStringBytes)})`);
  }
  if (!Number.isInteger(maxStringBytes) || maxStringBytes < 1 || maxStringBytes > MAX_STRING_BYTES) {
    throw new RangeError(
      `event ${JSON.stringify(name)}: options.maxStringBytes must be an integer between 1 and ${MAX_STRING_BYTES} (got ${maxStringBytes})`,
    );
  }
  const onLongString = o.onLongString ?? 'truncate';
  if (typeof onLongString !== 'string') {
    throw new TypeError(
      `event ${JSON.stringify(name)}: options.onLongString must be a string, one of truncate, error (got ${describe(onLongString)})`,
    );
  }
  if (onLongString !== 'truncate' && onLongString !== 'error') {
    throw new RangeError(
      `event ${JSON.stringify(name)}: options.onLongString must be one of truncate, error (got ${JSON.stringify(onLongString)})`,
    );
  }
  return { maxStringBytes, onLongString };
}

/**
 * Defines an event schema. `fields` maps field names (identifiers) to field types, in the
 * order they are declared; the descriptor's value type follows from it:
 * `defineEvent('req', { status: 'u16', path: 'string' })` carries `{ status: number; path: string }`.
 * Validates everything now: TypeError for a wrong type, RangeError for a bad value.
 */
export function defineEvent<const F extends FieldSpec>(name: string, fields: F, options?: EventOptions): EventDescriptor<F> {
  if (typeof name !== 'string') throw new TypeError(`event name must be a string (got ${describe(name)})`);
  if (name.length < 1 || name.length > MAX_EVENT_NAME_LENGTH) {
    throw new RangeError(`event name must be 1 to ${MAX_EVENT_NAME_LENGTH} characters long (got ${name.length})`);
  }
  const q = JSON.stringify(name);
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new TypeError(`event ${q}: fields must be an object of field names to types (got ${describe(fields)})`);
  }
  const names = Object.keys(fields);
  if (names.length < 1 || names.length > MAX_FIELDS) {
    throw new RangeError(`event ${q}: fields must name 1 to ${MAX_FIELDS} fields (got ${names.length})`);
  }
  const allowed = FIELD_TYPES.join(', ');
  const declared: Array<[string, FieldType]> = [];
  for (const field of names) {
    if (!IDENTIFIER.test(field)) {
      throw new RangeError(
        `event ${q}: field name ${JSON.stringify(field)} must be an identifier (ASCII letters, digits, _ and $, not starting with a digit)`,
      );
    }
    if (RESERVED_FIELD_NAMES.has(field)) {
      throw new RangeError(`event ${q}: field name ${JSON.stringify(field)} is reserved (decode() adds "truncated")`);
    }
    const type: unknown = (fields as Record<string, unknown>)[field];
    if (typeof type !== 'string') {
      throw new TypeError(`event ${q}: field ${JSON.stringify(field)} must have a type, one of ${allowed} (got ${describe(type)})`);
    }
    if (!Object.hasOwn(FieldWidth, type)) {
      throw new RangeError(`event ${q}: field ${JSON.stringify(field)} has type ${JSON.stringify(type)}; the types are ${allowed}`);
    }
    declared.push([field, type as FieldType]);
  }
  const resolved = resolveOptions(name, options);

  // Fixed fields by falling width (stable: declaration order within a width), then strings.
  const layout: FieldSlot[] = [];
  let offset = 0;
  for (const width of [8, 4, 2, 1]) {
    for (const [field, type] of declared) {
      if (FieldWidth[type] !== width) continue;
      layout.push(Object.freeze({ name: field, type, code: FieldCode[type], offset, width }));
      offset += width;
    }
  }
  const fixedCount = layout.length;
  const flagsOffset = offset;
  const stringsOffset = flagsOffset + 1;
  let strings = 0;
  for (const [field, type] of declared) {
    if (type !== 'string') continue;
    layout.push(Object.freeze({ name: field, type, code: FieldCode.string, offset: -1, width: 0 }));
    strings++;
  }
  const maxBytes = stringsOffset + strings * (STRING_LENGTH_BYTES + resolved.maxStringBytes);
  const frozenFields = Object.freeze(Object.fromEntries(declared)) as F;
  return Object.freeze({
    name,
    fields: frozenFields,
    options: Object.freeze(resolved),
    layout: Object.freeze(layout),
    fixedCount,
    flagsOffset,
    stringsOffset,
    fixedBytes: stringsOffset,
    minBytes: stringsOffset + strings * STRING_LENGTH_BYTES,
    maxBytes,
    fits(maxPayloadBytes: number): boolean {
      return maxBytes <= maxPayloadBytes;
    },
  });
}

/**
 * Throws a RangeError unless every event of the schema fits payloads of `maxPayloadBytes`:
 * what registering a schema with a ring's EventLog checks.
 */
export function assertFits(descriptor: EventDescriptor, maxPayloadBytes: number): void {
  if (descriptor.fits(maxPayloadBytes)) return;
  const strings = descriptor.layout.length - descriptor.fixedCount;
  throw new RangeError(
    `event ${JSON.stringify(descriptor.name)} needs up to ${descriptor.maxBytes} payload bytes ` +
      `(${descriptor.fixedBytes} fixed + ${strings} string(s) of up to ${STRING_LENGTH_BYTES} + ${descriptor.options.maxStringBytes}), ` +
      `over maxPayloadBytes = ${maxPayloadBytes}; lower options.maxStringBytes or raise the ring's maxPayloadBytes`,
  );
}

/** Version of the schema JSON below; bump it when the layout rules change. */
export const SCHEMA_JSON_FORMAT = 1;

/** A schema as plain JSON: enough to rebuild an identical descriptor on another thread or from a dump file. */
export interface EventSchemaJson {
  readonly format: typeof SCHEMA_JSON_FORMAT;
  readonly name: string;
  /** In declaration order. */
  readonly fields: ReadonlyArray<{ readonly name: string; readonly type: FieldType }>;
  readonly options: ResolvedEventOptions;
}

export function schemaToJson(descriptor: EventDescriptor): EventSchemaJson {
  return {
    format: SCHEMA_JSON_FORMAT,
    name: descriptor.name,
    fields: Object.keys(descriptor.fields).map((name) => ({ name, type: descriptor.fields[name]! })),
    options: { maxStringBytes: descriptor.options.maxStringBytes, onLongString: descriptor.options.onLongString },
  };
}

/**
 * Rebuilds a descriptor from `schemaToJson`'s output, or from that output as a JSON string.
 * Anything else is a TypeError saying which part is wrong.
 */
export function schemaFromJson(json: unknown): EventDescriptor {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch (e) {
      throw new TypeError(`schema JSON does not parse: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`schema JSON must be an object (got ${describe(value)})`);
  }
  const o = value as { format?: unknown; name?: unknown; fields?: unknown; options?: unknown };
  if (o.format !== SCHEMA_JSON_FORMAT) {
    throw new TypeError(`schema JSON format must be ${SCHEMA_JSON_FORMAT} (got ${show(o.format)})`);
  }
  if (typeof o.name !== 'string') throw new TypeError(`schema JSON name must be a string (got ${describe(o.name)})`);
  if (!Array.isArray(o.fields)) {
    throw new TypeError(`schema JSON fields must be an array of { name, type } (got ${describe(o.fields)})`);
  }
  const fields: Record<string, unknown> = {};
  for (const [i, f] of (o.fields as unknown[]).entries()) {
    const entry = f as { name?: unknown; type?: unknown } | null;
    if (typeof entry !== 'object' || entry === null || typeof entry.name !== 'string') {
      throw new TypeError(`schema JSON fields[${i}] must be an object { name: string, type } (got ${describe(f)})`);
    }
    if (Object.hasOwn(fields, entry.name)) {
      throw new TypeError(`schema JSON fields[${i}] repeats the field name ${JSON.stringify(entry.name)}`);
    }
    Object.defineProperty(fields, entry.name, { value: entry.type, enumerable: true, writable: true, configurable: true });
  }
  if (typeof o.options !== 'object' || o.options === null || Array.isArray(o.options)) {
    throw new TypeError(`schema JSON options must be an object (got ${describe(o.options)})`);
  }
  try {
    return defineEvent(o.name, fields as FieldSpec, o.options as EventOptions);
  } catch (e) {
    // Same message as defineEvent's, as a TypeError: the JSON is not a valid schema.
    throw new TypeError(`schema JSON is not a valid schema: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
