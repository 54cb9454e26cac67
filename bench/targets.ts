/**
 * A target of a suite, as docs/BENCHMARKS.md states it, computed from figures measured in the same
 * run and reported met or missed (a missed target is not an error). Every suite's report
 * carries a list of these.
 */
export interface TargetResult {
  readonly name: string;
  /** The target, in words (as docs/BENCHMARKS.md states it). */
  readonly description: string;
  /** The measured figure and the bound, in `unit`. */
  readonly measured: number;
  readonly required: number;
  readonly comparison: '>=' | '<=' | '<' | '==';
  readonly unit: string;
  readonly met: boolean;
  /** How `measured` was computed from the results of this run. */
  readonly detail: string;
}

/** Whether `measured` meets the bound; a measurement that is not a finite number never does. */
export function meets(measured: number, comparison: TargetResult['comparison'], required: number): boolean {
  if (!Number.isFinite(measured)) return false;
  switch (comparison) {
    case '>=':
      return measured >= required;
    case '<=':
      return measured <= required;
    case '<':
      return measured < required;
    case '==':
      return measured === required;
  }
}

/** Completes targets with their verdict. */
export function judge(targets: readonly Omit<TargetResult, 'met'>[]): TargetResult[] {
  return targets.map((t) => ({ ...t, met: meets(t.measured, t.comparison, t.required) }));
}
