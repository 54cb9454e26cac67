import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';

/** Counts minor (scavenge) collections while fn runs: an allocation-free loop causes none. */
export async function scavengesDuring(fn: () => void): Promise<number> {
  let minor = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((resolve) => setTimeout(resolve, 50)); // gc entries are delivered asynchronously
  observer.disconnect();
  return minor;
}

function newSpaceUsed(): number {
  for (const space of v8.getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_used_size;
  throw new Error('V8 reports no new_space');
}

/**
 * Bytes `run(n)` allocates per iteration, read off the young generation's fill level
 * across windows in which no GC ran (a GC empties it; such windows are retried). The
 * least of three windows, so a one-off (V8 re-optimising a function) is not taken for a
 * per-iteration cost. Far more sensitive than counting scavenges: one boxed number per
 * iteration reads 16.
 */
export function bytesPerIteration(run: (n: number) => void, n: number): number {
  const probe = newSpaceUsed();
  const overhead = newSpaceUsed() - probe; // what reading the fill level allocates itself
  let least = Infinity;
  let clean = 0;
  for (let attempt = 0; attempt < 30 && clean < 3; attempt++) {
    const profiler = new v8.GCProfiler();
    profiler.start();
    const before = newSpaceUsed();
    run(n);
    const after = newSpaceUsed();
    if (profiler.stop().statistics.length > 0) continue;
    clean++;
    least = Math.min(least, Math.max(0, after - before - overhead) / n);
  }
  if (clean === 0) throw new Error(`a GC ran inside each of 30 windows of ${n} iterations: the loop allocates heavily`);
  return least;
}
