/**
 * The benchmarks' third-party tools (tinybench, pino, ringbuf.js) are devDependencies:
 * they are loaded with a dynamic import, and a missing one is reported by name with the
 * way to get it, instead of as a bare ERR_MODULE_NOT_FOUND from deep inside a worker.
 */
export async function loadDevDependency<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(
        `the ring benchmarks need the devDependency ${JSON.stringify(name)}, which is not installed: ` +
          'run `npm ci` (or `npm install`) in the ringtrace repository, without --omit=dev',
      );
    }
    throw err;
  }
}
