import { describe, expect, it } from 'vitest';
import { runCli } from '../bench/run-cli.js';

/** `explore` takes no seed because it needs none: the same options give the same search and the same counterexample. */
describe('ringtrace explore replays without a seed', () => {
  it('prints the same result twice and says in its help that it is deterministic', async () => {
    const args = ['explore', '--protocol', 'redo', '--json'];
    const [a, b, help] = await Promise.all([runCli(args, 60_000), runCli(args, 60_000), runCli(['explore', '--help'], 60_000)]);
    expect(a.code).toBe(1); // redo has a counterexample
    const strip = (out: string): unknown => {
      const { seconds: _seconds, ...rest } = JSON.parse(out) as Record<string, unknown>;
      return rest;
    };
    expect(strip(a.stdout)).toEqual(strip(b.stdout));
    expect((strip(a.stdout) as { counterexample: unknown[] }).counterexample.length).toBeGreaterThan(0);
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/Deterministic, so it takes no --seed/);
  });
});
