import { describe, expect, it } from 'vitest';
import { explore, formatCounterexample, type ExploreOptions } from '../../src/explore/explorer.js';

/** Small bounds keep each search to seconds; `ringtrace explore` goes further by default. */
function run(options: ExploreOptions) {
  const r = explore(options);
  expect(r.incomplete).toBe(false);
  return r;
}

describe('interleaving explorer: the thread\'s hazards are found', () => {
  it('redo: Mathieu\'s race — an NMI that read redo_pending as 0 executes the site being written', () => {
    const r = run({ protocol: 'redo' });
    expect(r.counterexample).not.toBeNull();
    expect(r.failure).toMatch(/executes a torn instruction at site 1/);
    const diagram = formatCounterexample(r.counterexample!, r.failure!);
    // The NMI entered before redo_pending went up, and ran the site after writes began.
    const steps = r.counterexample!;
    const flag = steps.findIndex((s) => s.action.includes('redo_pending = 1'));
    const lastNmi = steps.map((s) => s.action).lastIndexOf('NMI: enters the handler');
    expect(lastNmi).toBeLessThan(flag);
    expect(diagram).toContain('PATCHER');
  });

  it('stop-machine with NMIs: an NMI in the rendezvous executes a half-written site', () => {
    const r = run({ protocol: 'stop-machine' });
    expect(r.failure).toMatch(/torn instruction/);
  });

  it.each([1, 2, 3] as const)('int3 with sync round %i left out: a counterexample', (skipSync) => {
    const r = run({ protocol: 'int3', skipSync, execsPerCpu: 1 });
    expect(r.counterexample).not.toBeNull();
    expect(r.failure).toMatch(skipSync === 3 ? /int3 nobody handles|old instruction/ : /torn instruction/);
  });
});

describe('interleaving explorer: no counterexample within the bound', () => {
  it.each<[string, ExploreOptions]>([
    ['int3 (bypass new)', { protocol: 'int3', execsPerCpu: 1 }],
    ['int3 (bypass old)', { protocol: 'int3', execsPerCpu: 1, bypass: 'old' }],
    ['int3-batch (shared refcount)', { protocol: 'int3-batch', execsPerCpu: 1, refcount: 'shared' }],
    ['redo-nmi-wait, 2 sites', { protocol: 'redo-nmi-wait', sites: 2 }],
    ['stop-machine with NMIs masked', { protocol: 'stop-machine', nmi: 'off' }],
    ['stop-machine with a notrace NMI handler', { protocol: 'stop-machine', notraceNmi: true }],
  ])('%s', (_name, options) => {
    const r = run(options);
    expect(r.failure).toBeNull();
    expect(r.counterexample).toBeNull();
    expect(r.boundReached).toBe(false); // every interleaving ran to completion: the search is exhaustive
    expect(r.statesExplored).toBeGreaterThan(1000);
    expect(r.interleavings).toBeGreaterThan(r.statesExplored);
  });
});

describe('interleaving explorer: arguments', () => {
  it('rejects bad options with a RangeError naming them', () => {
    expect(() => explore({ protocol: 'int3', cpus: 4 })).toThrow(/cpus must be an integer between 1 and 3/);
    expect(() => explore({ protocol: 'int3', sites: 3 })).toThrow(/sites must be 1 or 2/);
    expect(() => explore({ protocol: 'nope' as never })).toThrow(/protocol must be one of/);
  });
});
