import { otherLoadCores, sampleCpu } from './host.js';

/**
 * Re-running measurements that other processes disturbed. The host is shared: while a
 * measurement runs, other processes may keep its cores busy, and a figure taken then says
 * more about them than about the code. Every suite measures that load (`otherLoadCores`,
 * host.ts) around each measurement and runs a disturbed one again, within a budget.
 */

/** A measurement during which other processes kept more cores busy than this is run again. */
export const DISTURBED_OTHER_LOAD_CORES = 0.3;

export interface Undisturbed<R> {
  /** The measurements kept, in order, each with the cores other processes kept busy meanwhile (undefined: unknown). */
  readonly kept: { readonly value: R; readonly other: number | undefined }[];
  /** Measurements that were run again because of a disturbance. */
  readonly disturbed: { readonly value: R; readonly other: number }[];
}

export interface UndisturbedOptions<R> {
  /** Whether a measurement failed its check: such a measurement is always kept. */
  readonly failed: (value: R) => boolean;
  /**
   * The load to judge a measurement by, when it knows better than the average over the
   * whole call (e.g. the worst of several timing windows inside it). Defaults to that average.
   */
  readonly loadOf?: (value: R, wholeCall: number | undefined) => number | undefined;
}

/**
 * Runs `measure` until `count` measurements are kept. One during which other processes
 * kept more than DISTURBED_OTHER_LOAD_CORES cores busy is run again, at most `reruns` times
 * in all; past that budget disturbed measurements are kept (their `other` says so). A
 * measurement that failed its check is always kept: a disturbance never hides a failure.
 */
export async function measureUndisturbed<R>(
  count: number,
  reruns: number,
  measure: () => Promise<R>,
  options: UndisturbedOptions<R>,
): Promise<Undisturbed<R>> {
  const kept: { value: R; other: number | undefined }[] = [];
  const disturbed: { value: R; other: number }[] = [];
  let budget = reruns;
  while (kept.length < count) {
    const before = sampleCpu();
    const value = await measure();
    const whole = otherLoadCores(before, sampleCpu());
    const other = options.loadOf === undefined ? whole : options.loadOf(value, whole);
    if (other !== undefined && other > DISTURBED_OTHER_LOAD_CORES && budget > 0 && !options.failed(value)) {
      budget--;
      disturbed.push({ value, other });
      continue;
    }
    kept.push({ value, other });
  }
  return { kept, disturbed };
}

/** Cores, rounded to 0.01, as the reports show them. */
export function roundCores(cores: number): number {
  return Math.round(cores * 100) / 100;
}
