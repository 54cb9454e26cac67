import { describe, expect, it } from 'vitest';
import {
  CODE_BASE,
  CodePage,
  INSN_BYTES,
  OPCODE_INT3,
  TRACER_ENTRY,
  codePageBytes,
  siteAddress,
  siteInstruction,
} from '../../src/machine/code-page.js';
import { Insn, decode, formatBytes } from '../../src/machine/instruction.js';
import { FetchModel } from '../../src/machine/fetch-model.js';
import { prng, testSeed } from '../seed.js';

function page(sites: number): CodePage {
  return new CodePage(new SharedArrayBuffer(codePageBytes(sites)), 0, sites);
}

describe('site encodings', () => {
  it('encodes CALL with rel32 = target - (site + 5), little-endian, and NOP5 as one instruction', () => {
    const call = siteInstruction(3, true);
    const rel = TRACER_ENTRY - (siteAddress(3) + 5);
    expect(siteAddress(3)).toBe(CODE_BASE + 24);
    expect([...call]).toEqual([0xe8, rel & 0xff, (rel >>> 8) & 0xff, (rel >>> 16) & 0xff, (rel >>> 24) & 0xff]);
    expect(formatBytes(siteInstruction(3, false))).toBe('0f 1f 44 00 00');
  });

  it('decodes NOP5, a call to the tracer, int3, and rejects every mix of the two instructions', () => {
    for (const site of [0, 1, 19_999]) {
      const nop = siteInstruction(site, false);
      const call = siteInstruction(site, true);
      expect(decode(site, nop)).toBe(Insn.nop5);
      expect(decode(site, call)).toBe(Insn.callTracer);
      expect(decode(site, Uint8Array.of(OPCODE_INT3, ...call.subarray(1)))).toBe(Insn.int3);
      expect(decode(site, Uint8Array.of(OPCODE_INT3, ...nop.subarray(1)))).toBe(Insn.int3);
      // Every byte-wise mix of old and new that is neither whole instruction is a fault.
      for (let mask = 1; mask < 31; mask++) {
        const mix = new Uint8Array(INSN_BYTES);
        for (let b = 0; b < INSN_BYTES; b++) mix[b] = (mask >> b) & 1 ? call[b]! : nop[b]!;
        const same = mix.every((x, b) => x === nop[b]) || mix.every((x, b) => x === call[b]);
        if (!same) expect(decode(site, mix), formatBytes(mix)).toBe(Insn.fault);
      }
    }
    // The seed thread's example: a call to nowhere.
    expect(decode(0, Uint8Array.of(0xe8, 0x1f, 0x44, 0x00, 0x00))).toBe(Insn.fault);
    // A call that is well formed but aimed elsewhere (another site's rel32) is a fault too.
    expect(decode(1, siteInstruction(0, true))).toBe(Insn.fault);
  });
});

describe('fetch model', () => {
  function writeAll(code: CodePage, site: number, bytes: Uint8Array): void {
    for (let b = 0; b < INSN_BYTES; b++) code.poke(site, b, bytes[b]!);
  }

  it('produces torn instructions when bytes change without a serializing event', () => {
    const seed = testSeed('fetch-model torn');
    const code = page(1);
    code.initialiseSite(0, false, false);
    const cpu = new FetchModel(1, prng(seed));
    const out = new Uint8Array(INSN_BYTES);
    cpu.fetch(code, 0, out); // the CPU now holds a copy of NOP5
    writeAll(code, 0, siteInstruction(0, true)); // unsynchronised: NOP5 -> CALL, all bytes at once
    const seen = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      cpu.fetch(code, 0, out);
      const kind = decode(0, out);
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
    }
    expect(seen.get(Insn.fault) ?? 0).toBeGreaterThan(800); // 30 of 32 byte mixes are torn
    expect(cpu.staleExecutions).toBeGreaterThan(0);
  });

  it('never tears when a serializing event separates the change from the execution', () => {
    const seed = testSeed('fetch-model serialized');
    const random = prng(seed);
    const code = page(4);
    const cpu = new FetchModel(4, random);
    const out = new Uint8Array(INSN_BYTES);
    for (let round = 0; round < 2000; round++) {
      const site = Math.floor(random() * 4);
      code.initialiseSite(site, random() < 0.5, false);
      for (let k = 0; k < 3; k++) cpu.fetch(code, site, out);
      cpu.serialize();
      const traced = random() < 0.5;
      writeAll(code, site, siteInstruction(site, traced));
      cpu.serialize();
      for (let k = 0; k < 5; k++) {
        cpu.fetch(code, site, out);
        expect(decode(site, out)).toBe(traced ? Insn.callTracer : Insn.nop5);
      }
    }
  });

  it('is safe under the int3 recipe in every schedule, and fails when any one of its three syncs is left out', () => {
    // Two sites: the CPU executes site 0 (which prefetches site 1 without executing it) and/or
    // site 1 (the one being patched) at six points: after each write and after each sync.
    // Every schedule of {nothing, 0, 1, 0 then 1, 1 then 0} at those points is run, with every
    // stale/current choice for the bytes that differ (staleByteProbability 1 and 0 bracket it).
    const options = [[], [0], [1], [0, 1], [1, 0]] as const;
    const schedules = options.length ** 6;
    for (const skip of [0, 1, 2, 3]) {
      let faultySchedules = 0;
      for (let schedule = 0; schedule < schedules; schedule++) {
        for (const p of [0, 1, 0.5]) {
          const code = page(2);
          code.initialiseSite(0, false, false);
          code.initialiseSite(1, (schedule & 1) === 0, false);
          const to = siteInstruction(1, (schedule & 1) !== 0);
          const cpu = new FetchModel(2, prng(schedule), { staleByteProbability: p });
          const out = new Uint8Array(INSN_BYTES);
          let faults = 0;
          let tornDown = false;
          const exec = (site: number): void => {
            cpu.fetch(code, site, out);
            const kind = decode(site, out);
            if (kind === Insn.fault || (kind === Insn.int3 && (site !== 1 || tornDown))) faults++;
            if (kind === Insn.int3) cpu.serialize(); // the trap's return is serializing
          };
          exec(0);
          exec(1);
          let point = 0;
          const at = (): void => {
            let code5 = schedule;
            for (let k = 0; k < point; k++) code5 = Math.floor(code5 / options.length);
            for (const site of options[code5 % options.length]!) exec(site);
            point++;
          };
          const writes: Array<() => void> = [
            () => code.poke(1, 0, OPCODE_INT3),
            () => {
              for (let b = 1; b < INSN_BYTES; b++) code.poke(1, b, to[b]!);
            },
            () => code.poke(1, 0, to[0]!),
          ];
          writes.forEach((write, i) => {
            write();
            at();
            if (i + 1 !== skip) cpu.serialize();
            if (i === 2) tornDown = true;
            at();
          });
          exec(1);
          if (faults > 0) {
            faultySchedules++;
            break;
          }
        }
      }
      if (skip === 0) expect(faultySchedules, 'all three syncs').toBe(0);
      else expect(faultySchedules, `sync ${skip} left out`).toBeGreaterThan(0);
    }
  });

  it('reads current bytes only, in mode off', () => {
    const code = page(1);
    code.initialiseSite(0, false, false);
    const cpu = new FetchModel(1, prng(1), { mode: 'off' });
    const out = new Uint8Array(INSN_BYTES);
    cpu.fetch(code, 0, out);
    for (let b = 0; b < INSN_BYTES; b++) code.poke(0, b, siteInstruction(0, true)[b]!);
    cpu.fetch(code, 0, out);
    expect(decode(0, out)).toBe(Insn.callTracer);
    expect(() => new FetchModel(1, prng(1), { staleByteProbability: 2 })).toThrow(RangeError);
  });
});
