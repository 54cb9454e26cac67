import { type EventDescriptor, schemaFromJson, schemaToJson } from './event-schema.js';

/**
 * The event schemas of one EventLog, in its shared memory, so that every thread (and a
 * dump of the memory) can decode every event. This module owns the registry region:
 *
 * | off | width | word              | written by             | read by      | how                                   |
 * |-----|-------|-------------------|------------------------|--------------|---------------------------------------|
 * | 0   | i32   | lock              | a registering thread   | registering  | Atomics.compareExchange / store       |
 * | 4   | i32   | entries           | the lock holder        | every thread | Atomics.store after the entry / load  |
 * | 8   | i32   | bytes used        | the lock holder        | lock holder  | plain, under the lock                 |
 * | 16  | ...   | entries: u16 length + UTF-8 JSON of the schema (schemaToJson), back to back |
 *
 * Entry i is event type TYPE_BASE + i. Registration is rare (once per event type per log)
 * and takes a lock; lookups read the published count and parse only entries not seen yet.
 *
 * Damaged memory (a dump with flipped bytes, a stray write) never makes a lookup throw: an
 * entry that does not parse, or cannot be found because one before it runs past the region,
 * has no schema and a reason (`damageOf`), so the reader reports its events and goes on.
 */
export const REGISTRY_HEADER_BYTES = 16;
const R_LOCK = 0;
const R_COUNT = 4;
const R_USED = 8;
/** Event type of the first registered schema (lower types are left to raw ring users). */
export const TYPE_BASE = 0x100;
const LOCK_SPIN_LIMIT = 100_000;

export class SchemaRegistry {
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly bytes: number;
  /** Schema by entry; null where the entry is damaged (its reason in `damage`). */
  private readonly byType: (EventDescriptor | null)[] = [];
  private readonly damage = new Map<number, string>();
  /** The readable schemas, in type order (what `all()` returns). */
  private readonly readable: EventDescriptor[] = [];
  private readonly byName = new Map<string, number>();
  private readonly known = new WeakMap<EventDescriptor, number>();
  private readonly maxPayloadBytes: number;
  /** The most entries the region can hold (each takes at least its 2-byte length). */
  private readonly maxEntries: number;
  /** Byte offset of the first entry not parsed yet. */
  private nextAt = REGISTRY_HEADER_BYTES;
  /** Set when the published count is more than the region can hold. */
  private countDamage: string | null = null;

  constructor(sab: SharedArrayBuffer, byteOffset: number, bytes: number, maxPayloadBytes: number) {
    this.i32 = new Int32Array(sab, byteOffset, REGISTRY_HEADER_BYTES / 4);
    this.u8 = new Uint8Array(sab, byteOffset, bytes);
    this.bytes = bytes;
    this.maxPayloadBytes = maxPayloadBytes;
    this.maxEntries = Math.floor((bytes - REGISTRY_HEADER_BYTES) / 2);
  }

  /** The event type of a descriptor, registering its schema the first time. */
  typeOf(descriptor: EventDescriptor): number {
    const cached = this.known.get(descriptor);
    if (cached !== undefined) return cached;
    this.sync();
    let type = this.matching(descriptor);
    if (type < 0) type = this.register(descriptor);
    this.known.set(descriptor, type);
    return type;
  }

  /** The schema of an event type, or undefined (no registered schema, or a damaged one: see `damageOf`). */
  descriptorOf(type: number): EventDescriptor | undefined {
    const i = type - TYPE_BASE;
    if (i < 0) return undefined;
    if (i >= this.byType.length) this.sync();
    return this.byType[i] ?? undefined;
  }

  /** Why an event type's schema cannot be read (its registry entry is damaged), or undefined. */
  damageOf(type: number): string | undefined {
    const i = type - TYPE_BASE;
    if (i < 0) return undefined;
    this.sync();
    if (i < this.byType.length) return this.damage.get(i);
    return this.countDamage !== null && i >= this.maxEntries ? this.countDamage : undefined;
  }

  /** Every readable registered schema, in type order. */
  all(): readonly EventDescriptor[] {
    this.sync();
    return this.readable;
  }

  private matching(descriptor: EventDescriptor): number {
    const i = this.byName.get(descriptor.name);
    if (i === undefined) return -1;
    const theirs = JSON.stringify(schemaToJson(this.byType[i]!));
    if (theirs !== JSON.stringify(schemaToJson(descriptor))) {
      throw new RangeError(`event ${JSON.stringify(descriptor.name)} is already registered in this log with another schema: ${theirs}`);
    }
    return TYPE_BASE + i;
  }

  private register(descriptor: EventDescriptor): number {
    // Strings are cut to fit the log's bound (payload-codec.ts), so only the rest must fit.
    if (descriptor.minBytes > this.maxPayloadBytes) {
      throw new RangeError(
        `event ${JSON.stringify(descriptor.name)} takes at least ${descriptor.minBytes} bytes (its fixed fields and string lengths), more than the log's maxEventBytes = ${this.maxPayloadBytes}`,
      );
    }
    const json = new TextEncoder().encode(JSON.stringify(schemaToJson(descriptor)));
    const token = ((Math.random() * 0x7ffffffe) | 0) + 1;
    for (let spins = 0; Atomics.compareExchange(this.i32, R_LOCK >> 2, 0, token) !== 0; spins++) {
      if (spins > LOCK_SPIN_LIMIT) throw new Error('the schema registry stayed locked: a thread died while registering?');
      Atomics.wait(this.i32, R_LOCK >> 2, Atomics.load(this.i32, R_LOCK >> 2), 0.05);
    }
    try {
      this.sync();
      const existing = this.matching(descriptor);
      if (existing >= 0) return existing;
      const used = this.i32[R_USED >> 2]! || REGISTRY_HEADER_BYTES;
      if (used < REGISTRY_HEADER_BYTES || used > this.bytes || this.countDamage !== null || this.nextAt !== used) {
        throw new TypeError(`the log's schema registry is damaged (${used} bytes used, entries end at ${this.nextAt}): cannot register ${JSON.stringify(descriptor.name)}`);
      }
      if (used + 2 + json.length > this.bytes || json.length > 0xffff) {
        throw new RangeError(`the log's schema registry is full (${this.bytes} bytes; registryBytes sets it)`);
      }
      this.u8[used] = json.length & 0xff;
      this.u8[used + 1] = json.length >>> 8;
      this.u8.set(json, used + 2);
      this.i32[R_USED >> 2] = used + 2 + json.length;
      const index = this.i32[R_COUNT >> 2]!;
      // Publishes the entry; pairs with the Atomics.load in sync() of every other thread.
      Atomics.store(this.i32, R_COUNT >> 2, index + 1);
      this.sync();
      return TYPE_BASE + index;
    } finally {
      Atomics.store(this.i32, R_LOCK >> 2, 0);
      Atomics.notify(this.i32, R_LOCK >> 2);
    }
  }

  /**
   * Parses the entries published since the last look. Garbage is recorded as damage, never
   * thrown and never looped on: each entry is looked at once, and at most maxEntries of them.
   */
  private sync(): void {
    const count = Atomics.load(this.i32, R_COUNT >> 2);
    if (count <= this.byType.length) return;
    if (count > this.maxEntries && this.countDamage === null) {
      this.countDamage = `the registry counts ${count} entries; its ${this.bytes} bytes hold at most ${this.maxEntries}`;
    }
    const limit = Math.min(count, this.maxEntries);
    while (this.byType.length < limit) {
      const i = this.byType.length;
      const at = this.nextAt;
      const length = at + 2 <= this.bytes ? this.u8[at]! | (this.u8[at + 1]! << 8) : -1;
      if (length < 0 || at + 2 + length > this.bytes) {
        // Nothing after this entry can be located: the lengths chain the entries.
        this.markDamaged(i, at >= this.bytes ? 'an earlier entry runs past the registry, so this one cannot be found' : `it runs past the registry (${length} bytes at byte ${at})`);
        this.nextAt = this.bytes;
        continue;
      }
      this.nextAt = at + 2 + length;
      let descriptor: EventDescriptor;
      try {
        descriptor = schemaFromJson(new TextDecoder().decode(this.u8.slice(at + 2, at + 2 + length)));
      } catch (err) {
        this.markDamaged(i, (err as Error).message);
        continue;
      }
      if (this.byName.has(descriptor.name)) {
        // Registration checks names under the lock: a repeated one is damage.
        this.markDamaged(i, `it repeats the name ${JSON.stringify(descriptor.name)} of entry ${this.byName.get(descriptor.name)}`);
        continue;
      }
      this.byType.push(descriptor);
      this.readable.push(descriptor);
      this.byName.set(descriptor.name, i);
    }
  }

  private markDamaged(entry: number, why: string): void {
    this.byType.push(null);
    this.damage.set(entry, `schema registry entry ${entry} is damaged: ${why}`);
  }
}
