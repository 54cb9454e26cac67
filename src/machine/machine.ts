import { Piscina } from 'piscina';
import { prng } from '../prng.js';
import type { ClockName, ModeName } from '../ring/layout.js';
import type { RingReader } from '../ring/reader.js';
import { StreamVerifier, reconcile, type Reconciliation, type StreamWriterCounts } from '../check/stream-verifier.js';
import { compiledWorkerPath } from '../worker-path.js';
import type { CpuResult, CpuStart } from './cpu-task.js';
import { FAULT_LOG_LIMIT, type FaultRecord } from './cpu.js';
import type { CodePage } from './code-page.js';
import { FetchModel, type FetchModelOptions } from './fetch-model.js';
import { interruptPointNames, type SyncResult } from './interrupts.js';
import { MachineMemory } from './machine-memory.js';
import { NmiEntryMode } from './patch-area.js';
import type { NmiSourceResult, NmiSourceStart } from './nmi-source.js';
import { FUNCTION_ENTRY_BYTES, MachineEvent, globRegExp, machineSchemas, symbolTable, Symbols, type SymbolTable } from './trace-events.js';
import { DrainThread } from '../log/drain-thread.js';
import { TraceFileReader } from '../trace/trace-reader.js';
import type { StreamFormat } from '../check/stream-payload.js';
import { checkNumberOption } from '../option-check.js';

/** The machine's trace: one stream per context level, plus NMI, int3 and fault events. */
export const MACHINE_FORMAT: StreamFormat = {
  typeBase: MachineEvent.functionEntry,
  streams: 3,
  payloadBytes: FUNCTION_ENTRY_BYTES,
  otherTypes: [MachineEvent.nmiEnter, MachineEvent.nmiExit, MachineEvent.int3, MachineEvent.patchPhase, MachineEvent.fault],
};

export interface MachineOptions {
  /** CPUs, one worker thread each. Defaults to 2. */
  readonly cpus?: number;
  /** Call sites in the code page. Defaults to 20,000. */
  readonly sites?: number;
  /** Sites set to CALL at boot: all, none, or a fraction chosen by the seed. Defaults to all. */
  readonly traced?: 'all' | 'none' | number;
  /** Fraction of sites marked notrace (never patched, never traced). Defaults to 0.01. */
  readonly notraceFraction?: number;
  /** NMIs per second raised on each CPU. Defaults to 10,000. */
  readonly nmiPerSecond?: number;
  /** Sites the NMI handler executes. Defaults to sites 0..3. */
  readonly nmiSites?: readonly number[];
  /** Sites the function tracer calls itself (recursion guard). Defaults to none. */
  readonly tracerSites?: readonly number[];
  /** Seed of everything random (workloads, NMI arrivals, fetch model). Defaults to a random seed. */
  readonly seed?: number;
  readonly fetch?: FetchModelOptions;
  /** Probability that a workload step idles (hlt). Defaults to 0.001. */
  readonly idleProbability?: number;
  /** Longest idle spell, ms. Defaults to 0.2. */
  readonly idleMs?: number;
  readonly ring?: {
    readonly pagesPerCpu?: number;
    readonly pageBytes?: number;
    readonly mode?: ModeName;
    readonly clock?: ClockName;
  };
  /** Bound on starting and stopping the CPUs, ms. Defaults to 30,000. */
  readonly timeoutMs?: number;
  /** What NMI entry does: the 2008 redo schemes need their own (patch-area.ts). Defaults to plain. */
  readonly nmiEntry?: NmiEntryMode;
  /** Mark every site the NMI handler runs notrace (the thread's mitigation). Defaults to false. */
  readonly notraceNmiSites?: boolean;
  /** Sites whose names (trace-events.ts) match these globs (`rcu_*,kfree_*`) are notrace, on top of `notraceFraction`. */
  readonly notrace?: string;
  /** Fault injection for tests: this CPU throws after this many workload steps, counted once every CPU runs. */
  readonly crash?: { readonly cpu: number; readonly afterSteps: number };
  /**
   * Record the trace into a trace file (written anew): a drain thread copies the ring's pages
   * into it while the machine runs, with the event schemas and the symbol table; at the stop
   * the file is read back and checked like the live trace. Defaults to none: the main thread
   * reads and checks the trace live and keeps nothing.
   */
  readonly record?: { readonly path: string };
}

/** What a recorded trace's segment description holds (`MachineOptions.record`). */
export interface MachineTraceDescription {
  readonly producer: 'ringtrace machine';
  readonly seed: number;
  readonly cpus: number;
  readonly sites: number;
  readonly symbols: SymbolTable;
  /** The ring buffer that holds the coordinator's patch phases. */
  readonly coordinatorTrack: number;
}

export interface MachineReport {
  readonly seed: number;
  readonly cpus: number;
  readonly sites: number;
  /** From the moment every CPU ran to the stop. */
  readonly seconds: number;
  /** The longest time a CPU spent in its run loop, seconds. */
  readonly cpuSeconds: number;
  /** Events the CPUs attempted (function entries and faults). */
  readonly events: number;
  readonly read: number;
  readonly overrun: number;
  readonly dropped: number;
  readonly unread: number;
  readonly unaccounted: number;
  /** Failed checks and corruption reports. */
  readonly corrupt: number;
  readonly faults: number;
  readonly nmis: number;
  /** NMIs raised while the line was down, and raises that coalesced with a pending one. */
  readonly nmisRaised: number;
  readonly nmisCoalesced: number;
  readonly ipis: number;
  readonly maxNesting: number;
  readonly recursionSkipped: number;
  readonly sitesExecuted: number;
  readonly nmisAt: Record<string, number>;
  readonly faultLog: FaultRecord[];
  readonly failures: string[];
  /** Per CPU (and the coordinator's track, after them, when recorded): events attempted, read, lost by cause, NMIs taken, deepest write nesting. */
  readonly perCpu: ReadonlyArray<{ readonly cpu: number; readonly events: number; readonly read: number; readonly overrun: number; readonly dropped: number; readonly nmis: number; readonly maxNesting: number }>;
  /** The trace file written (`record`), its size and what its drain took out of the ring, or null. */
  readonly recorded: { readonly path: string; readonly bytes: number; readonly events: number; readonly lost: number } | null;
}

/**
 * Boot-time code page: each site notrace with probability `notraceFraction`, and CALL with
 * probability `tracedFraction` unless notrace (notrace sites stay NOP5 forever). Seeded.
 */
export function layoutCodePage(code: CodePage, seed: number, tracedFraction: number, notraceFraction: number): void {
  const layout = prng(seed ^ 0x1badb002);
  for (let site = 0; site < code.sites; site++) {
    const notrace = layout() < notraceFraction;
    code.initialiseSite(site, layout() < tracedFraction, notrace);
  }
}

/** MachineOptions checked, with every default filled in. */
export interface MachineConfig {
  readonly cpus: number;
  readonly sites: number;
  /** Fraction of sites CALL at boot (`traced` as a number: all 1, none 0). */
  readonly tracedFraction: number;
  readonly notraceFraction: number;
  readonly nmiPerSecond: number;
  readonly nmiSites: readonly number[];
  readonly tracerSites: readonly number[];
  readonly seed: number;
  readonly fetch: FetchModelOptions;
  readonly idleProbability: number;
  readonly idleMs: number;
  readonly ring: Required<NonNullable<MachineOptions['ring']>>;
  readonly timeoutMs: number;
  readonly nmiEntry: NmiEntryMode;
  readonly notraceNmiSites: boolean;
  readonly crash: { readonly cpu: number; readonly afterSteps: number } | null;
  readonly record: { readonly path: string } | null;
  readonly notrace: RegExp | null;
}

/** Validates options eagerly (before any thread starts) and fills in the documented defaults, once. */
export function resolveMachineOptions(options: MachineOptions = {}): MachineConfig {
  const cpus = checkNumberOption('cpus', options.cpus ?? 2, 1, 64, true);
  const sites = checkNumberOption('sites', options.sites ?? 20_000, 1, 1_000_000, true);
  const traced = options.traced ?? 'all';
  const nmiSites = options.nmiSites ?? [0, 1, 2, 3].filter((s) => s < sites);
  const tracerSites = options.tracerSites ?? [];
  for (const s of [...nmiSites, ...tracerSites]) checkNumberOption('nmiSites/tracerSites entry', s, 0, sites - 1, true);
  const fetch = options.fetch ?? {};
  new FetchModel(1, () => 0, fetch); // validates the fetch options here, not in a CPU thread
  return {
    cpus,
    sites,
    tracedFraction: traced === 'all' ? 1 : traced === 'none' ? 0 : checkNumberOption('traced', traced, 0, 1, false),
    notraceFraction: checkNumberOption('notraceFraction', options.notraceFraction ?? 0.01, 0, 1, false),
    nmiPerSecond: checkNumberOption('nmiPerSecond', options.nmiPerSecond ?? 10_000, 0, 1e6, false),
    nmiSites,
    tracerSites,
    seed: (options.seed ?? Math.random() * 2 ** 32) >>> 0,
    fetch,
    idleProbability: checkNumberOption('idleProbability', options.idleProbability ?? 0.001, 0, 1, false),
    idleMs: checkNumberOption('idleMs', options.idleMs ?? 0.2, 0, 60_000, false),
    ring: {
      pagesPerCpu: options.ring?.pagesPerCpu ?? 256,
      pageBytes: options.ring?.pageBytes ?? 4096,
      mode: options.ring?.mode ?? 'overwrite',
      clock: options.ring?.clock ?? 'hrtime',
    },
    timeoutMs: checkNumberOption('timeoutMs', options.timeoutMs ?? 30_000, 1, 2 ** 31 - 1, true),
    nmiEntry: options.nmiEntry ?? NmiEntryMode.plain,
    notraceNmiSites: options.notraceNmiSites === true,
    crash: options.crash ?? null,
    record: checkRecord(options.record),
    notrace: options.notrace === undefined ? null : globRegExp(options.notrace),
  };
}

function checkRecord(record: MachineOptions['record']): { readonly path: string } | null {
  if (record === undefined) return null;
  if (typeof record !== 'object' || record === null || typeof record.path !== 'string' || record.path === '') {
    throw new TypeError('options.record must be { path: non-empty string }');
  }
  return { path: record.path };
}

/**
 * The simulated machine: N CPU worker threads (long tasks on a piscina pool of exactly
 * N + 1 threads, the last one the NMI source) over one SharedArrayBuffer holding the
 * control block, the interrupt blocks, the code page and the per-CPU ring buffers. The
 * main thread consumes and checks the trace while it runs.
 */
export class Machine {
  readonly memory: MachineMemory;
  readonly seed: number;
  private readonly pool: Piscina;
  private readonly tasks: Array<Promise<CpuResult>>;
  private readonly source: Promise<NmiSourceResult>;
  private readonly failures: string[] = [];
  /** The live reader, or null when a drain thread records the trace. */
  private readonly reader: RingReader | null;
  private readonly drain: DrainThread | null;
  private readonly recordPath: string | null;
  private readonly verifier: StreamVerifier;
  private readonly poller: NodeJS.Timeout | null;
  /** The code page's names (the trace carries them when recorded). */
  readonly symbols: SymbolTable;
  private readonly timeoutMs: number;
  private startedAt = performance.now();
  private stopped: Promise<MachineReport> | null = null;

  private constructor(memory: MachineMemory, config: MachineConfig, symbols: SymbolTable, drain: DrainThread | null) {
    this.memory = memory;
    this.symbols = symbols;
    this.drain = drain;
    this.recordPath = config.record?.path ?? null;
    this.seed = config.seed;
    this.timeoutMs = config.timeoutMs;
    const cpus = memory.cpus;
    const random = prng(config.seed);
    this.pool = new Piscina({
      filename: compiledWorkerPath('machine-task'),
      minThreads: cpus + 1,
      maxThreads: cpus + 1,
      idleTimeout: 0,
      execArgv: [],
      atomics: 'disabled',
    });
    this.verifier = new StreamVerifier(memory.ring.config.cpus, MACHINE_FORMAT);
    if (drain === null) {
      // The reader consumes in the main thread, page by page, while the CPUs run.
      const reader = memory.ring.reader();
      this.reader = reader;
      this.poller = setInterval(() => reader.read(this.verifier, { wholePages: true }), 2);
    } else {
      this.reader = null;
      this.poller = null;
    }
    this.tasks = [];
    for (let cpu = 0; cpu < cpus; cpu++) {
      const start: CpuStart = {
        kind: 'cpu',
        buffer: memory.sab,
        cpu,
        seed: (random() * 2 ** 32) >>> 0,
        nmiSites: config.nmiSites,
        tracerSites: config.tracerSites,
        fetch: config.fetch,
        idleProbability: config.idleProbability,
        idleMs: config.idleMs,
        crashAfterSteps: config.crash?.cpu === cpu ? config.crash.afterSteps : -1,
      };
      this.tasks.push(this.watch(this.pool.run(start) as Promise<CpuResult>, `cpu ${cpu}`));
    }
    const source: NmiSourceStart = {
      kind: 'nmi-source',
      buffer: memory.sab,
      seed: (random() * 2 ** 32) >>> 0,
      nmiPerSecond: config.nmiPerSecond,
    };
    this.source = this.watch(this.pool.run(source) as Promise<NmiSourceResult>, 'the NMI source');
  }

  /** Boots the machine and returns once every CPU runs. Options are validated. */
  static async start(options: MachineOptions = {}): Promise<Machine> {
    const config = resolveMachineOptions(options);
    // A recorded machine gives the coordinator a track of its own in the ring.
    const memory = MachineMemory.create(config.cpus, config.sites, config.ring, config.nmiEntry, config.record !== null);
    layoutCodePage(memory.code, config.seed, config.tracedFraction, config.notraceFraction);
    if (config.notraceNmiSites) {
      for (const site of config.nmiSites) memory.code.initialiseSite(site, false, true);
    }
    const symbols = symbolTable(config.sites, config.seed, config.nmiSites, config.tracerSites);
    if (config.notrace !== null) {
      const names = new Symbols(symbols);
      for (let site = 0; site < config.sites; site++) if (config.notrace.test(names.name(site))) memory.code.initialiseSite(site, false, true);
    }
    let drain: DrainThread | null = null;
    if (config.record !== null) {
      const description: MachineTraceDescription = { producer: 'ringtrace machine', seed: config.seed, cpus: config.cpus, sites: config.sites, symbols, coordinatorTrack: memory.coordinatorTrack };
      // The drain takes the reader role before any CPU writes; the machine's stop finishes it.
      drain = await DrainThread.startRing(memory.ring, machineSchemas(), description, {
        sink: { kind: 'binary', path: config.record.path, flags: 'w' },
        flushMs: 200,
      });
    }
    const machine = new Machine(memory, config, symbols, drain);
    try {
      await machine.untilRunning(config.cpus);
      machine.startedAt = performance.now(); // rates count from when every CPU runs, not from boot
    } catch (err) {
      await machine.stop().catch(() => undefined);
      throw err;
    }
    return machine;
  }

  /** What the drain thread has written so far while recording (racy: it keeps writing), or null. */
  recording(): { readonly events: number; readonly bytes: number } | null {
    if (this.drain === null) return null;
    const s = this.drain.stats();
    return { events: s.events, bytes: s.bytes };
  }

  /** One sync_core round from the main thread to `targets` (default: every CPU). */
  async syncCore(targets: readonly number[] = [...Array(this.memory.cpus).keys()], timeoutMs = 1000): Promise<SyncResult> {
    return this.memory.irq.syncCoreAsync(targets, timeoutMs);
  }

  /** Runs for `seconds`, then stops and reports. */
  async runFor(seconds: number): Promise<MachineReport> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, seconds * 1000);
      // A CPU failure ends the wait at once.
      void Promise.all([...this.tasks, this.source]).catch(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.stop();
  }

  /**
   * Stops every CPU and the NMI source, drains and checks the trace, and reports. Rejects,
   * naming the CPU, if one failed; no thread outlives it either way.
   */
  stop(): Promise<MachineReport> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<MachineReport> {
    const memory = this.memory;
    memory.requestStop();
    if (this.poller !== null) clearInterval(this.poller);
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.timeoutMs)));
      const settled = await Promise.race([Promise.allSettled([...this.tasks, this.source]), deadline]);
      if (settled === 'timeout') throw new Error(`the machine did not stop within ${this.timeoutMs} ms (${memory.running()} CPUs still running)`);
      if (this.failures.length > 0) throw new Error(this.failures.join('; '));
      const results = (settled.slice(0, memory.cpus) as Array<PromiseFulfilledResult<CpuResult>>).map((r) => r.value);
      const source = (settled[memory.cpus] as PromiseFulfilledResult<NmiSourceResult>).value;
      let recorded: MachineReport['recorded'] = null;
      if (this.reader !== null) this.reader.drain(this.verifier);
      else if (this.drain !== null && this.recordPath !== null) {
        const drained = await this.drain.close();
        // The file is the trace: it is checked as read back, every event of it.
        const file = TraceFileReader.open(this.recordPath);
        file.read(this.verifier);
        recorded = { path: this.recordPath, bytes: file.bytes, events: drained.events, lost: drained.lost };
      }
      return this.report(results, source, recorded);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      this.reader?.close();
      await this.drain?.close().catch(() => undefined);
      await this.pool.destroy();
    }
  }

  private report(results: CpuResult[], source: NmiSourceResult, recorded: MachineReport['recorded']): MachineReport {
    const memory = this.memory;
    const stats = memory.ring.stats();
    const writers: StreamWriterCounts[] = [...results];
    const track = memory.coordinatorTrack;
    if (track >= 0) {
      // The coordinator's thread is gone by now; its writes are counted by the ring it wrote to.
      const st = stats[track]!;
      writers.push({ cpu: track, attempts: [], stored: [], nmis: 0, others: st.written, othersStored: st.written - st.dropped });
    }
    const rec: Reconciliation = reconcile(this.verifier.summary(), writers, stats);
    const failures = [...rec.failureLog];
    const counters = [...Array(memory.cpus).keys()].map((cpu) => memory.irq.counters(cpu));
    const sum = <T>(xs: T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);
    const raised = sum(source.raised, (n) => n);
    const counted = sum(counters, (c) => c.nmisRaised + c.nmisCoalesced);
    if (raised !== counted) failures.push(`the NMI source raised ${raised} NMIs, the interrupt blocks counted ${counted}`);
    const nmisAt: Record<string, number> = {};
    interruptPointNames.forEach((name, i) => (nmisAt[name] = sum(results, (r) => r.nmisAt[i] ?? 0)));
    return {
      seed: this.seed,
      cpus: memory.cpus,
      sites: memory.code.sites,
      seconds: (performance.now() - this.startedAt) / 1000,
      cpuSeconds: Math.max(...results.map((r) => r.elapsedMs)) / 1000,
      events: sum(rec.perCpu, (c) => c.written),
      read: sum(rec.perCpu, (c) => c.read),
      overrun: sum(rec.perCpu, (c) => c.overrun),
      dropped: sum(rec.perCpu, (c) => c.dropped),
      unread: sum(rec.perCpu, (c) => c.unread),
      unaccounted: rec.unaccounted,
      corrupt: rec.failures + rec.corruptReports + (raised !== counted ? 1 : 0),
      faults: sum(counters, (c) => c.faults),
      nmis: sum(counters, (c) => c.nmisTaken),
      nmisRaised: sum(counters, (c) => c.nmisRaised),
      nmisCoalesced: sum(counters, (c) => c.nmisCoalesced),
      ipis: sum(counters, (c) => c.ipisTaken),
      maxNesting: Math.max(...stats.map((s) => s.maxNesting)),
      recursionSkipped: sum(counters, (c) => c.recursionSkips),
      sitesExecuted: sum(counters, (c) => c.sitesExecuted),
      nmisAt,
      faultLog: results.flatMap((r) => r.faults).slice(0, FAULT_LOG_LIMIT),
      failures,
      perCpu: rec.perCpu.map((c) => ({ cpu: c.cpu, events: c.written, read: c.read, overrun: c.overrun, dropped: c.dropped, nmis: counters[c.cpu]?.nmisTaken ?? 0, maxNesting: stats[c.cpu]!.maxNesting })),
      recorded,
    };
  }

  /** Records a task's failure (naming it) and stops the machine; the promise keeps its rejection. */
  private watch<T>(task: Promise<T>, name: string): Promise<T> {
    task.catch((err: unknown) => {
      this.failures.push(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      this.memory.requestStop();
    });
    return task;
  }

  private async untilRunning(cpus: number): Promise<void> {
    const deadline = performance.now() + this.timeoutMs;
    while (this.memory.running() < cpus) {
      if (this.failures.length > 0) throw new Error(this.failures.join('; '));
      if (performance.now() > deadline) throw new Error(`only ${this.memory.running()} of ${cpus} CPUs started within ${this.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}
