import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { explore } from '../../src/explore/explorer.js';
import { search, type Move, type StateSpace } from '../../src/explore/search.js';

/** Interleavings are counted exactly, past what a double holds, and printed as such. */

const bin = fileURLToPath(new URL('../../bin/ringtrace.js', import.meta.url));

describe('interleaving count', () => {
  it('is exact past 2^53: 80 binary choices in a row are 2^80 paths', () => {
    // State = depth; two moves from each state to the next one, which state hashing merges.
    const depth = 80;
    const space: StateSpace<number> = {
      key: (d) => String(d),
      moves: (d): Array<Move<number>> =>
        d === depth ? [] : ['left', 'right'].map((side) => ({ actor: 'chooser', apply: () => [{ world: d + 1, action: side, failure: null }] })),
      deadlock: () => null,
    };
    const r = search(space, 0, { bound: 1000, maxStates: 1000 });
    expect(r.statesExplored).toBe(depth + 1);
    expect(r.transitions).toBe(2 * depth);
    expect(r.interleavings).toBe(2n ** 80n);
    // A double cannot tell it from its neighbour: the reason for the bigint.
    expect(Number(r.interleavings) === Number(2n ** 80n + 1n)).toBe(true);
  });

  it('`explore --json` prints it as a string of digits, the library\'s exact count', () => {
    const options = ['--protocol', 'stop-machine', '--no-nmi'];
    const run = spawnSync(process.execPath, [bin, 'explore', ...options, '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { interleavings: unknown };
    expect(typeof out.interleavings).toBe('string');
    expect(out.interleavings).toMatch(/^[1-9][0-9]*$/);
    expect(BigInt(out.interleavings as string)).toBe(explore({ protocol: 'stop-machine', nmi: 'off' }).interleavings);
  });
});
