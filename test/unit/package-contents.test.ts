import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What `npm publish` would ship, as npm itself lists it (`npm pack --dry-run --json`): the
 * library, its CLI and its types, every module they load, and nothing else (no tests, no
 * benchmarks, no source maps pointing at sources that are not shipped).
 */
const root = fileURLToPath(new URL('../..', import.meta.url));

interface PackManifest {
  readonly main: string;
  readonly types: string;
  readonly bin: Record<string, string>;
  readonly exports: Record<string, Record<string, string>>;
}

describe('the published package', () => {
  it('holds the library, its CLI, its types and the workers they load, and no tests, benchmarks or source maps', () => {
    // The test suite's global setup has built dist/; --ignore-scripts keeps npm from building again.
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const files = new Set((JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
    const list = [...files];

    for (const p of list) {
      expect(p, 'tests and benchmarks stay in the repository').not.toMatch(/^(dist\/)?(test|bench|examples)\//);
      expect(p, 'no source maps (their sources are not shipped)').not.toMatch(/\.map$/);
      expect(p, 'no TypeScript sources').not.toMatch(/(?<!\.d)\.ts$/);
      expect(p, 'no benchmark workers').not.toMatch(/^dist\/workers\/bench-/);
    }

    // Every entry point package.json names is shipped.
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackManifest;
    const entries = [manifest.main, manifest.types, ...Object.values(manifest.bin), ...Object.values(manifest.exports).flatMap((e) => Object.values(e))];
    for (const entry of entries) expect(files.has(normalize(entry)), entry).toBe(true);
    expect(files.has('dist/src/index.d.ts')).toBe(true);
    expect(files.has('bin/ringtrace.js')).toBe(true);

    // Every module a shipped module loads is shipped: relative imports, and the worker
    // entries started by name (compiledWorkerPath('x'), StressWorker('x', ...)).
    // The benchmark suites, which only `ringtrace bench` loads on demand, are the exception.
    let imports = 0;
    let workers = 0;
    for (const p of list.filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(join(root, p), 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = normalize(join(dirname(p), m[1]!));
        if (target.startsWith('dist/bench/')) {
          expect(p, 'only the bench command loads the benchmarks').toBe('dist/src/cli/commands/bench.js');
          continue;
        }
        expect(files.has(target), `${p} imports ${m[1]}`).toBe(true);
        imports++;
      }
      for (const m of text.matchAll(/(?:compiledWorkerPath\(|new StressWorker\()'([\w-]+)'/g)) {
        expect(files.has(`dist/workers/${m[1]}.js`), `${p} starts the worker ${m[1]}`).toBe(true);
        workers++;
      }
    }
    expect(imports).toBeGreaterThan(100);
    expect(workers).toBeGreaterThanOrEqual(6);
  });
});
