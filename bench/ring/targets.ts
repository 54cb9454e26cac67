import { type TargetResult, judge } from '../targets.js';
import type { BenchResult } from './results.js';

/**
 * The suite's targets, each computed from results measured in the same run. They are
 * reported, met or not; nothing in the suite is tuned against them.
 */
export function evaluateTargets(results: readonly BenchResult[]): TargetResult[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  const get = (name: string): BenchResult => {
    const r = byName.get(name);
    if (r === undefined) throw new Error(`target needs result ${name}, which the suite did not produce`);
    return r;
  };
  const ceiling = get('ceiling-raw-stores');
  const clock = get('clock-hrtime');
  const counter = get('writer-counter');
  const hrtime = get('writer-hrtime');
  const hookless = get('writer-counter-hookless');
  const threads = get('writer-reader-threads');
  const ringbufjs = get('ringbufjs-threads');
  const pino = get('pino-devnull');
  const two = get('two-writers-per-cpu');
  const heap = get('heap-growth-10M-writes');
  const machineTwo = byName.get('two-threads-ceiling');
  const machineScaling =
    machineTwo === undefined ? '' : `; this machine gave 2 threads ${(machineTwo.eventsPerSec / ceiling.eventsPerSec).toFixed(2)}x the ceiling (two-threads-ceiling)`;

  const targets: Omit<TargetResult, 'met'>[] = [
    {
      name: 'writer-counter-rate',
      description: 'writer-counter >= 30 M events/s',
      measured: counter.eventsPerSec / 1e6,
      required: 30,
      comparison: '>=',
      unit: 'M events/s',
      detail: `${fmt(counter.nsPerEvent)} ns/event`,
    },
    {
      name: 'writer-counter-vs-ceiling',
      description: "writer-counter at most 2x the ceiling's ns/event",
      measured: counter.nsPerEvent / ceiling.nsPerEvent,
      required: 2,
      comparison: '<=',
      unit: 'x ceiling ns',
      detail: `${fmt(counter.nsPerEvent)} / ${fmt(ceiling.nsPerEvent)} ns`,
    },
    {
      name: 'writer-hrtime-vs-ceiling-plus-clock',
      description: 'writer-hrtime at most 1.3x (ceiling + clock-hrtime)',
      measured: hrtime.nsPerEvent / (ceiling.nsPerEvent + clock.nsPerEvent),
      required: 1.3,
      comparison: '<=',
      unit: 'x (ceiling + clock) ns',
      detail: `${fmt(hrtime.nsPerEvent)} / (${fmt(ceiling.nsPerEvent)} + ${fmt(clock.nsPerEvent)}) ns`,
    },
    {
      // Compared on the best isolate of each: a fresh worker's code lands in a fast or a
      // slow mode (about 37 vs 41 ns here, for both variants alike), so a median over five
      // isolates compares whichever mode each happened to draw more often; the best isolate
      // compares like with like. The median ratio is in the detail.
      name: 'hook-free-path',
      description: 'no-hook path costs nothing measurable: writer-counter <= 1.05x writer-counter-hookless ns (best isolates)',
      measured: best(counter) / best(hookless),
      required: 1.05,
      comparison: '<=',
      unit: 'x hookless ns',
      detail:
        `best isolates ${fmt(best(counter))} / ${fmt(best(hookless))} ns; medians ${fmt(counter.nsPerEvent)} / ${fmt(hookless.nsPerEvent)} ns ` +
        `(${(counter.nsPerEvent / hookless.nsPerEvent).toFixed(2)}x); per isolate ${range(counter)} vs ${range(hookless)} ns`,
    },
    {
      name: 'writer-reader-rate',
      description: 'writer-reader-threads >= 12 M events/s',
      measured: threads.eventsPerSec / 1e6,
      required: 12,
      comparison: '>=',
      unit: 'M events/s',
      detail: `median of ${threads.roundsEventsPerSec?.length ?? 1} rounds, 0 drops required`,
    },
    {
      name: 'writer-reader-vs-ringbufjs',
      description: 'writer-reader-threads >= 3x ringbufjs-threads',
      measured: threads.eventsPerSec / ringbufjs.eventsPerSec,
      required: 3,
      comparison: '>=',
      unit: 'x',
      detail: `${fmtM(threads.eventsPerSec)} / ${fmtM(ringbufjs.eventsPerSec)} M events/s`,
    },
    {
      name: 'writer-hrtime-vs-pino',
      description: 'writer-hrtime >= 40x pino-devnull',
      measured: hrtime.eventsPerSec / pino.eventsPerSec,
      required: 40,
      comparison: '>=',
      unit: 'x',
      detail: `${fmtM(hrtime.eventsPerSec)} / ${fmtM(pino.eventsPerSec)} M events/s`,
    },
    {
      name: 'two-writers-scaling',
      description: 'two-writers-per-cpu >= 1.8x writer-hrtime',
      measured: two.eventsPerSec / hrtime.eventsPerSec,
      required: 1.8,
      comparison: '>=',
      unit: 'x',
      detail: `${fmtM(two.eventsPerSec)} / ${fmtM(hrtime.eventsPerSec)} M events/s${two.oversubscribed === true ? '; 2 busy threads on 2 shared cores (oversubscribed)' : ''}${machineScaling}`,
    },
    {
      name: 'heap-growth',
      description: 'heap growth across 10 M writes < 1 MB (10^6 bytes)',
      measured: heap.heapGrowthBytes ?? Number.NaN,
      required: 1e6,
      comparison: '<',
      unit: 'bytes',
      detail: heap.notes ?? '',
    },
  ];
  return judge(targets);
}

/** The best (lowest) ns/event over a single-thread figure's isolates. */
function best(r: BenchResult): number {
  return Math.min(...(r.isolatesNsPerEvent ?? [r.nsPerEvent]));
}

/** The spread of a single-thread figure over its isolates, e.g. '37.0-42.1'. */
function range(r: BenchResult): string {
  const xs = r.isolatesNsPerEvent ?? [r.nsPerEvent];
  return `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}`;
}

function fmt(ns: number): string {
  return ns.toFixed(1);
}

function fmtM(eventsPerSec: number): string {
  return (eventsPerSec / 1e6).toFixed(2);
}
