import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RingBuffer, type LostEvents, type RingReader } from '../../src/index.js';
import { recordBytes } from '../../src/ring/record.js';
import { PAGE_HEADER_BYTES } from '../../src/ring/layout.js';
import { testSeed } from '../seed.js';

/**
 * Random operation sequences against a simple model of the buffer: the list of write
 * attempts, what each returned, and what the reader delivered. The ring must deliver
 * stored events in order and intact, announce every gap exactly, lose only the oldest
 * (overwrite) or the newest (discard) and only when the model says the ring was full,
 * and balance its accounting after every operation.
 */

type Op =
  | { readonly kind: 'write'; readonly length: number }
  | { readonly kind: 'discard'; readonly length: number }
  | { readonly kind: 'read'; readonly max: number }
  | { readonly kind: 'snapshot' };

interface Attempt {
  readonly id: number;
  readonly length: number;
  readonly stored: boolean;
  readonly discarded: boolean;
  /** Bytes the model believes were unread when this write was attempted. */
  readonly unreadBytesBefore: number;
}

interface Delivered {
  readonly id: number;
  readonly index: number;
}

function fillPayload(u8: Uint8Array, at: number, id: number, length: number): void {
  for (let i = 0; i < length; i++) u8[at + i] = (id * 31 + i * 7) & 0xff;
}

function checkPayload(bytes: Uint8Array, id: number): void {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== ((id * 31 + i * 7) & 0xff)) throw new Error(`event ${id} payload byte ${i} is torn`);
  }
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  // Writes outpace reads so the ring fills and both loss paths run.
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('write' as const), length: fc.integer({ min: 0, max: 32 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('discard' as const), length: fc.integer({ min: 0, max: 32 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), max: fc.integer({ min: 1, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
);

/** Runs one scenario; returns how many events were lost (overrun or dropped). */
function runScenario(mode: 'overwrite' | 'discard', pagesPerCpu: number, pageBytes: number, ops: readonly Op[]): number {
  const rb = RingBuffer.create({ cpus: 1, pagesPerCpu, pageBytes, maxPayloadBytes: 32, mode, clock: 'counter' });
  const w = rb.writer(0);
  const reader: RingReader = rb.reader();
  const attempts: Attempt[] = [];
  const delivered: Delivered[] = [];
  const lost: LostEvents[] = [];
  // Model of occupancy: bytes of every reservation after the last delivered one (an
  // over-estimate once padding is skipped, so the "ring was full" check stays sound).
  const reservedBytes: number[] = [];
  let lastDeliveredIndex = -1;
  const unreadBytes = (): number => reservedBytes.slice(lastDeliveredIndex + 1).reduce((n, b) => n + b, 0);
  const visitor = {
    event: (e: { u32(i: number): number; index: number; length: number; bytes(): Uint8Array }) => {
      const bytes = e.bytes();
      // The id travels in the type-independent payload; length-0 payloads carry none, so
      // recover it from the index: index = position among reservations.
      const a = attempts.find((x) => x.stored && indexOf.get(x.id) === e.index);
      if (a === undefined) throw new Error(`delivered index ${e.index} matches no stored write`);
      expect(e.length).toBe(a.length);
      checkPayload(bytes, a.id);
      delivered.push({ id: a.id, index: e.index });
      pendingCommitted.delete(e.index);
      lastDeliveredIndex = e.index;
    },
    lost: (l: LostEvents) => {
      lost.push(l);
      if (l.cause !== 'overrun') return;
      announcedOverrun += l.count;
      for (let i = l.beforeIndex - l.count; i < l.beforeIndex; i++) {
        pendingCommitted.delete(i);
        if (discards.has(i)) lostDiscards++;
      }
    },
    corrupt: (r: unknown) => {
      throw new Error(`corrupt report: ${JSON.stringify(r)}`);
    },
  };
  let announcedOverrun = 0;
  const indexOf = new Map<number, number>();
  let reservations = 0;
  // The model's own ledger: a committed event is pending until the reader delivers it or
  // announces it lost. `cpuStats` derives `unread` from its counters, so the identity alone
  // proves nothing: `unread` is compared with this ledger instead. (Discarded reservations
  // are in `unread` until the reader skips them, which the model does not see: they are
  // accounted through the reader's `discarded` count, bounded by the discards made.)
  const pendingCommitted = new Set<number>(); // iterates in index order
  const discards = new Set<number>();
  let lostDiscards = 0;
  let droppedAttempts = 0;
  // Plain comparisons: this runs after every operation, and `expect` would dominate the run time.
  const same = (what: string, actual: number, wanted: number): void => {
    if (actual !== wanted) throw new Error(`${what} is ${actual}, the model says ${wanted}`);
  };
  const checkAccounting = (): void => {
    const s = rb.cpuStats(0);
    same('written', s.written, attempts.length);
    same('entries', s.entries, reservations);
    same('dropped', s.dropped, droppedAttempts);
    same('read', s.read, delivered.length);
    same('corrupt', s.corrupt, 0);
    same('commitOverrun', s.commitOverrun, 0);
    if (mode === 'discard') same('overrun', s.overrun, 0);
    let held = pendingCommitted.size;
    let gapDiscards = 0;
    if (s.overrun !== announcedOverrun) {
      // Overwrite lost pending events the reader has not announced yet (not always the oldest:
      // the reader's page is safe). A snapshot, which decodes the pages rather than the
      // counters, splits the pending events exactly into those still held and the gaps not yet
      // announced, and the writer's overrun counter must cover exactly those gaps.
      const snap = rb.snapshot();
      const gaps = new Set<number>();
      let gapEvents = 0;
      for (const l of snap.lost) {
        if (l.cause !== 'overrun') throw new Error(`a snapshot of an overwrite ring announced ${l.cause}`);
        gapEvents += l.count;
        for (let i = l.beforeIndex - l.count; i < l.beforeIndex; i++) {
          gaps.add(i);
          if (discards.has(i)) gapDiscards++;
        }
      }
      expect(snap.events.map((e) => e.index)).toEqual([...pendingCommitted].filter((i) => !gaps.has(i)));
      same('overrun', s.overrun, announcedOverrun + gapEvents);
      held = snap.events.length;
    }
    // Discards the reader has yet to skip: made, not lost, not skipped.
    const discardsLeft = discards.size - lostDiscards - gapDiscards - s.discarded;
    if (discardsLeft < 0) throw new Error(`the reader skipped ${s.discarded} discarded records of ${discards.size - lostDiscards - gapDiscards}`);
    same('unread', s.unread, held + discardsLeft);
  };

  for (const op of ops) {
    if (op.kind === 'write' || op.kind === 'discard') {
      const id = attempts.length;
      const before = unreadBytes();
      const at = w.reserve(7, op.length);
      const stored = at >= 0;
      if (!stored) droppedAttempts++;
      if (stored) {
        fillPayload(w.u8, at, id, op.length);
        indexOf.set(id, reservations++);
        reservedBytes.push(recordBytes(op.length, false));
        if (op.kind === 'discard') {
          w.discard();
          discards.add(reservations - 1);
        } else {
          w.commit();
          pendingCommitted.add(reservations - 1);
        }
      }
      attempts.push({ id, length: op.length, stored, discarded: op.kind === 'discard', unreadBytesBefore: before });
    } else if (op.kind === 'read') {
      reader.read(visitor, { maxEvents: op.max });
    } else {
      // A snapshot shows exactly what the consumer will deliver next, and consumes nothing.
      const snap = rb.snapshot();
      const before = delivered.length;
      const ids = snap.events.map((e) => e.index);
      reader.drain(visitor);
      expect(delivered.slice(before).map((d) => d.index)).toEqual(ids);
    }
    checkAccounting();
  }
  reader.drain(visitor);
  checkAccounting();
  expect(rb.cpuStats(0).unread).toBe(0);

  // Delivered in write order, each stored non-discarded write delivered or announced lost, exactly once.
  const deliveredIds = delivered.map((d) => d.id);
  expect(deliveredIds).toEqual([...deliveredIds].sort((a, b) => a - b));
  expect(new Set(deliveredIds).size).toBe(deliveredIds.length);
  const lostIndices = new Set<number>();
  for (const l of lost) {
    if (l.cause === 'overrun') for (let i = l.beforeIndex - l.count; i < l.beforeIndex; i++) lostIndices.add(i);
  }
  const deliveredSet = new Set(deliveredIds);
  for (const a of attempts) {
    if (!a.stored || a.discarded) {
      expect(deliveredSet.has(a.id)).toBe(false);
      continue;
    }
    const index = indexOf.get(a.id)!;
    expect(deliveredSet.has(a.id) !== lostIndices.has(index)).toBe(true);
  }
  const s = rb.cpuStats(0);
  expect(lost.reduce((n, l) => n + l.count, 0)).toBe(s.overrun + s.dropped);
  expect(s.dropped).toBe(attempts.filter((a) => !a.stored).length);

  // Which end loses: a full ring is one whose unread bytes could not take another page.
  const dataBytes = pageBytes - PAGE_HEADER_BYTES;
  const worstWaste = recordBytes(32, true);
  const fullBound = (pagesPerCpu - 1) * (dataBytes - worstWaste);
  if (mode === 'discard') {
    expect(s.overrun).toBe(0);
    for (const a of attempts) if (!a.stored) expect(a.unreadBytesBefore).toBeGreaterThanOrEqual(fullBound);
  } else {
    expect(s.dropped).toBe(0);
    // Overwrite loses the oldest: nothing delivered after a gap is older than the gap.
    for (const l of lost) {
      for (const d of delivered) if (d.index >= l.beforeIndex - l.count && d.index < l.beforeIndex) throw new Error('delivered a lost event');
    }
    // The newest stored event always survives.
    const lastStored = [...attempts].reverse().find((a) => a.stored && !a.discarded);
    if (lastStored !== undefined) expect(deliveredSet.has(lastStored.id)).toBe(true);
  }
  reader.close();
  w.close();
  return s.overrun + s.dropped;
}

describe('ring buffer against a model', () => {
  for (const mode of ['overwrite', 'discard'] as const) {
    it(`${mode}: random writes, discards, reads and snapshots`, () => {
      const seed = testSeed(`ring-model ${mode}`);
      let losses = 0;
      fc.assert(
        fc.property(
          fc.integer({ min: 2, max: 6 }),
          fc.constantFrom(256, 512),
          fc.array(opArb, { maxLength: 400, size: 'max' }),
          (pages, pageBytes, ops) => {
            losses += runScenario(mode, pages, pageBytes, ops);
          },
        ),
        { seed, numRuns: 150 },
      );
      // The loss paths ran (in most scenarios the ring fills).
      expect(losses).toBeGreaterThan(50);
    });
  }
});
