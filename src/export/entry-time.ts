import type { LogEntry } from '../log/event-log.js';

/**
 * When each entry happened, on the log's clock. An event carries its own timestamp; a loss
 * or a damage report carries none, so it is placed where it happened: at the next event of
 * its slot (losses are reported before the first event that survived them), else at the
 * slot's previous event (losses at the end of a slot), else at the previous event of the
 * whole list, else its next (a slot with no events left, or damage tied to no slot), else 0
 * (no events at all). Both exporters use it, so a loss sits at the same place in every format.
 */
export function entryTimestamps(entries: readonly LogEntry[]): Float64Array {
  const at = new Float64Array(entries.length).fill(NaN);
  // Backwards: the next event of each slot.
  const nextInSlot = new Map<number, number>();
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    if (e.kind === 'event') {
      at[i] = e.timestamp;
      nextInSlot.set(e.slot, e.timestamp);
    } else {
      at[i] = nextInSlot.get(e.slot) ?? NaN;
    }
  }
  // Forwards: what is still unplaced takes the previous event of its slot, else of the list,
  // else the list's first event (then the next one).
  const prevInSlot = new Map<number, number>();
  let prevAny = NaN;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.kind === 'event') {
      prevInSlot.set(e.slot, e.timestamp);
      prevAny = e.timestamp;
    } else if (Number.isNaN(at[i]!)) {
      at[i] = prevInSlot.get(e.slot) ?? prevAny;
    }
  }
  const firstEvent = entries.find((e) => e.kind === 'event');
  for (let i = 0; i < at.length; i++) if (Number.isNaN(at[i]!)) at[i] = firstEvent?.timestamp ?? 0;
  return at;
}
