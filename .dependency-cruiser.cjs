// The layering (docs/DESIGN.md, "The layering is checked") as rules over the import graph, checked by
// `npx depcruise src workers bench --config .dependency-cruiser.cjs` and by
// test/unit/architecture.test.ts, so `npm test` keeps the arrows pointing down.
// Type-only imports count: a cycle through types is still a cycle in the design.

/** Modules of the lowest floor: helpers that import nothing of ours. */
const BASE = '^src/(prng|option-check|worker-path)\\.ts$';

/** A rule that `from` imports nothing under `to` (paths are regular expressions). */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-into-cli',
      comment: 'Nothing imports the CLI: the CLI is the top floor.',
      severity: 'error',
      from: { pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    forbid('base-imports-nothing', 'prng, option-check and worker-path import nothing of ours.', BASE, '^(src|workers|bench)/'),
    {
      name: 'ring-floor',
      comment: 'Floor 1: the ring knows nothing above it (only the base helpers).',
      severity: 'error',
      from: { path: '^src/ring/' },
      to: { path: '^(src|workers|bench)/', pathNot: ['^src/ring/', BASE] },
    },
    {
      name: 'check-floor',
      comment: 'The stream checks sit on the ring: they import the ring and the base helpers only.',
      severity: 'error',
      from: { path: '^src/check/' },
      to: { path: '^(src|workers|bench)/', pathNot: ['^src/(ring|check)/', BASE] },
    },
    forbid(
      'trace-floor',
      'The trace file and the drain sit on the ring: they import the ring and the base helpers only, so the log and the machine can both write through them.',
      '^src/trace/',
      '^(src/(machine|log|export|patch|explore|stress|cli|check)/|src/index\\.ts$|workers/|bench/)',
    ),
    forbid(
      'floor-2',
      'Floor 2 (machine, log, export) imports only floors 1 and 2: no patching, explorer, stress harness, public surface, workers or benchmarks.',
      '^src/(machine|log|export)/',
      '^(src/(patch|explore|stress|cli)/|src/index\\.ts$|workers/|bench/)',
    ),
    forbid('floor-3', 'Floor 3 (patch) does not import the explorer, the stress harness, the public surface, workers or benchmarks.', '^src/patch/', '^(src/(explore|stress|cli)/|src/index\\.ts$|workers/|bench/)'),
    forbid('floor-4-explore', 'Floor 4 (explore) does not import the stress harness, the public surface, workers or benchmarks.', '^src/explore/', '^(src/(stress|cli)/|src/index\\.ts$|workers/|bench/)'),
    forbid('stress-floor', 'The stress harness drives the ring and the log; it does not import patching, the explorer, the public surface or benchmarks.', '^src/stress/', '^(src/(patch|explore|machine|cli)/|src/index\\.ts$|bench/)'),
    forbid('src-not-into-workers-or-bench', 'Library code never imports a worker entry or a benchmark (workers are started by path).', '^src/(?!cli/)', '^(workers|bench)/'),
    forbid('public-surface-is-a-leaf', 'Nothing inside the package imports its public surface.', '^(src|workers|bench)/', '^src/index\\.ts$'),
  ],
  options: {
    // TypeScript 7 has no JS API for dependency-cruiser to parse with; swc parses the .ts sources.
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
