import { describe, expect, it } from 'vitest';
import { Machine, type MachineOptions } from '../../src/machine/machine.js';
import { NmiEntryMode } from '../../src/machine/patch-area.js';
import { Patcher } from '../../src/patch/patcher.js';
import type { PatchReport, PatchRequest } from '../../src/patch/coordinator.js';
import { testSeed } from '../seed.js';

interface Run {
  readonly reports: PatchReport[];
  readonly faults: number;
  readonly stale: number;
  readonly corrupt: number;
  readonly unaccounted: number;
  readonly nmis: number;
  /** Per operation (the last, collecting one excluded): NMIs the CPUs took, and NMIs raised, while it ran. */
  readonly nmisDuring: number[];
  readonly nmisRaisedDuring: number[];
}

/** Boots a machine, runs `ops` alternating disable/enable operations with the request, stops. */
async function patchRun(name: string, boot: MachineOptions, request: Omit<PatchRequest, 'action'>, ops: number): Promise<Run> {
  const seed = testSeed(name);
  const machine = await Machine.start({ cpus: 2, seed, ...boot });
  let patcher: Patcher | null = null;
  const reports: PatchReport[] = [];
  const nmisDuring: number[] = [];
  const nmisRaisedDuring: number[] = [];
  try {
    patcher = await Patcher.start(machine);
    // The NMI counters around each operation (read racily while the CPUs run: a bracket a
    // little wider than the operation itself).
    const irq = machine.memory.irq;
    const cpus = [...Array(machine.memory.cpus).keys()];
    const taken = (): number => cpus.reduce((n, c) => n + irq.counters(c).nmisTaken, 0);
    const raised = (): number => cpus.reduce((n, c) => n + irq.counters(c).nmisRaised + irq.counters(c).nmisCoalesced, 0);
    for (let op = 0; op < ops; op++) {
      const t0 = taken();
      const r0 = raised();
      reports.push(await patcher.patch({ ...request, action: op % 2 === 0 ? 'disable' : 'enable' }));
      nmisDuring.push(taken() - t0);
      nmisRaisedDuring.push(raised() - r0);
    }
    // One more operation collects the stale executions after the last one.
    reports.push(await patcher.patch({ ...request, action: 'enable', filter: { sites: [] } }));
  } finally {
    await patcher?.close();
  }
  const r = await machine.stop();
  return {
    reports,
    faults: r.faults,
    stale: reports.reduce((n, x) => n + x.staleAfterPrevious, 0),
    corrupt: r.corrupt,
    unaccounted: r.unaccounted,
    nmis: r.nmis,
    nmisDuring,
    nmisRaisedDuring,
  };
}

// NMI handlers run the very sites being patched (sites 0..3 are in every filter below).
const NMI_BOOT: MachineOptions = { sites: 2_000, nmiPerSecond: 20_000, nmiSites: [0, 1, 2, 3], notraceFraction: 0 };

function expectSafe(run: Run): void {
  expect(run.faults).toBe(0);
  expect(run.stale).toBe(0);
  expect(run.corrupt).toBe(0);
  expect(run.unaccounted).toBe(0);
  expect(run.reports.every((r) => r.faults === 0 && r.damagedSites === 0)).toBe(true);
}

/**
 * The hazard window was exercised: in most operations the NMI handler, which runs sites
 * being patched, ran while the operation did (or, with NMIs masked, NMIs arrived and were
 * held). A run where no NMI met an operation would pass its zero-fault checks vacuously.
 */
function expectNmisDuringOperations(run: Run, which: 'taken' | 'raised'): void {
  const counts = which === 'taken' ? run.nmisDuring : run.nmisRaisedDuring;
  const met = counts.filter((n) => n > 0).length;
  expect(met, `NMIs ${which} during each operation: ${counts.join(', ')}`).toBeGreaterThanOrEqual(Math.ceil(counts.length / 2));
}

describe('safe protocols patch live sites with CPUs and NMIs running: zero faults', () => {
  it('int3, per site, both bypasses', async () => {
    for (const bypass of ['old', 'new'] as const) {
      const run = await patchRun(`patch int3 ${bypass}`, NMI_BOOT, { protocol: 'int3', filter: { from: 0, to: 99 }, bypass }, 4);
      expectSafe(run);
      expect(run.reports[0]!.syncRounds).toBe(3 * run.reports[0]!.sites);
      expect(run.nmis).toBeGreaterThan(0);
    }
  });

  it('int3-batch: 3 sync rounds per batch, shared and per-CPU refcounts, traps taken', async () => {
    for (const refcount of ['shared', 'percpu'] as const) {
      const run = await patchRun(`patch int3-batch ${refcount}`, NMI_BOOT, { protocol: 'int3-batch', filter: 'all', refcount }, 8);
      expectSafe(run);
      for (const r of run.reports.slice(0, -1)) {
        expect(r.sites).toBe(2_000);
        expect(r.syncRounds).toBe(3);
      }
      expect(run.reports.reduce((n, r) => n + r.traps, 0)).toBeGreaterThan(0);
    }
  });

  it('redo-nmi-wait (Rostedt), even with a slow text_poke', async () => {
    const run = await patchRun(
      'patch redo-nmi-wait',
      { ...NMI_BOOT, nmiEntry: NmiEntryMode.nmiRunning },
      { protocol: 'redo-nmi-wait', filter: { from: 0, to: 199 }, pokeCostNs: 2_000 },
      6,
    );
    expectSafe(run);
    expectNmisDuringOperations(run, 'taken');
  });

  it('stop-machine with NMIs masked, and with every NMI-reachable site notrace', async () => {
    const masked = await patchRun('patch stop-machine no-nmi', NMI_BOOT, { protocol: 'stop-machine', filter: 'all', nmi: 'off', pokeCostNs: 500 }, 6);
    expectSafe(masked);
    expectNmisDuringOperations(masked, 'raised');
    const notrace = await patchRun(
      'patch stop-machine notrace-nmi',
      { ...NMI_BOOT, notraceNmiSites: true },
      { protocol: 'stop-machine', filter: 'all', pokeCostNs: 500 },
      6,
    );
    expectSafe(notrace);
    expectNmisDuringOperations(notrace, 'taken');
    expect(notrace.reports[0]!.sites).toBe(1_996); // the four NMI sites are never patched
  });
});

describe('patch requests', () => {
  it('take a predicate filter (evaluated in the caller) and run in queue order, one at a time', async () => {
    const machine = await Machine.start({ cpus: 2, sites: 1_000, notraceFraction: 0, seed: testSeed('patch filter') });
    const patcher = await Patcher.start(machine);
    try {
      // Queued together; each sees the previous one's result.
      const [a, b, c] = await Promise.all([
        patcher.patch({ protocol: 'int3-batch', action: 'disable', filter: (site) => site % 3 === 0 }),
        patcher.patch({ protocol: 'int3-batch', action: 'disable', filter: (site) => site % 3 === 0 }),
        patcher.patch({ protocol: 'int3-batch', action: 'toggle', filter: { from: 0, to: 8 } }),
      ]);
      expect(a!.sites).toBe(334);
      expect(b!.sites).toBe(0); // already NOP5
      expect(c!.sites).toBe(9);
      await expect(patcher.patch({ protocol: 'int3-batch', action: 'enable', filter: { sites: [5000] } })).rejects.toThrow(/site must be an integer between 0 and 999/);
    } finally {
      await patcher.close();
      await machine.stop();
    }
  });
});

describe('the thread\'s unsafe protocols: the hazards show up as faults, reported, never a crash', () => {
  // Honest knobs that widen the race windows: NMI handlers that run the very sites being
  // patched, many times over (a long NMI handler), and a cost per byte written, as text_poke has.
  const HAZARD_BOOT: MachineOptions = {
    ...NMI_BOOT,
    nmiSites: Array.from({ length: 160 }, (_, i) => i % 4),
  };
  const HAZARD_FILTER = { from: 0, to: 3 } as const;
  /**
   * A race is a race: on a loaded machine a dozen operations can miss the window. Runs of
   * 12 operations, at most 4, until one shows faults; every run's checks must hold, and the
   * fault rate is reported over all the operations run.
   */
  async function hazardRuns(name: string, boot: MachineOptions, request: Parameters<typeof patchRun>[2]): Promise<{ faults: number; ops: number }> {
    let faults = 0;
    let ops = 0;
    for (let attempt = 0; attempt < 4 && faults === 0; attempt++) {
      const run = await patchRun(`${name} (run ${attempt + 1})`, boot, request, 12);
      expect(run.corrupt).toBe(0);
      expect(run.unaccounted).toBe(0);
      faults += run.faults;
      ops += run.reports.length - 1;
    }
    return { faults, ops };
  }

  it('stop-machine with NMIs: an NMI executes a half-written site', async () => {
    const { faults, ops } = await hazardRuns('patch stop-machine nmis', HAZARD_BOOT, { protocol: 'stop-machine', filter: HAZARD_FILTER, pokeCostNs: 20_000 });
    expect(faults).toBeGreaterThan(0);
    console.log(`stop-machine with NMIs: ${faults} faults in ${ops} operations (${(faults / ops).toFixed(2)} per operation)`);
  });

  it('redo (Ingo): Mathieu\'s race — an NMI read redo_pending as 0 and runs the site being written', async () => {
    const { faults, ops } = await hazardRuns('patch redo', { ...HAZARD_BOOT, nmiEntry: NmiEntryMode.redo }, { protocol: 'redo', filter: HAZARD_FILTER, pokeCostNs: 20_000 });
    expect(faults).toBeGreaterThan(0);
    console.log(`redo: ${faults} faults in ${ops} operations (${(faults / ops).toFixed(2)} per operation)`);
  });

  it('while under the very same knobs int3-batch, redo-nmi-wait and stop-machine --no-nmi stay at zero faults', async () => {
    const batch = await patchRun('patch hazard int3-batch', HAZARD_BOOT, { protocol: 'int3-batch', filter: HAZARD_FILTER, pokeCostNs: 20_000 }, 12);
    expectSafe(batch);
    expectNmisDuringOperations(batch, 'taken');
    const redo = await patchRun(
      'patch hazard redo-nmi-wait',
      { ...HAZARD_BOOT, nmiEntry: NmiEntryMode.nmiRunning },
      { protocol: 'redo-nmi-wait', filter: HAZARD_FILTER, pokeCostNs: 20_000 },
      12,
    );
    expectSafe(redo);
    expectNmisDuringOperations(redo, 'taken');
    const masked = await patchRun('patch hazard stop-machine no-nmi', HAZARD_BOOT, { protocol: 'stop-machine', filter: HAZARD_FILTER, nmi: 'off', pokeCostNs: 20_000 }, 12);
    expectSafe(masked);
    expectNmisDuringOperations(masked, 'raised');
  });

  it('int3 without sync round 1 or 3 faults; the coordinator reports it', async () => {
    // Few sites, no NMIs (each NMI return would serialize), a slow text_poke.
    const boot: MachineOptions = { sites: 16, nmiPerSecond: 0, nmiSites: [], notraceFraction: 0, idleProbability: 0 };
    for (const skipSync of [1, 3] as const) {
      let reported = 0;
      for (let attempt = 0; attempt < 3 && reported === 0; attempt++) {
        const run = await patchRun(`patch int3 skip ${skipSync}`, boot, { protocol: 'int3', filter: 'all', skipSync, pokeCostNs: 20_000 }, 20);
        // Two syncs a site: the round left out is really left out.
        expect(run.reports[0]!.syncRounds).toBe(2 * run.reports[0]!.sites);
        // The coordinator's reports name the faults (the machine's count also has those
        // executed between operations, after a report was made).
        reported = run.reports.reduce((n, r) => n + r.faults, 0);
        expect(reported).toBeLessThanOrEqual(run.faults);
      }
      expect(reported, `sync ${skipSync} left out`).toBeGreaterThan(0);
    }
  });
});
