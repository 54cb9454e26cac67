import { describe, expect, it } from 'vitest';
import { Cpu } from '../../src/machine/cpu.js';
import { MachineMemory } from '../../src/machine/machine-memory.js';
import { Context, InterruptPoint, Ipi, type InterruptPoint as Point } from '../../src/machine/interrupts.js';
import { OPCODE_INT3, siteInstruction } from '../../src/machine/code-page.js';
import { MachineEvent } from '../../src/machine/tracer.js';
import { machineSchemas } from '../../src/machine/trace-events.js';
import { schemaFromJson } from '../../src/log/event-schema.js';
import { decode } from '../../src/log/payload-codec.js';
import { P_STOP_STATE, StopState } from '../../src/machine/patch-area.js';
import { layoutCodePage } from '../../src/machine/machine.js';

/** A 1- or 2-CPU machine driven in this thread: sites 0..3 NOP5, the rest CALL. */
function machine(cpus = 1, options: { staleByteProbability?: number } = {}): { memory: MachineMemory; cpus: Cpu[] } {
  const memory = MachineMemory.create(cpus, 64, { pagesPerCpu: 16, pageBytes: 4096, mode: 'overwrite', clock: 'counter' });
  for (let site = 0; site < 64; site++) memory.code.initialiseSite(site, site >= 4, false);
  const list = [...Array(cpus).keys()].map(
    (cpu) =>
      new Cpu(memory, {
        cpu,
        seed: 7 + cpu,
        nmiSites: [10, 11],
        fetch: { staleByteProbability: options.staleByteProbability ?? 0.5 },
      }),
  );
  return { memory, cpus: list };
}

interface Seen {
  readonly type: number;
  readonly site: number;
  readonly context: number;
}

function drain(memory: MachineMemory): Seen[] {
  const out: Seen[] = [];
  const reader = memory.ring.reader();
  // Function entries and faults; the NMI events are checked on their own below.
  reader.drain({
    event: (e) => {
      if (e.type !== MachineEvent.fault && (e.type < MachineEvent.functionEntry || e.type > MachineEvent.functionEntry + 2)) return;
      out.push({ type: e.type, site: e.u32(e.type === MachineEvent.fault ? 0 : 4), context: e.u32(e.type === MachineEvent.fault ? 1 : 5) });
    },
  });
  reader.close();
  return out;
}

/** Raises this CPU's NMI the first time it reaches `point`. */
function nmiOnceAt(cpu: Cpu, point: Point): () => boolean {
  let fired = false;
  cpu.nmiSchedule = (p) => {
    if (p !== point || fired) return false;
    fired = true;
    return true;
  };
  return () => fired;
}

describe('NMI delivery at each kind of interrupt point', () => {
  const drive: Record<string, (cpu: Cpu, memory: MachineMemory) => void> = {
    betweenSites: (cpu) => cpu.step(),
    tracer: (cpu) => cpu.execute(20),
    ringWrite: (cpu) => cpu.execute(20),
    breakpoint: (cpu, memory) => {
      memory.code.poke(30, 0, OPCODE_INT3);
      cpu.breakpointHandler = (c) => {
        c.breakpointInterruptPoint();
        return true;
      };
      cpu.execute(30);
    },
    irqHandler: (cpu, memory) => {
      memory.irq.sendIpi(cpu.id, Ipi.kick);
      cpu.step();
    },
    idle: (cpu) => cpu.idle(),
    rendezvous: (cpu, memory) => {
      // stop_machine: the kick IPI parks the CPU; the schedule releases it from inside the rendezvous.
      Atomics.store(memory.patch.i32, P_STOP_STATE >> 2, StopState.stopping);
      memory.irq.sendIpi(cpu.id, Ipi.kick);
      const schedule = cpu.nmiSchedule!;
      cpu.nmiSchedule = (p) => {
        const raise = schedule(p);
        if (p === InterruptPoint.rendezvous) Atomics.store(memory.patch.i32, P_STOP_STATE >> 2, StopState.running);
        return raise;
      };
      cpu.step();
    },
  };
  for (const [name, run] of Object.entries(drive)) {
    it(`takes an NMI at ${name}, runs the handler's traced sites at the NMI level, and returns`, () => {
      const { memory, cpus } = machine();
      const cpu = cpus[0]!;
      const point = InterruptPoint[name as keyof typeof InterruptPoint];
      const fired = nmiOnceAt(cpu, point);
      run(cpu, memory);
      expect(fired()).toBe(true);
      expect(cpu.nmisAt[point]).toBe(1);
      expect(memory.irq.counters(0).nmisTaken).toBe(1);
      expect(cpu.currentContext).toBe(Context.normal);
      const nmiEvents = drain(memory).filter((e) => e.type === MachineEvent.functionEntry + Context.nmi);
      expect(nmiEvents.map((e) => e.site)).toEqual([10, 11]);
      // An NMI inside the ring's write path interrupted a write: the ring nested.
      if (name === 'ringWrite') expect(memory.ring.cpuStats(0).maxNesting).toBe(2);
    });
  }

  it('does not nest NMIs: one raised inside the handler waits for its return', () => {
    const { memory, cpus } = machine();
    const cpu = cpus[0]!;
    // Raise at the first three interrupt points, wherever they are, and note whether each
    // raise found the CPU inside an NMI handler (the context a nested NMI would interrupt).
    const raisedIn: Context[] = [];
    cpu.nmiSchedule = () => {
      if (raisedIn.length === 3) return false;
      raisedIn.push(cpu.currentContext);
      return true;
    };
    cpu.execute(20);
    cpu.step();
    const c = memory.irq.counters(0);
    // The first raise is taken at once; the next two fall inside its handler (the handler's
    // sites have interrupt points of their own), so they wait on the one NMI line: the second
    // is taken after the return, the third coalesces with it. Nested NMIs would take three.
    expect(raisedIn).toEqual([Context.normal, Context.nmi, Context.nmi]);
    expect(c.nmisRaised).toBe(2);
    expect(c.nmisCoalesced).toBe(1);
    expect(c.nmisTaken).toBe(2);
    expect(memory.irq.inNmi(0)).toBe(false);
    // Each handler ran whole before the next began: its sites, never interleaved with another's.
    const nmiSites = drain(memory)
      .filter((e) => e.type === MachineEvent.functionEntry + Context.nmi)
      .map((e) => e.site);
    expect(nmiSites).toEqual([10, 11, 10, 11]);
    // Never an NMI write inside an NMI write: depth at most outer write + one NMI write.
    expect(memory.ring.cpuStats(0).maxNesting).toBeLessThanOrEqual(2);
  });
});

describe('IPIs and sync_core', () => {
  it('a busy CPU takes a sync_core IPI at its next interrupt point, serializes and acknowledges', () => {
    const { memory, cpus } = machine(1, { staleByteProbability: 1 });
    const cpu = cpus[0]!;
    cpu.execute(40); // the CPU holds a copy of site 40 (CALL)
    const nop = siteInstruction(40, false);
    for (let b = 0; b < 5; b++) memory.code.poke(40, b, nop[b]!);
    const round = memory.irq.startSync([0]);
    expect(memory.irq.syncMissing(round, [0])).toEqual([0]);
    cpu.step();
    expect(memory.irq.syncMissing(round, [0])).toEqual([]);
    // Serialized: the stale copy is gone, so site 40 now runs the new NOP5 (no trace, no fault).
    const before = memory.ring.cpuStats(0).entries;
    cpu.execute(40);
    expect(memory.ring.cpuStats(0).entries).toBe(before);
    expect(memory.irq.counters(0).faults).toBe(0);
  });

  it('without the sync, the same CPU executes a torn instruction (stale bytes) and faults', () => {
    const { memory, cpus } = machine(1);
    const cpu = cpus[0]!;
    cpu.execute(40); // the CPU holds a copy of site 40: CALL
    const nop = siteInstruction(40, false);
    for (let b = 0; b < 5; b++) memory.code.poke(40, b, nop[b]!);
    // Each byte that differs is drawn stale with probability 0.5: draw byte 0 stale (E8) and
    // the rest current (NOP5's tail), so the CPU runs E8 1F 44 00 00, a CALL to nowhere.
    const draws = [0, 0.9, 0.9, 0.9, 0.9];
    cpu.fetchModel.random = () => draws.shift() ?? 0.9;
    cpu.execute(40);
    expect(cpu.fetchModel.staleExecutions).toBe(1);
    expect(memory.irq.counters(0).faults).toBe(1);
    expect(cpu.faults.map((f) => [f.site, f.bytes])).toEqual([[40, 'e8 1f 44 00 00']]);
  });

  it('holds an IPI while IRQs are disabled; NMIs still arrive', () => {
    const { memory, cpus } = machine();
    const cpu = cpus[0]!;
    cpu.setIrqs(false);
    const round = memory.irq.startSync([0]);
    const fired = nmiOnceAt(cpu, InterruptPoint.betweenSites);
    cpu.step();
    expect(fired()).toBe(true);
    expect(memory.irq.counters(0).nmisTaken).toBe(1);
    expect(memory.irq.syncMissing(round, [0])).toEqual([0]);
    cpu.setIrqs(true);
    cpu.step();
    expect(memory.irq.syncMissing(round, [0])).toEqual([]);
  });

  it('reports which CPU did not answer a sync round, after the timeout', async () => {
    const { memory, cpus } = machine(2);
    const round = memory.irq.startSync([0, 1]);
    cpus[0]!.step(); // cpu 1 never runs
    const result = await memory.irq.syncWaitAsync(round, [0, 1], 20);
    expect(result.missing).toEqual([1]);
    expect(result.micros).toBeGreaterThanOrEqual(15_000);
  });

  it('an NMI ends hlt: a CPU with an NMI pending does not sleep', () => {
    const memory = MachineMemory.create(1, 64, { pagesPerCpu: 16, pageBytes: 4096, clock: 'counter' });
    for (let site = 0; site < 64; site++) memory.code.initialiseSite(site, true, false);
    const cpu = new Cpu(memory, { cpu: 0, seed: 3, nmiSites: [9], idleMs: 5_000 });
    memory.irq.raiseNmi(0);
    const t = performance.now();
    cpu.idle();
    expect(performance.now() - t).toBeLessThan(1_000);
    expect(memory.irq.counters(0).nmisTaken).toBe(1);
  });

  it('wakes a sleeping CPU with an IPI', () => {
    const { memory, cpus } = machine();
    const round = memory.irq.startSync([0]);
    // The IPI is pending, so hlt returns at once and the CPU acknowledges.
    const t = performance.now();
    cpus[0]!.idle();
    expect(performance.now() - t).toBeLessThan(500);
    expect(memory.irq.syncMissing(round, [0])).toEqual([]);
  });
});

describe('function tracer', () => {
  it('writes site, cpu, context and timestamp for a traced site, nothing for NOP5', () => {
    const { memory, cpus } = machine(2);
    cpus[1]!.execute(5);
    cpus[1]!.execute(2);
    cpus[1]!.execute(6);
    const seen = drain(memory);
    expect(seen).toEqual([
      { type: MachineEvent.functionEntry, site: 5, context: 0 },
      { type: MachineEvent.functionEntry, site: 6, context: 0 },
    ]);
    expect(memory.ring.cpuStats(1).entries).toBe(2);
    expect(memory.ring.cpuStats(0).entries).toBe(0);
  });

  it('does not trace a function traced from inside the tracer at the same level, and counts it', () => {
    const memory = MachineMemory.create(1, 64, { pagesPerCpu: 16, pageBytes: 4096, mode: 'overwrite', clock: 'counter' });
    for (let site = 0; site < 64; site++) memory.code.initialiseSite(site, true, false);
    const cpu = new Cpu(memory, { cpu: 0, seed: 1, tracerSites: [7, 8] });
    cpu.execute(20);
    cpu.execute(21);
    expect(memory.irq.counters(0).recursionSkips).toBe(4);
    expect(drain(memory).map((e) => e.site)).toEqual([20, 21]);
  });

  it('records NMI enter / exit around the handler, each call with its caller, decoded by the log codec', () => {
    const { memory, cpus } = machine();
    const cpu = cpus[0]!;
    nmiOnceAt(cpu, InterruptPoint.tracer);
    cpu.execute(20);
    cpu.execute(21);
    const out: string[] = [];
    const reader = memory.ring.reader();
    const schemas = new Map(machineSchemas().map(([type, json]) => [type, schemaFromJson(json)]));
    reader.drain({
      event: (e) => {
        const d = schemas.get(e.type)!;
        const v = decode(d, e.u8, e.offset, e.length)!;
        out.push(d.name === 'function' ? `function ${v['site']} <- ${v['parent']} @${v['context']}` : `${d.name} ${JSON.stringify(v)}`);
      },
    });
    reader.close();
    expect(out).toEqual([
      `nmi_enter {"point":${InterruptPoint.tracer},"truncated":false}`,
      `function 10 <- -1 @${Context.nmi}`,
      `function 11 <- 10 @${Context.nmi}`,
      `nmi_exit {"point":${InterruptPoint.tracer},"truncated":false}`,
      `function 20 <- -1 @${Context.normal}`,
      `function 21 <- 20 @${Context.normal}`,
    ]);
  });

  it('traces an NMI that arrives inside the tracer (another level)', () => {
    const { memory, cpus } = machine();
    const cpu = cpus[0]!;
    nmiOnceAt(cpu, InterruptPoint.tracer);
    cpu.execute(20);
    const seen = drain(memory);
    expect(seen.map((e) => [e.site, e.context])).toEqual([
      [10, Context.nmi],
      [11, Context.nmi],
      [20, Context.normal],
    ]);
    expect(memory.irq.counters(0).recursionSkips).toBe(0);
  });
});

describe('faults and notrace', () => {
  it('records a torn instruction as a fault (never a throw), and an int3 nobody handles', () => {
    const { memory, cpus } = machine();
    const cpu = cpus[0]!;
    const torn = [0xe8, 0x1f, 0x44, 0x00, 0x00];
    torn.forEach((b, i) => memory.code.poke(33, i, b));
    cpu.execute(33);
    memory.code.poke(36, 0, OPCODE_INT3); // not 34: executing 33 prefetched 34
    cpu.execute(36);
    expect(memory.irq.counters(0).faults).toBe(2);
    expect(cpu.faults.map((f) => [f.site, f.bytes, f.context])).toEqual([
      [33, 'e8 1f 44 00 00', 'normal'],
      [36, `cc ${[...siteInstruction(36, true).subarray(1)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`, 'normal'],
    ]);
    expect(drain(memory).filter((e) => e.type === MachineEvent.fault).map((e) => e.site)).toEqual([33, 36]);
  });

  it('keeps notrace sites NOP5 whatever the traced fraction', () => {
    const memory = MachineMemory.create(1, 2000, { pagesPerCpu: 4, pageBytes: 4096 });
    layoutCodePage(memory.code, 99, 1, 0.1);
    let notrace = 0;
    const bytes = new Uint8Array(5);
    for (let site = 0; site < 2000; site++) {
      memory.code.read(site, bytes);
      if (memory.code.isNotrace(site)) {
        notrace++;
        expect([...bytes]).toEqual([...siteInstruction(site, false)]);
      } else {
        expect([...bytes]).toEqual([...siteInstruction(site, true)]);
      }
    }
    expect(notrace).toBeGreaterThan(100);
    expect(notrace).toBeLessThan(300);
  });
});
