import { PerformanceObserver, constants } from 'node:perf_hooks';

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
