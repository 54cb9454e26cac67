import { type TargetResult, judge } from '../targets.js';
import type { MachineBenchResult } from './results.js';

/**
 * The suite's targets for the machine, computed from this run's results and reported met
 * or missed; nothing in the suite is tuned against them.
 */
export function evaluateMachineTargets(results: readonly MachineBenchResult[]): TargetResult[] {
  const get = (name: string): MachineBenchResult => {
    const r = results.find((x) => x.name === name);
    if (r === undefined) throw new Error(`target needs result ${name}, which the suite did not produce`);
    return r;
  };
  const busy = get('sync-round-busy');
  const idle = get('sync-round-idle');
  const detail = (r: MachineBenchResult): string =>
    `p50 of ${r.rounds ?? 0} rounds; p99 ${(r.p99Us ?? Number.NaN).toFixed(1)} µs, mean ${(r.meanUs ?? Number.NaN).toFixed(1)} µs` +
    (r.oversubscribed ? `; oversubscribed (${r.threads})` : '');
  return judge([
    {
      name: 'sync-round-busy-p50',
      description: 'sync_core round to 2 busy CPUs: p50 <= 50 µs',
      measured: busy.p50Us ?? Number.NaN,
      required: 50,
      comparison: '<=',
      unit: 'µs',
      detail: detail(busy),
    },
    {
      name: 'sync-round-idle-p50',
      description: 'sync_core round to 2 CPUs asleep in hlt: p50 <= 200 µs',
      measured: idle.p50Us ?? Number.NaN,
      required: 200,
      comparison: '<=',
      unit: 'µs',
      detail: detail(idle),
    },
  ]);
}
