import type { LogEntry } from '../log/event-log.js';
import type { ClockName } from '../ring/layout.js';
import { entryTimestamps } from './entry-time.js';

/**
 * Chrome / Perfetto trace JSON (the "Trace Event Format"): what ui.perfetto.dev,
 * chrome://tracing and Chrome DevTools' Performance panel open.
 *
 * Each entry is a thread-scoped instant event on the row of its slot. The phase is `I`,
 * which Perfetto reads like `i` and which is the only instant phase DevTools' trace engine
 * knows. Thread ids start at 1 (slot n is tid n + 1; damage tied to no slot gets the next
 * free one), since some readers take tid 0 for "no thread"; every event has a `cat`.
 *
 * `args` keeps the library's keys apart from the user's: an event's fields are under
 * `args.fields`, beside `index`, `timestamp` (the log's own clock value) and `truncated`.
 * Values JSON cannot carry are written as strings: u64 as decimal digits, and the f64
 * values NaN, Infinity, -Infinity and -0 as those words.
 *
 * Time axis (`ts`, µs): with the `hrtime` and `coarse` clocks, the timestamp in ns / 1000;
 * with the `counter` clock, whose tickets order events but measure no time, one ticket is
 * one µs. Within a slot, an entry is never placed at or before the previous one: equal
 * timestamps (the coarse clock's tick) are pushed 1 ns apart, so the rows show the order.
 * A loss or damage report sits where it happened (`entryTimestamps`).
 */
export interface ChromeTraceEvent {
  readonly name: string;
  readonly cat: string;
  readonly ph: 'I' | 'M';
  readonly ts?: number;
  readonly pid: number;
  readonly tid: number;
  readonly s?: 't';
  readonly args: Readonly<Record<string, unknown>>;
}

export interface ChromeTraceOptions {
  /** The clock the entries' timestamps come from (a log's `clock` option). Defaults to `hrtime`. */
  readonly clock?: ClockName;
}

export interface ChromeTrace {
  readonly traceEvents: ChromeTraceEvent[];
  readonly displayTimeUnit: 'ns';
  readonly otherData: { readonly clock: ClockName; readonly timeAxis: string };
}

const CLOCKS: readonly ClockName[] = ['hrtime', 'counter', 'coarse'];
const OPTION_NAMES = ['clock'];
const PID = 1;
/** Categories: the filter names a viewer offers. */
const CAT_EVENT = 'ringtrace';
const CAT_LOST = 'ringtrace.lost';
const CAT_CORRUPT = 'ringtrace.corrupt';
const CAT_METADATA = '__metadata';

/** A field value as JSON carries it exactly (see the module comment). */
function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return Object.is(v, -0) ? '-0' : String(v);
  return v;
}

/** The entries as a trace: `JSON.stringify` it for a `.json` file. Options are validated (TypeError / RangeError naming the option). */
export function toChromeTrace(entries: readonly LogEntry[], options: ChromeTraceOptions = {}): ChromeTrace {
  if (typeof options !== 'object' || options === null) throw new TypeError(`toChromeTrace: options must be an object (got ${options === null ? 'null' : typeof options})`);
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.includes(key)) throw new TypeError(`toChromeTrace: unknown option ${JSON.stringify(key)} (options are ${OPTION_NAMES.join(', ')})`);
  }
  const clock = options.clock ?? 'hrtime';
  if (!CLOCKS.includes(clock)) throw new RangeError(`toChromeTrace: options.clock must be one of ${CLOCKS.join(', ')} (got ${JSON.stringify(clock)})`);
  // The axis in integer ns, so the 1 ns step below is exact; ts is that / 1000.
  const axisNs = clock === 'counter' ? 1000 : 1;

  let maxSlot = -1;
  for (const e of entries) maxSlot = Math.max(maxSlot, e.slot);
  const damageTid = maxSlot + 2;
  const tidOf = (slot: number): number => (slot < 0 ? damageTid : slot + 1);

  const at = entryTimestamps(entries);
  const lastNs = new Map<number, number>();
  const traceEvents: ChromeTraceEvent[] = [];
  entries.forEach((e, i) => {
    const tid = tidOf(e.slot);
    const previous = lastNs.get(tid);
    const ns = Math.max(at[i]! * axisNs, previous === undefined ? -Infinity : previous + 1);
    lastNs.set(tid, ns);
    const ts = ns / 1000;
    if (e.kind === 'event') {
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(e.values)) fields[k] = jsonValue(v);
      const args = { fields, index: e.index, timestamp: e.timestamp, truncated: e.truncated };
      traceEvents.push({ name: e.name, cat: CAT_EVENT, ph: 'I', ts, pid: PID, tid, s: 't', args });
    } else if (e.kind === 'lost') {
      traceEvents.push({ name: 'lost', cat: CAT_LOST, ph: 'I', ts, pid: PID, tid, s: 't', args: { count: e.count, cause: e.cause, beforeIndex: e.beforeIndex } });
    } else {
      traceEvents.push({ name: 'corrupt', cat: CAT_CORRUPT, ph: 'I', ts, pid: PID, tid, s: 't', args: { reason: e.reason } });
    }
  });
  traceEvents.push({ name: 'process_name', cat: CAT_METADATA, ph: 'M', pid: PID, tid: 0, args: { name: 'ringtrace' } });
  for (const tid of [...lastNs.keys()].sort((a, b) => a - b)) {
    const name = tid === damageTid ? 'damaged file records' : `slot ${tid - 1}`;
    traceEvents.push({ name: 'thread_name', cat: CAT_METADATA, ph: 'M', pid: PID, tid, args: { name } });
    traceEvents.push({ name: 'thread_sort_index', cat: CAT_METADATA, ph: 'M', pid: PID, tid, args: { sort_index: tid } });
  }
  const timeAxis = clock === 'counter' ? 'one counter ticket per µs (the counter clock orders events; it measures no time)' : `${clock} ns / 1000`;
  return { traceEvents, displayTimeUnit: 'ns', otherData: { clock, timeAxis } };
}
