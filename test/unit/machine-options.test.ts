import { describe, expect, it } from 'vitest';
import { NmiEntryMode } from '../../src/machine/patch-area.js';
import { resolveMachineOptions } from '../../src/machine/machine.js';

/** The machine's options are checked and defaulted once, before any thread starts. */
describe('resolveMachineOptions', () => {
  it('fills in every documented default', () => {
    const c = resolveMachineOptions({ seed: 5 });
    expect(c).toMatchObject({
      cpus: 2,
      sites: 20_000,
      tracedFraction: 1,
      notraceFraction: 0.01,
      nmiPerSecond: 10_000,
      nmiSites: [0, 1, 2, 3],
      tracerSites: [],
      seed: 5,
      idleProbability: 0.001,
      idleMs: 0.2,
      ring: { pagesPerCpu: 256, pageBytes: 4096, mode: 'overwrite', clock: 'hrtime' },
      timeoutMs: 30_000,
      nmiEntry: NmiEntryMode.plain,
      notraceNmiSites: false,
      crash: null,
    });
    expect(resolveMachineOptions({ sites: 2 }).nmiSites).toEqual([0, 1]);
    expect(resolveMachineOptions({ traced: 'none' }).tracedFraction).toBe(0);
    expect(resolveMachineOptions({ traced: 0.25 }).tracedFraction).toBe(0.25);
    const seed = resolveMachineOptions().seed;
    expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32).toBe(true);
  });

  it('rejects a bad value naming the option and its range', () => {
    expect(() => resolveMachineOptions({ cpus: 0 })).toThrow(new RangeError('options.cpus must be an integer between 1 and 64 (got 0)'));
    expect(() => resolveMachineOptions({ traced: 2 })).toThrow(/options\.traced must be a number between 0 and 1 \(got 2\)/);
    expect(() => resolveMachineOptions({ sites: 10, nmiSites: [10] })).toThrow(/nmiSites\/tracerSites entry must be an integer between 0 and 9/);
    expect(() => resolveMachineOptions({ idleMs: -1 })).toThrow(RangeError);
    expect(() => resolveMachineOptions({ cpus: '2' as unknown as number })).toThrow(TypeError);
  });
});
