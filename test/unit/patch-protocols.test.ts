import { describe, expect, it } from 'vitest';
import { explore } from '../../src/explore/explorer.js';
import { NmiEntryMode, PatchState, patchRegionBytes } from '../../src/machine/patch-area.js';
import { phasesOf, timesOf, type PatchTarget } from '../../src/patch/phases.js';
import type { PatchEntry } from '../../src/patch/protocol.js';
import { protocolNames, protocolOf, protocols, syncRoundsOf } from '../../src/patch/protocols/index.js';

/** Each protocol is one object: its steps, NMI entry, safety conditions and sync-round count come from it alone. */

const plain = { nmisMasked: false, notraceNmi: false };
const masked = { nmisMasked: true, notraceNmi: false };
const notrace = { nmisMasked: false, notraceNmi: true };

describe('protocol objects', () => {
  it('are listed once, by the names they give themselves', () => {
    expect(protocolNames).toEqual(['int3', 'int3-batch', 'stop-machine', 'redo', 'redo-nmi-wait']);
    for (const name of protocolNames) expect(protocols[name].name).toBe(name);
    expect(() => protocolOf('cmpxchg')).toThrow(RangeError);
    expect(() => protocolOf('toString')).toThrow(/protocol must be one of int3, int3-batch/);
  });

  it('count the sync rounds their own generators yield', () => {
    expect(syncRoundsOf(protocols.int3, 7)).toBe(21);
    expect(syncRoundsOf(protocols['int3-batch'], 7)).toBe(3);
    expect(syncRoundsOf(protocols['int3-batch'], 0)).toBe(0);
    for (const name of ['stop-machine', 'redo', 'redo-nmi-wait'] as const) expect(syncRoundsOf(protocols[name], 7)).toBe(0);
  });

  it('say which NMI entry their machine needs', () => {
    expect(protocols.redo.nmiEntry).toBe(NmiEntryMode.redo);
    expect(protocols['redo-nmi-wait'].nmiEntry).toBe(NmiEntryMode.nmiRunning);
    for (const name of ['int3', 'int3-batch', 'stop-machine'] as const) expect(protocols[name].nmiEntry).toBe(NmiEntryMode.plain);
  });

  it.each([
    ['stop-machine', plain],
    ['stop-machine', masked],
    ['stop-machine', notrace],
    ['redo', plain],
    ['redo', masked],
    ['redo', notrace],
    ['redo-nmi-wait', plain],
  ] as const)('%s under %o: safe exactly when the explorer finds no counterexample', (name, conditions) => {
    const r = explore({ protocol: name, nmi: conditions.nmisMasked ? 'off' : 'on', notraceNmi: conditions.notraceNmi });
    expect(r.incomplete).toBe(false);
    expect(r.counterexample === null).toBe(protocols[name].safeWhen(conditions));
  });
});

describe('phases: the one interpreter of the steps', () => {
  /** A target that records what the phases do, with every guard satisfied at once. */
  function recorder(cpus: number, sites: number): { target: PatchTarget; log: string[] } {
    const log: string[] = [];
    const patch = new PatchState(new SharedArrayBuffer(patchRegionBytes(cpus, sites)), 0, cpus, sites);
    let round = 0;
    let generation = 0;
    const target: PatchTarget = {
      patch,
      settings: { bypass: 'new', refcount: 'percpu', maskNmis: false },
      get round() {
        return round;
      },
      poke: (site, index, byte) => log.push(`poke ${site}.${index}=${byte.toString(16)}`),
      startSync: () => log.push(`sync ${++round}`),
      syncAcknowledged: () => true,
      kickAll: () => log.push('kick'),
      nextGeneration: () => ++generation,
    };
    return { target, log };
  }

  it('write the int3 recipe in its order: CC over every site, sync, the tails, sync, the heads, sync', () => {
    const entries: PatchEntry[] = [2, 5].map((site) => ({ site, from: new Uint8Array([0x0f, 0x1f, 0x44, 0, 0]), to: new Uint8Array([0xe8, 1, 2, 3, 4 + site]) }));
    const { target, log } = recorder(2, 8);
    for (const step of protocols['int3-batch'].steps(entries, {})) {
      for (const phase of phasesOf(step)) {
        // As the explorer runs them: one repetition at a time.
        for (let i = 0; i < timesOf(phase, step); i++) {
          expect(phase.ready === undefined || phase.ready(target)).toBe(true);
          phase.act?.(target, step, i, 1);
        }
      }
    }
    expect(log).toEqual([
      'poke 2.0=cc', 'poke 5.0=cc', 'sync 1',
      'poke 2.1=1', 'poke 2.2=2', 'poke 2.3=3', 'poke 2.4=6', 'poke 5.1=1', 'poke 5.2=2', 'poke 5.3=3', 'poke 5.4=9', 'sync 2',
      'poke 2.0=e8', 'poke 5.0=e8', 'sync 3',
    ]);
  });
});
