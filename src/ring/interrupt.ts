/**
 * The interrupt hook: the program points of the write path at which a simulated IRQ
 * or NMI may run a nested write on the same CPU. Production writers have no hook (one
 * predictable branch per point); tests and the simulated machine install one.
 *
 * The labels match the comments in writer.ts and the pictures in docs/DESIGN.md.
 */
export const HookPoint = {
  /** A: nesting depth taken, attempt counted; nothing reserved yet. */
  entered: 0,
  /** B: timestamp read, not yet clamped or reserved. */
  clockRead: 1,
  /** C1: the tail page has no room; its data end is recorded; the switch has not begun. */
  pageFull: 2,
  /** S0: the next page's slot is claimed (and an unread page overwritten); not yet opened. */
  slotClaimed: 3,
  /** S1: the next page's header is written; the tail still points at the full page. */
  pageOpened: 4,
  /** S2: the tail has moved to the new page; this write has not reserved in it yet. */
  tailMoved: 5,
  /** C: space reserved and record header written; payload not yet filled. */
  reserved: 6,
  /** D: payload filled; commit not yet published. */
  filled: 7,
  /** E: the outermost writer published the commit; nesting depth not yet released. */
  committed: 8,
} as const;
export type HookPoint = (typeof HookPoint)[keyof typeof HookPoint];

export const HOOK_POINT_COUNT = 9;

export const hookPointNames: readonly string[] = Object.keys(HookPoint);

/** Called at each hook point with the writer that is being interrupted. */
export type InterruptHook = (point: HookPoint) => void;
