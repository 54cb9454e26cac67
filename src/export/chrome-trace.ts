import type { LogEntry } from '../log/event-log.js';

/**
 * Chrome / Perfetto trace JSON (the "Trace Event Format"): what chrome://tracing and
 * ui.perfetto.dev open. Each event becomes an instant event (`ph: 'i'`) on the thread row of
 * its slot, timestamped in µs; a loss becomes an instant event named `lost` carrying its
 * count and cause, so gaps show where they happened.
 */
export interface ChromeTraceEvent {
  readonly name: string;
  readonly ph: 'i' | 'M';
  readonly ts?: number;
  readonly pid: number;
  readonly tid: number;
  readonly s?: 't';
  readonly args: Readonly<Record<string, unknown>>;
}

/** `timestampsAreNs`: the log's clock is hrtime or coarse (ns); with the counter clock the tickets are used as µs. */
export function toChromeTrace(entries: readonly LogEntry[], timestampsAreNs = true): { traceEvents: ChromeTraceEvent[] } {
  const traceEvents: ChromeTraceEvent[] = [];
  const slots = new Set<number>();
  let lastTs = 0;
  for (const e of entries) {
    slots.add(e.slot);
    if (e.kind === 'event') {
      lastTs = timestampsAreNs ? e.timestamp / 1000 : e.timestamp;
      const args: Record<string, unknown> = { index: e.index };
      for (const [k, v] of Object.entries(e.values)) args[k] = typeof v === 'bigint' ? v.toString() : v;
      if (e.truncated) args['truncated'] = true;
      traceEvents.push({ name: e.name, ph: 'i', ts: lastTs, pid: 1, tid: e.slot, s: 't', args });
    } else if (e.kind === 'lost') {
      traceEvents.push({ name: 'lost', ph: 'i', ts: lastTs, pid: 1, tid: e.slot, s: 't', args: { count: e.count, cause: e.cause, beforeIndex: e.beforeIndex } });
    } else {
      traceEvents.push({ name: 'corrupt', ph: 'i', ts: lastTs, pid: 1, tid: e.slot, s: 't', args: { reason: e.reason } });
    }
  }
  for (const slot of [...slots].sort((a, b) => a - b)) {
    traceEvents.push({ name: 'thread_name', ph: 'M', pid: 1, tid: slot, args: { name: slot < 0 ? 'damaged file records' : `slot ${slot}` } });
  }
  return { traceEvents };
}
