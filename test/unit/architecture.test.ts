import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The import graph obeys the layering (.dependency-cruiser.cjs, checked by
 * dependency-cruiser): no cycle, nothing imports the CLI, each floor imports only floors
 * below it. A second case shows the rules are live: a tree that breaks them is refused.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const config = join(root, '.dependency-cruiser.cjs');

interface Cruise {
  readonly summary: {
    readonly violations: ReadonlyArray<{ readonly from: string; readonly to: string; readonly rule: { readonly name: string }; readonly cycle?: ReadonlyArray<{ readonly name: string }> }>;
    readonly totalCruised: number;
  };
}

function cruise(cwd: string, paths: readonly string[]): Cruise {
  const r = spawnSync(process.execPath, [depcruise, ...paths, '--config', config, '--output-type', 'json'], { cwd, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  // Exit 0 clean, else the number of errors: the JSON report is printed either way.
  expect(r.stdout, r.stderr).not.toBe('');
  return JSON.parse(r.stdout) as Cruise;
}

describe('architecture: the import graph', () => {
  it('has no cycle, no arrow into the CLI, and every floor imports only floors below it', () => {
    const result = cruise(root, ['src', 'workers', 'bench']);
    // A parser that saw nothing would report no violation: the sources must really be read.
    expect(result.summary.totalCruised).toBeGreaterThan(100);
    const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle === undefined ? '' : ` (${v.cycle.map((c) => c.name).join(' -> ')})`}`);
    expect(violations).toEqual([]);
  });

  it('refuses a tree that breaks the rules (a cycle, the ring importing the machine, an import of the CLI)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ringtrace-arch-'));
    try {
      const files: Record<string, string> = {
        'src/ring/writer.ts': "import { run } from '../machine/cpu.js';\nexport const write = (): number => run();\n",
        'src/machine/cpu.ts': "import { write } from '../ring/writer.js';\nimport { main } from '../cli/main.js';\nexport const run = (): number => write() + main();\n",
        'src/cli/main.ts': 'export const main = (): number => 1;\n',
        'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }),
      };
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(dir, dirname(path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      }
      const rules = new Set(cruise(dir, ['src']).summary.violations.map((v) => v.rule.name));
      expect([...rules].sort()).toEqual(['floor-2', 'no-circular', 'not-into-cli', 'ring-floor']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
