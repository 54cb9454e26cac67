/**
 * A harness that injects nested writes at hook points and predicts where each event
 * must land. A write's nested writes that ran before it reserved (hook points entered
 * .. tailMoved) precede it in the buffer; those that ran after (reserved, filled,
 * committed) follow it. So the expected reservation order of a tree of writes is an
 * in-order walk: before-children, the write, after-children.
 */
import { expect } from 'vitest';
import {
  HookPoint,
  RingBuffer,
  type CpuWriter,
  type EventView,
  type LostEvents,
  type ReadVisitor,
  type RingReader,
} from '../../src/index.js';
import { C_COMMITTING, C_COMMIT_SEQ, C_TAIL_SEQ } from '../../src/ring/layout.js';

const BEFORE_RESERVE: ReadonlySet<number> = new Set([
  HookPoint.entered,
  HookPoint.clockRead,
  HookPoint.pageFull,
  HookPoint.slotClaimed,
  HookPoint.pageOpened,
  HookPoint.tailMoved,
]);

interface Frame {
  readonly id: number;
  readonly before: Frame[];
  readonly after: Frame[];
  stored: boolean;
}

/**
 * Decides, at each hook call of the write on top of the stack, whether to nest writes
 * there: false/true for none/one, or a count of sibling nested writes.
 */
export type InjectionPolicy = (point: HookPoint, depth: number, callIndex: number) => boolean | number;

export function payloadOf(id: number): [number, number, number, number] {
  return [id, Math.imul(id, 0x9e3779b1) | 0, ~id, (id * 7 + 3) | 0];
}

export class NestingHarness {
  readonly ring: RingBuffer;
  readonly writer: CpuWriter;
  private nextId = 0;
  private readonly stack: Frame[] = [];
  /** Hook calls seen per depth, counted from 1, reset for each new frame at that depth. */
  private readonly calls: number[] = [];
  readonly roots: Frame[] = [];
  policy: InjectionPolicy = () => false;
  /**
   * Decides at each hook call whether the reader consumes right then: a reader on another
   * CPU observing the buffer in the middle of a (nested) write. It must never see an
   * uncommitted or half-filled record.
   */
  readAt: (point: HookPoint) => boolean = () => false;
  private readonly reader: RingReader;
  private readonly ids: number[] = [];
  private readonly lost: LostEvents[] = [];
  private lastTs = -1;
  private lastIndex = -1;
  private readonly visitor: ReadVisitor = {
    event: (e: EventView) => {
      const id = e.u32(0);
      const want = payloadOf(id);
      if (e.length !== 16 || e.int32(1) !== want[1] || e.int32(2) !== want[2] || e.int32(3) !== want[3]) {
        throw new Error(`event ${id} (index ${e.index}) is torn or uncommitted: ${[e.u32(0), e.int32(1), e.int32(2), e.int32(3)]}`);
      }
      if (e.timestamp < this.lastTs || e.index <= this.lastIndex) {
        throw new Error(`event ${id} out of order: ts ${e.timestamp} after ${this.lastTs}, index ${e.index} after ${this.lastIndex}`);
      }
      this.lastTs = e.timestamp;
      this.lastIndex = e.index;
      this.ids.push(id);
    },
    lost: (l) => this.lost.push(l),
    corrupt: (r) => {
      throw new Error(`corrupt: ${JSON.stringify(r)}`);
    },
  };
  /** (point) at which each injection happened, for failure messages. */
  readonly injections: string[] = [];

  constructor(options: { pagesPerCpu: number; pageBytes: number; mode: 'overwrite' | 'discard' }) {
    // The counter clock makes every timestamp distinct and the runs deterministic.
    this.ring = RingBuffer.create({ cpus: 1, clock: 'counter', ...options });
    this.writer = this.ring.writer(0);
    this.writer.hook = (point) => this.onHook(point);
    this.reader = this.ring.reader();
  }

  /** Writes one top-level event (which may nest others). */
  write(): boolean {
    const frame: Frame = { id: this.nextId++, before: [], after: [], stored: false };
    this.roots.push(frame);
    return this.run(frame);
  }

  /** Ids in the order the buffer must hold them (only writes that got space). */
  expectedOrder(): number[] {
    const out: number[] = [];
    const walk = (f: Frame): void => {
      for (const b of f.before) walk(b);
      if (f.stored) out.push(f.id);
      for (const a of f.after) walk(a);
    };
    for (const r of this.roots) walk(r);
    return out;
  }

  get written(): number {
    return this.nextId;
  }

  private run(frame: Frame): boolean {
    this.stack.push(frame);
    this.calls[this.stack.length] = 0;
    try {
      const [a, b, c, d] = payloadOf(frame.id);
      frame.stored = this.writer.write(1 + Math.min(this.stack.length - 1, 9), a, b, c, d);
      return frame.stored;
    } finally {
      this.stack.pop();
    }
  }

  private onHook(point: HookPoint): void {
    const depth = this.stack.length;
    const parent = this.stack[depth - 1];
    if (parent === undefined) return;
    const call = ++this.calls[depth]!;
    if (this.readAt(point)) this.reader.read(this.visitor);
    const decision = this.policy(point, depth, call);
    const count = decision === true ? 1 : decision === false ? 0 : decision;
    for (let i = 0; i < count; i++) {
      const child: Frame = { id: this.nextId++, before: [], after: [], stored: false };
      (BEFORE_RESERVE.has(point) ? parent.before : parent.after).push(child);
      this.injections.push(`depth ${depth} call ${call} at ${Object.keys(HookPoint)[point]}`);
      this.run(child);
      this.calls[depth + 1] = 0;
    }
  }

  /** Drains the buffer and checks every event: intact payload, reservation order, accounting. */
  verify(expectLoss = false): { ids: number[]; lost: LostEvents[] } {
    const v = this.ring.view;
    // Quiescent writer state: nothing in flight, commit at the tail.
    expect(v.controlI32(0, C_COMMITTING)).toBe(0);
    expect(v.controlF64(0, C_COMMIT_SEQ)).toBe(v.controlF64(0, C_TAIL_SEQ));
    this.reader.drain(this.visitor);
    const { ids, lost } = this;
    const s = this.ring.cpuStats(0);
    expect(s.written).toBe(this.written);
    expect(s.read).toBe(ids.length);
    expect(s.unread).toBe(0);
    expect(s.corrupt).toBe(0);
    const lostCount = lost.reduce((n, l) => n + l.count, 0);
    expect(lostCount).toBe(s.overrun + s.dropped);
    expect(ids.length + lostCount).toBe(s.written);
    if (!expectLoss) {
      expect(lost).toEqual([]);
      expect(ids).toEqual(this.expectedOrder());
    }
    return { ids, lost };
  }
}
