import { payloadHash, streamTag } from '../check/stream-payload.js';
import type { CpuWriter } from '../ring/writer.js';
import { InterruptPoint, type Context } from './interrupts.js';
import { FUNCTION_ENTRY_BYTES, MachineEvent } from './trace-events.js';

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

export { MachineEvent, FUNCTION_ENTRY_BYTES } from './trace-events.js';

/**
 * The function tracer: what a CALL at a traced site runs. It writes a function-entry event
 * (site, caller, CPU, context level, timestamp) into the CPU's ring buffer.
 *
 * Recursion guard per context level, as in the kernel (`trace_recursion`): while the tracer
 * runs at a level, a function traced from inside it at the same level is not traced, and
 * is counted. An NMI arriving inside the tracer runs at the NMI level and is traced.
 *
 * Payload: the `function` schema (trace-events.ts): seq, cpu << 16 | context, hash(seq, tag),
 * ~seq (the stress stream format: a torn or misplaced event is detected), then site,
 * context and the caller's site.
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

  /** Traces a call of `site` from the function at `parent` (-1: not known). */
  trace(site: number, parent: number): void {
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
        i32[k + 6] = parent;
        w.u8[at + 28] = 0; // flags: the page may hold an older event's bytes
        w.commit();
        this.stored[level]! += 1;
      }
    } finally {
      this.active[level] = 0;
    }
  }
}

