import { describe, expect, it } from 'vitest';
import {
  RecordKind,
  headerKind,
  headerLength,
  headerType,
  joinTimestamp,
  needsAbsolute,
  packHeader,
  recordBytes,
  splitHigh,
  splitLow,
} from '../../src/ring/record.js';
import { TAG_MODULUS, slotPhys, slotTag, slotWord, tagOf } from '../../src/ring/layout.js';

describe('event codec', () => {
  it('packs and unpacks kind, length and type at their extremes', () => {
    for (const kind of [RecordKind.data, RecordKind.absolute, RecordKind.padding]) {
      for (const length of [0, 1, 16, 0x3fff]) {
        for (const type of [0, 1, 0x7fff, 0xffff]) {
          const w = packHeader(kind, length, type);
          expect([headerKind(w), headerLength(w), headerType(w)]).toEqual([kind, length, type]);
        }
      }
    }
  });

  it('never decodes an all-zero word as a record', () => {
    expect(headerKind(0)).toBe(RecordKind.invalid);
  });

  it('sizes records 8-byte aligned, with 8 more bytes for an absolute timestamp', () => {
    expect(recordBytes(0, false)).toBe(8);
    expect(recordBytes(1, false)).toBe(16);
    expect(recordBytes(16, false)).toBe(24);
    expect(recordBytes(16, true)).toBe(32);
    expect(recordBytes(17, false)).toBe(32);
  });

  it('needs an absolute timestamp exactly outside 0..2^32-1 ns past the page base', () => {
    expect(needsAbsolute(100, 100)).toBe(false);
    expect(needsAbsolute(100 + 0xffffffff, 100)).toBe(false);
    expect(needsAbsolute(100 + 0x100000000, 100)).toBe(true);
    expect(needsAbsolute(99, 100)).toBe(true);
  });

  it('splits and joins 53-bit timestamps exactly', () => {
    for (const ts of [0, 1, 0xffffffff, 0x100000000, 123456789012345, Number.MAX_SAFE_INTEGER]) {
      expect(joinTimestamp(splitLow(ts), splitHigh(ts))).toBe(ts);
    }
  });
});

describe('slot words', () => {
  it('round-trip tag and physical page, and wrap the tag modulo 2^TAG_BITS', () => {
    for (const seq of [0, 1, 4095, TAG_MODULUS - 1, TAG_MODULUS, TAG_MODULUS * 3 + 7]) {
      for (const phys of [0, 1, 4096]) {
        const w = slotWord(seq, phys);
        expect(slotTag(w)).toBe(tagOf(seq));
        expect(slotPhys(w)).toBe(phys);
      }
    }
    expect(tagOf(TAG_MODULUS)).toBe(0);
  });
});
