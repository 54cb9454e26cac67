import { type TargetResult, judge } from '../targets.js';
import type { EventLogBenchResult } from './results.js';
import type { DrainBenchResult } from './drain.js';

/**
 * The suite's targets for the event log, each computed from results measured in the same
 * run, plus the allocation check as a pass/fail line. They are reported, met or not;
 * nothing in the suite is tuned against them.
 */
export function evaluateEventLogTargets(results: readonly EventLogBenchResult[], drain: readonly DrainBenchResult[] = []): TargetResult[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  const get = (name: string): EventLogBenchResult => {
    const r = byName.get(name);
    if (r === undefined) throw new Error(`target needs result ${name}, which the suite did not produce`);
    return r;
  };
  const emit = get('eventlog-emit');
  const allocFree = get('eventlog-emit-alloc-free');
  const ring = get('ring-writer-write');
  const pino = get('pino-same-fields');
  const alloc = get('eventlog-alloc-free-1M-emits');
  const counter = alloc.allocation?.find((v) => v.variant === 'emitRecord-counter');
  const ringHand = alloc.allocation?.find((v) => v.variant === 'ring-hrtime');

  const targets: Omit<TargetResult, 'met'>[] = [
    {
      name: 'emit-vs-pino',
      description: 'eventlog-emit >= 20x pino-same-fields',
      measured: emit.eventsPerSec / pino.eventsPerSec,
      required: 20,
      comparison: '>=',
      unit: 'x',
      detail: `${fmtM(emit.eventsPerSec)} / ${fmtM(pino.eventsPerSec)} M events/s (${fmt(emit.nsPerEvent)} vs ${fmt(pino.nsPerEvent)} ns/event)`,
    },
    {
      name: 'alloc-free-vs-ring-writer',
      description: 'eventlog-emit-alloc-free within 1.5x the cost of ring-writer-write',
      measured: allocFree.nsPerEvent / ring.nsPerEvent,
      required: 1.5,
      comparison: '<=',
      unit: 'x ring-writer ns',
      detail:
        `${fmt(allocFree.nsPerEvent)} / ${fmt(ring.nsPerEvent)} ns (medians over isolates); ` +
        `best isolates ${fmt(best(allocFree))} / ${fmt(best(ring))} ns (${(best(allocFree) / best(ring)).toFixed(2)}x)`,
    },
    {
      name: 'alloc-free-no-gc',
      description: 'eventlog-emit-alloc-free allocates nothing: no minor GC across 1 M emitRecord (hrtime clock)',
      measured: alloc.minorGcs ?? Number.NaN,
      required: 0,
      comparison: '==',
      unit: 'minor GCs',
      detail:
        `${fmtBytes(alloc.allocatedBytesPerEvent)} B/event allocated, ${alloc.retainedBytes ?? '?'} B retained` +
        (counter === undefined ? '' : `; emitRecord with the counter clock: ${counter.minorGcs} minor GCs, ${fmtBytes(counter.bytesPerEvent)} B/event`) +
        (ringHand === undefined ? '' : `; the ring writer by hand, hrtime: ${ringHand.minorGcs} minor GCs, ${fmtBytes(ringHand.bytesPerEvent)} B/event`),
    },
  ];
  const binary2 = drain.find((d) => d.name === 'drain-binary-2w');
  if (binary2 !== undefined) {
    targets.push({
      name: 'drain-binary-keeps-up-2w',
      description: 'the binary drain keeps up with two writers emitting at full speed: 0 lost',
      measured: binary2.lost,
      required: 0,
      comparison: '==',
      unit: 'events lost',
      detail: `${binary2.emitted} emitted, ${binary2.stored} stored, ${fmtM(binary2.eventsPerSec)} M events/s to the file (${(binary2.lossRate * 100).toFixed(1)}% dropped)`,
    });
  }
  const jsonl = drain.find((d) => d.name === 'drain-jsonl-1w');
  if (jsonl !== undefined) {
    targets.push({
      name: 'drain-jsonl-1M',
      description: 'the JSON-lines drain writes at least 1 M events/s',
      measured: jsonl.eventsPerSec / 1e6,
      required: 1,
      comparison: '>=',
      unit: 'M events/s',
      detail: `${jsonl.emitted} emitted by one writer, ${jsonl.stored} stored, ${(jsonl.lossRate * 100).toFixed(1)}% dropped`,
    });
  }
  return judge(targets);
}

/** The best (lowest) ns/event over a figure's isolates. */
function best(r: EventLogBenchResult): number {
  return Math.min(...(r.isolatesNsPerEvent ?? [r.nsPerEvent]));
}

function fmtBytes(x: number | undefined): string {
  return x === undefined ? '?' : x.toFixed(2);
}

function fmt(ns: number): string {
  return ns.toFixed(1);
}

function fmtM(eventsPerSec: number): string {
  return (eventsPerSec / 1e6).toFixed(eventsPerSec < 1e6 ? 3 : 2);
}
