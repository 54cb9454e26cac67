import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { INSN_BYTES } from '../../src/machine/code-page.js';
import { Insn, decode } from '../../src/machine/instruction.js';
import type { Machine, MachineOptions } from '../../src/machine/machine.js';
import type { PatchReport, PatchRequest } from '../../src/patch/coordinator.js';
import { protocols, syncRoundsOf, type ProtocolName } from '../../src/patch/protocols/index.js';
import { DISTURBED_OTHER_LOAD_CORES, type Undisturbed, measureUndisturbed, roundCores } from '../disturbance.js';
import { machineCheck } from '../machine/boot.js';
import { median } from '../stats.js';
import type { PatchBenchResult } from './results.js';
import { QUICK_SETTLE_MS, SETTLE_MS, type MeasuredOperation, type PatchSession, withPatchSession } from './session.js';

/*
 * patch-<protocol>-<sites>: how long one live-patching operation takes, and whether any CPU
 * executed a torn instruction while it ran.
 *
 *   main thread: patcher.patch(op) x K, alternating disable / enable of sites 0 .. N-1
 *        |  (messages)
 *   coordinator thread: the protocol's steps: pokes, sync_core rounds, table, stop_machine
 *        |  IPIs, code bytes, patch area                    ^ acks, int3 traps, rendezvous
 *        v                                                  |
 *   CPU worker 0, 1: loop { interrupt point; execute a random site of 20,000 (all CALL) }
 *   NMI source: 10,000 NMIs/s per CPU requested; the NMI handler executes sites 0..3,
 *               which every operation patches
 *   main thread, between replies: the machine's reader (every 2 ms)
 *
 * One machine per protocol (its NMI entry mode is fixed at boot): the sizes run on it in
 * order, 100, 1,000, 20,000 sites, each as warm-up operations, measured operations, then
 * an empty operation that collects the stale executions after the last one. Operations
 * come in disable/enable pairs, so every size leaves every site CALL again, which the
 * check verifies byte by byte.
 */

export const CPUS = 2;
/** Sites in the code page; operations patch the first N of them. */
export const MACHINE_SITES = 20_000;
export const NMI_PER_SECOND = 10_000;
export const NMI_SITES: readonly number[] = [0, 1, 2, 3];
/** Pause between operations: each starts from the machine's normal workload, not from the previous one's tail. */
const GAP_MS = 5;

export interface SizePlan {
  readonly sites: number;
  /** Measured operations (even: disable/enable pairs). */
  readonly ops: number;
  /** Unmeasured operations before them (even). */
  readonly warmupOps: number;
  /** Times this size is run again at most because other processes disturbed it. */
  readonly reruns: number;
}

export interface ProtocolPlan {
  readonly protocol: ProtocolName;
  readonly sizes: readonly SizePlan[];
  readonly seed: number;
  /**
   * The diagnostic variant: the CPUs asleep in hlt (they wake only to acknowledge sync
   * rounds) and no NMIs, so nothing traps and nothing competes with the coordinator for a
   * core: what the coordinator itself costs. Results are named `...-idle-cpus`.
   */
  readonly idleCpus?: boolean;
}

/** The sync rounds one operation over `sites` changed sites must take: as many as the protocol's generator yields. */
export function expectedSyncRounds(protocol: ProtocolName, sites: number): number {
  return syncRoundsOf(protocols[protocol], sites);
}

/** Whether a protocol must show no fault on the suite's machine (NMIs on, the NMI handler's sites traced). */
function mustBeSafe(protocol: ProtocolName): boolean {
  return protocols[protocol].safeWhen({ nmisMasked: false, notraceNmi: false });
}

export function machineOptions(protocol: ProtocolName, seed: number, idleCpus = false): MachineOptions {
  return {
    cpus: CPUS,
    sites: MACHINE_SITES,
    traced: 'all',
    // Every site patchable.
    notraceFraction: 0,
    nmiPerSecond: idleCpus ? 0 : NMI_PER_SECOND,
    nmiSites: NMI_SITES,
    // Busy CPUs never halt; idle ones halt at every step, and an idle spell ends only when an IPI comes.
    idleProbability: idleCpus ? 1 : 0,
    ...(idleCpus ? { idleMs: 60_000 } : {}),
    seed,
    nmiEntry: protocols[protocol].nmiEntry,
  };
}

export function machineConfig(idleCpus = false): string {
  return (
    `cpus ${CPUS}, sites ${MACHINE_SITES} all CALL at boot (notraceFraction 0), ` +
    (idleCpus
      ? 'idleProbability 1 and idleMs 60000 (asleep in hlt until an IPI), nmiPerSecond 0'
      : `idleProbability 0, nmiPerSecond ${NMI_PER_SECOND} requested, NMI handler runs sites ${NMI_SITES.join(',')}`) +
    ', ring defaults (256 x 4 KiB per CPU, overwrite, hrtime)'
  );
}

/** 2 CPU threads + the NMI source + the coordinator + the main thread (the machine's reader). */
export function threadsText(idleCpus = false): { threads: string; oversubscribed: boolean } {
  const n = CPUS + 3;
  if (idleCpus) {
    return {
      threads: `${CPUS} CPU threads asleep in hlt (awake only to acknowledge) + NMI source (no NMIs) + coordinator + main (reader), on ${availableParallelism()} cores`,
      oversubscribed: false,
    };
  }
  return {
    threads: `${CPUS} CPU threads + NMI source + coordinator + main (reader) = ${n} threads on ${availableParallelism()} cores`,
    oversubscribed: n > availableParallelism(),
  };
}

/** Faults counted by every CPU so far (racy getters: exact once the operations are over). */
export function faultsSoFar(machine: Machine): number {
  let n = 0;
  for (let cpu = 0; cpu < machine.memory.cpus; cpu++) n += machine.memory.irq.counters(cpu).faults;
  return n;
}

/**
 * Sites of 0 .. sites-1 that do not hold `CALL tracer` whole. After an even number of
 * operations they all must; an unsafe protocol may leave some torn (redo: an NMI that saw
 * the redo flag of one site copies the redo buffer while the coordinator refills it for
 * the next, and writes one site's CALL at another).
 */
export function sitesNotCall(machine: Machine, sites: number): number {
  const bytes = new Uint8Array(INSN_BYTES);
  let bad = 0;
  for (let site = 0; site < sites; site++) {
    machine.memory.code.read(site, bytes);
    if (decode(site, bytes) !== Insn.callTracer) bad++;
  }
  return bad;
}

/** A sequence of measured operations on one session, and what surrounded them. */
export interface OperationsRun {
  readonly ops: MeasuredOperation[];
  /** The empty operation after the last one (it collects the stale executions after it). */
  readonly tail: PatchReport;
  /** Faults counted by the CPUs from the first measured operation to the end of the tail one. */
  readonly faults: number;
  /** Sites of the range not CALL once the operations were over (torn). */
  readonly sitesNotCall: number;
}

/**
 * Runs `warmupOps` then `ops` operations (disable, enable, ...), each request built by
 * `requestOf(i)` (i counts measured operations; warm-up ones get negative i), then the
 * closing empty operation. `ops` and `warmupOps` are even.
 */
export async function runOperations(
  session: PatchSession,
  sites: number,
  ops: number,
  warmupOps: number,
  requestOf: (i: number, action: 'disable' | 'enable') => PatchRequest,
): Promise<OperationsRun> {
  for (let i = 0; i < warmupOps; i++) {
    await session.operate(requestOf(i - warmupOps, i % 2 === 0 ? 'disable' : 'enable'));
    await delay(GAP_MS);
  }
  const faultsBefore = faultsSoFar(session.machine);
  const measured: MeasuredOperation[] = [];
  for (let i = 0; i < ops; i++) {
    measured.push(await session.operate(requestOf(i, i % 2 === 0 ? 'disable' : 'enable')));
    await delay(GAP_MS);
  }
  // An empty int3-batch operation performs no step at all: it only reads the counters,
  // among them the stale executions since the last measured operation completed.
  const tail = await session.patcher.patch({ protocol: 'int3-batch', action: 'enable', filter: { sites: [] } });
  return { ops: measured, tail, faults: faultsSoFar(session.machine) - faultsBefore, sitesNotCall: sitesNotCall(session.machine, sites) };
}

/** What a run of operations of one protocol over `sites` sites must show; '' when it passed. */
export function operationsCheck(run: OperationsRun, protocol: ProtocolName, sites: number): string {
  const problems: string[] = [];
  const safe = mustBeSafe(protocol);
  const rounds = expectedSyncRounds(protocol, sites);
  run.ops.forEach(({ report: r }, i) => {
    if (r.sites !== sites) problems.push(`operation ${i} (${r.action}) changed ${r.sites} sites, not ${sites}`);
    if (r.syncRounds !== rounds) problems.push(`operation ${i} took ${r.syncRounds} sync rounds, not ${rounds}`);
    if (safe && r.damagedSites !== 0) problems.push(`operation ${i} found ${r.damagedSites} torn sites`);
  });
  if (safe && run.faults !== 0) problems.push(`${run.faults} faults (a safe protocol must show none)`);
  const stale = staleAfterDone(run);
  if (safe && stale !== 0) problems.push(`${stale} executions of an old instruction after its operation completed`);
  if (safe && run.sitesNotCall !== 0) problems.push(`${run.sitesNotCall} of the ${sites} sites do not hold CALL after the operations`);
  return problems.slice(0, 5).join('; ');
}

export function staleAfterDone(run: OperationsRun): number {
  // Each report counts the stale executions since the operation before it completed.
  return run.ops.slice(1).reduce((n, o) => n + o.report.staleAfterPrevious, 0) + run.tail.staleAfterPrevious;
}

const p50 = (xs: readonly number[]): number => median(xs);

/** The figures of a run of operations (medians per operation), without the identity and check fields. */
export function figures(run: OperationsRun): Pick<
  PatchBenchResult,
  | 'ops'
  | 'wallMsP50'
  | 'wallMsMax'
  | 'wallMs'
  | 'syncRounds'
  | 'syncRoundsRange'
  | 'faults'
  | 'sitesLeftTorn'
  | 'staleAfterDone'
  | 'trapsP50'
  | 'breakpointHandlerMsP50'
  | 'ipiHandlerMsP50'
  | 'stoppedMsP50'
  | 'nsPerTrapP50'
  | 'cpuNsPerSiteP50'
  | 'windowMsP50'
  | 'coordinatorOnCpuMsP50'
  | 'coordinatorRunqueueMsP50'
  | 'coordinatorAsleepMsP50'
  | 'cpuThreadsOnCpuMsP50'
  | 'cpuThreadsRunqueueMsP50'
> {
  const reports = run.ops.map((o) => o.report);
  const wallMs = reports.map((r) => r.wallMs);
  const rounds = reports.map((r) => r.syncRounds);
  const trapped = reports.filter((r) => r.traps > 0);
  const coordinator = run.ops.map((o) => o.coordinator);
  const cpuThreads = run.ops.map((o) => o.cpuThreads);
  const known = <T>(xs: readonly (T | null)[]): xs is T[] => xs.every((x) => x !== null);
  return {
    ops: reports.length,
    wallMsP50: p50(wallMs),
    wallMsMax: Math.max(...wallMs),
    wallMs,
    // Every operation does the same work; if they disagree the check says so and this is the largest.
    syncRounds: Math.max(...rounds),
    ...(Math.min(...rounds) === Math.max(...rounds) ? {} : { syncRoundsRange: [Math.min(...rounds), Math.max(...rounds)] as const }),
    faults: run.faults,
    sitesLeftTorn: run.sitesNotCall,
    staleAfterDone: staleAfterDone(run),
    trapsP50: p50(reports.map((r) => r.traps)),
    breakpointHandlerMsP50: p50(reports.map((r) => r.breakpointHandlerMs)),
    ipiHandlerMsP50: p50(reports.map((r) => r.ipiHandlerMs)),
    stoppedMsP50: p50(reports.map((r) => r.stoppedMs)),
    ...(trapped.length === 0 ? {} : { nsPerTrapP50: p50(trapped.map((r) => (r.breakpointHandlerMs * 1e6) / r.traps)) }),
    windowMsP50: p50(run.ops.map((o) => o.windowMs)),
    ...(known(coordinator)
      ? {
          coordinatorOnCpuMsP50: p50(coordinator.map((c) => c.onCpuMs)),
          coordinatorRunqueueMsP50: p50(coordinator.map((c) => c.runqueueMs)),
          coordinatorAsleepMsP50: p50(run.ops.map((o) => Math.max(0, o.windowMs - o.coordinator!.onCpuMs - o.coordinator!.runqueueMs))),
        }
      : {}),
    ...(known(cpuThreads)
      ? {
          cpuThreadsOnCpuMsP50: p50(cpuThreads.map((c) => c.onCpuMs)),
          cpuThreadsRunqueueMsP50: p50(cpuThreads.map((c) => c.runqueueMs)),
        }
      : {}),
    ...(known(cpuThreads) && run.ops.every((o) => o.sitesExecuted > 0)
      ? { cpuNsPerSiteP50: p50(run.ops.map((o) => (o.cpuThreads!.onCpuMs * 1e6) / o.sitesExecuted)) }
      : {}),
  };
}

export const THREAD_METHOD =
  'wallMs = PatchReport.wallMs (the coordinator times its steps with performance.now(); entries() and messaging are outside it); ' +
  'per operation the main thread reads the schedstat of the coordinator thread and of the CPU threads before posting the request and after the reply ' +
  '(windowMs): coordinator on CPU / runnable waiting for a core (runqueue) / asleep (the rest: waiting for acks, handlers, the rendezvous); ' +
  'p50 = median over the measured operations';

/** Runs every size of one protocol on one machine; returns a result per size, in plan order. */
export async function runProtocol(plan: ProtocolPlan, quick: boolean, progress: (line: string) => void): Promise<PatchBenchResult[]> {
  const { protocol } = plan;
  const idle = plan.idleCpus === true;
  const suffix = idle ? '-idle-cpus' : '';
  const safe = mustBeSafe(protocol);
  const request = (sites: number) => (_i: number, action: 'disable' | 'enable'): PatchRequest => ({
    protocol,
    action,
    filter: { from: 0, to: sites - 1 },
    bypass: 'new',
    refcount: 'percpu',
    nmi: 'on',
    pokeCostNs: 0,
  });
  const settleMs = quick ? QUICK_SETTLE_MS : SETTLE_MS;
  const { value: sizes, report } = await withPatchSession(machineOptions(protocol, plan.seed, idle), settleMs, async (session) => {
    const out: { size: SizePlan; measured: Undisturbed<OperationsRun> }[] = [];
    for (const size of plan.sizes) {
      progress(`patch-${protocol}-${size.sites}${suffix}: ${size.ops} operations${size.warmupOps > 0 ? ` after ${size.warmupOps} warm-up ones` : ''} ...`);
      const measured = await measureUndisturbed(
        1,
        quick ? 0 : size.reruns,
        () => runOperations(session, size.sites, size.ops, size.warmupOps, request(size.sites)),
        { failed: (run) => operationsCheck(run, protocol, size.sites) !== '' },
      );
      out.push({ size, measured });
    }
    return out;
  });
  const machineProblems = machineCheck(report, { faultsAllowed: !safe });
  const { threads, oversubscribed } = threadsText(idle);
  return sizes.map(({ size, measured }) => {
    const { value: run, other } = measured.kept[0]!;
    const problems = [operationsCheck(run, protocol, size.sites), machineProblems].filter((p) => p !== '');
    const f = figures(run);
    const rounds = expectedSyncRounds(protocol, size.sites);
    return {
      name: `patch-${protocol}-${size.sites}${suffix}`,
      protocol,
      sites: size.sites,
      refcount: 'percpu',
      warmupOps: size.warmupOps,
      ...f,
      faultsExpected: !safe,
      cpus: CPUS,
      threads,
      oversubscribed,
      config: `${machineConfig(idle)}; requests: sites 0..${size.sites - 1}, bypass new, refcount percpu, nmi on, pokeCostNs 0`,
      seeds: [plan.seed],
      method:
        `one machine for the protocol (its sizes in order on it), ${settleMs} ms settling after boot; ` +
        `${size.warmupOps} warm-up then ${size.ops} measured operations, alternating disable / enable, ${GAP_MS} ms apart; ` +
        `run again (at most ${quick ? 0 : size.reruns} times) if other processes kept > ${DISTURBED_OTHER_LOAD_CORES} cores busy; ${THREAD_METHOD}`,
      verified: problems.length === 0,
      check:
        `every operation changed all ${size.sites} sites with ${rounds} sync rounds; ` +
        (safe
          ? `faults 0, no torn site found, no old instruction executed after its operation completed; all ${size.sites} sites hold CALL afterwards; `
          : 'faults and sites left torn are reported, not failed; ') +
        `machine report: corrupt 0, unaccounted 0${safe ? ', faults 0' : ''}`,
      ...(problems.length === 0 ? {} : { verifyError: problems.join('; ') }),
      ...(other === undefined ? {} : { otherLoadCores: roundCores(other) }),
      ...(measured.disturbed.length === 0 ? {} : { disturbedWallMsP50: measured.disturbed.map((d) => figures(d.value).wallMsP50) }),
      notes: notesOf(run, f),
    };
  });
}

/** One line on where the time went. */
export function notesOf(run: OperationsRun, f: ReturnType<typeof figures>): string {
  const fmt = (x: number | undefined, d = 1): string => (x === undefined ? '?' : x.toFixed(d));
  const perOp = run.ops.map((o) => o.report);
  return (
    `per operation (p50): window ${fmt(f.windowMsP50)} ms, coordinator on CPU ${fmt(f.coordinatorOnCpuMsP50)} ms, ` +
    `waiting for a core ${fmt(f.coordinatorRunqueueMsP50)} ms, asleep ${fmt(f.coordinatorAsleepMsP50)} ms; ` +
    `CPU threads on CPU ${fmt(f.cpuThreadsOnCpuMsP50)} ms (sum of ${CPUS}), waiting for a core ${fmt(f.cpuThreadsRunqueueMsP50)} ms; ` +
    `CPU time per site executed ${fmt(f.cpuNsPerSiteP50, 0)} ns; ` +
    `traps ${fmt(f.trapsP50, 0)}, int3 handlers ${fmt(f.breakpointHandlerMsP50, 2)} ms, IPI handlers ${fmt(f.ipiHandlerMsP50, 2)} ms, ` +
    `stopped ${fmt(f.stoppedMsP50, 2)} ms; faults per operation ${perOp.map((r) => r.faults).join(', ')}` +
    (f.sitesLeftTorn > 0 ? `; ${f.sitesLeftTorn} sites left torn after the operations` : '')
  );
}
