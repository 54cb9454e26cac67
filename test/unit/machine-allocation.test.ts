import { describe, expect, it } from 'vitest';
import { bytesPerIteration, scavengesDuring } from '../gc.js';
import { Cpu } from '../../src/machine/cpu.js';
import { MachineMemory } from '../../src/machine/machine-memory.js';
import { layoutCodePage } from '../../src/machine/machine.js';
import { testSeed } from '../seed.js';

describe('machine hot path', () => {
  it('a CPU step allocates nothing (counter clock): fetch, decode, tracer, ring write and NMIs over 2 M steps', async () => {
    const seed = testSeed('machine-allocation');
    const memory = MachineMemory.create(1, 2_000, { pagesPerCpu: 16, pageBytes: 4096, mode: 'overwrite', clock: 'counter' });
    layoutCodePage(memory.code, seed, 0.5, 0.01); // half the sites CALL the tracer, half NOP5
    const cpu = new Cpu(memory, { cpu: 0, seed, nmiSites: [10, 11, 12], idleProbability: 0 });
    // An NMI every 101st interrupt point; the count lives in typed memory, where it does not box.
    const points = new Int32Array(1);
    cpu.nmiSchedule = () => ++points[0]! % 101 === 0;
    const run = (n: number): void => {
      for (let i = 0; i < n; i++) cpu.step();
    };
    run(300_000); // warm up: let V8 optimise the step path first
    // Precisely first: one boxed number per step would read 16 bytes.
    expect(bytesPerIteration(run, 20_000)).toBeLessThan(0.5);
    const before = memory.irq.counters(0);
    // A young generation is at least 1 MiB: 2 M steps allocating even 8 bytes each would scavenge many times.
    const minor = await scavengesDuring(() => run(2_000_000));
    const after = memory.irq.counters(0);
    expect(minor).toBeLessThanOrEqual(1);
    expect(after.sitesExecuted - before.sitesExecuted).toBeGreaterThan(2_000_000); // NMI handlers execute sites too
    expect(after.nmisTaken - before.nmisTaken).toBeGreaterThan(10_000);
    expect(memory.ring.cpuStats(0).entries).toBeGreaterThan(1_000_000);
  });
});
