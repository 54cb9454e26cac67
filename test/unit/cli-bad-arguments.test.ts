import { describe, expect, it } from 'vitest';
import { runCli } from '../bench/run-cli.js';

/** Bad arguments through the real CLI entry: exit 2, one line on stderr naming the problem and pointing to --help, nothing on stdout. */
const cases: ReadonlyArray<{ args: string[]; names: RegExp; help: string }> = [
  { args: ['stress', 'ring', '--cpu', '2'], names: /unknown option '--cpu' \(did you mean --cpus\?\)/, help: 'ringtrace stress ring --help' },
  { args: ['stress', 'ring', '--cpus', '0'], names: /'--cpus <n>' argument '0' is invalid\. must be an integer between 1 and 64/, help: 'ringtrace stress ring --help' },
  { args: ['patch', '--protocol', 'nope'], names: /must be one of int3, int3-batch, stop-machine, redo, redo-nmi-wait \(got "nope"\)/, help: 'ringtrace patch --help' },
  { args: ['patch', '--sites', '4'], names: /required option '--protocol <p>' not specified/, help: 'ringtrace patch --help' },
  { args: ['explore', '--protocol', 'redo', '--seed', '1'], names: /unknown option '--seed'/, help: 'ringtrace explore --help' },
  { args: ['report'], names: /missing required argument 'file'/, help: 'ringtrace report --help' },
  { args: ['report', '/nonexistent/ringtrace.dump'], names: /cannot read \/nonexistent\/ringtrace\.dump/, help: 'ringtrace report --help' },
  { args: ['machine', 'extra'], names: /too many arguments for 'machine'/, help: 'ringtrace machine --help' },
  { args: ['strss'], names: /unknown command 'strss' \(did you mean stress\?\)/, help: 'ringtrace --help' },
];

describe('ringtrace with bad arguments', () => {
  for (const c of cases) {
    it(`${c.args.join(' ')}: exit 2 and one line`, async () => {
      const r = await runCli(c.args, 60_000);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.endsWith('\n')).toBe(true);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(c.names);
      expect(r.stderr).toContain(`see '${c.help}'`);
      expect(r.stderr).not.toMatch(/Usage:|at .*\.js:\d+/);
    });
  }
});
