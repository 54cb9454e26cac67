import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Path of a compiled module of the package, given as its path from the package root
 * (`workers/coordinator.js`). Node 20 cannot load .ts in a worker, so even when the caller
 * runs from source (under vitest) the worker runs the build, which the test suite's global
 * setup rebuilds first.
 */
export function compiledModulePath(fromRoot: string): string {
  // <root>/dist/src/worker-path.js when built, <root>/src/worker-path.ts from source.
  const here = fileURLToPath(import.meta.url);
  const top = dirname(dirname(here));
  return join(here.endsWith('.ts') ? join(top, 'dist') : top, fromRoot);
}

/** Path of the compiled worker entry `workers/<name>.js`. */
export function compiledWorkerPath(name: string): string {
  return compiledModulePath(`workers/${name}.js`);
}
