import { payloadHash, streamTag } from '../check/stream-payload.js';
import type { CpuWriter } from '../ring/writer.js';
import { InterruptPoint, type Context } from './interrupts.js';

/** What the tracer needs of the CPU it runs on (cpu.ts implements it). */
export interface TracingCpu {
  readonly id: number;
  /** The context level the CPU runs at now: the stream the event goes to. */
  readonly currentContext: Context;
  /** The CPU's writer on its ring buffer. */
  readonly writer: CpuWriter;
  /** An interrupt point: an NMI may arrive inside the tracer. */
  interruptPoint(point: InterruptPoint): void;
  /** Executes a call site (the tracer's own traced helpers). */
  execute(site: number): void;
  /** Counts a call the recursion guard did not trace. */
  countRecursionSkip(): void;
}

/**
 * Event types the machine writes. A function-entry event's type is `functionEntry +
 * context`, so each context level is its own sequenced stream (writes of one level never
 * overlap: only a higher level interrupts them), checked like the ring stress streams.
 */
export const MachineEvent = {
  /** + context level (0 normal, 1 irq, 2 nmi). */
  functionEntry: 0x4600,
  /** A fault: site, context, first four bytes, fifth byte. */
  fault: 0x46f0,
} as const;

/** Payload bytes of a function-entry event: the stream words, then site and context. */
export const FUNCTION_ENTRY_BYTES = 24;

/**
 * The function tracer: what a CALL at a traced site runs. It writes a function-entry event
 * (site, CPU, context level, timestamp) into the CPU's ring buffer.
 *
 * Recursion guard per context level, as in the kernel (`trace_recursion`): while the tracer
 * runs at a level, a function traced from inside it at the same level is not traced, and
 * is counted. An NMI arriving inside the tracer runs at the NMI level and is traced.
 *
 * Payload (24 bytes): seq, cpu << 16 | context, hash(seq, tag), ~seq (the stress stream
 * format: a torn or misplaced event is detected), then site and context.
 */
export class FunctionTracer {
  private readonly cpu: TracingCpu;
  private readonly helperSites: readonly number[];
  private readonly active = new Uint8Array(3);
  /** Next seq per context level (the stream). */
  readonly seq = new Float64Array(3);
  /** Events attempted per stream (dropped ones included), and stored, for reconciliation. */
  readonly attempts = new Float64Array(3);
  readonly stored = new Float64Array(3);

  constructor(cpu: TracingCpu, helperSites: readonly number[]) {
    this.cpu = cpu;
    this.helperSites = helperSites;
  }

  trace(site: number): void {
    const cpu = this.cpu;
    const level = cpu.currentContext;
    if (this.active[level] !== 0) {
      cpu.countRecursionSkip();
      return;
    }
    this.active[level] = 1;
    try {
      cpu.interruptPoint(InterruptPoint.tracer);
      // The tracer's own helpers, if configured: traced functions called from the tracer.
      for (const helper of this.helperSites) cpu.execute(helper);
      const seq = this.seq[level]!;
      this.seq[level] = seq + 1;
      this.attempts[level]! += 1;
      const w = cpu.writer;
      const at = w.reserve(MachineEvent.functionEntry + level, FUNCTION_ENTRY_BYTES);
      if (at >= 0) {
        const i32 = w.i32;
        const k = at >> 2;
        const low = seq % 4294967296;
        const tag = streamTag(cpu.id, level);
        i32[k] = low;
        i32[k + 1] = tag;
        i32[k + 2] = payloadHash(low, tag);
        i32[k + 3] = ~low;
        i32[k + 4] = site;
        i32[k + 5] = level;
        w.commit();
        this.stored[level]! += 1;
      }
    } finally {
      this.active[level] = 0;
    }
  }
}

