import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { Machine, MachineOptions, MachineReport } from '../../src/machine/machine.js';
import { DISTURBED_OTHER_LOAD_CORES, measureUndisturbed, roundCores } from '../disturbance.js';
import { otherLoadCores, sampleCpu, sampleThreadCpu } from '../host.js';
import { median } from '../stats.js';
import { machineCheck, withMachine } from './boot.js';
import type { MachineBenchResult } from './results.js';

/*
 * machine-trace-rate and its baseline machine-untraced-nop5: what a traced site costs.
 *
 *   CPU worker 0, 1: loop { interrupt point; execute a random site of 20,000 }
 *     traced 'all':  every site CALL -> function tracer -> reserve/commit a 32-byte event in the CPU's ring
 *     traced 'none': every site NOP5 -> nothing
 *   NMI source: 10,000 NMIs/s per CPU (requested); the NMI handler runs 4 sites (traced at NMI level)
 *   main thread: the machine's reader, page by page every 2 ms, checking every event
 *
 * Each round boots the traced machine and the untraced one with the same seed (same
 * workload), alternating which goes first. Each machine runs a warm-up, then a window in
 * which the main thread samples the CPUs' counters (sites executed, events written),
 * the clock, and the on-CPU time of every thread of the process (schedstat) at both ends.
 *
 *   eventsPerSec (per CPU) = function entries written in the window (ring writes less the
 *                            two events of each NMI) / window seconds / cpus
 *   nsPerSite              = on-CPU ns of the CPU threads / sites they executed in the window
 *   nsPerSiteWall          = window seconds x cpus / sites executed (charges preemption too)
 *
 * The CPU threads are told apart from the rest by elimination: they are the `cpus` busiest
 * threads among those that appeared when the machine booted (its piscina pool: the CPUs
 * and the NMI source, which sleeps between arrivals).
 */

export interface TraceRatePlan {
  readonly rounds: number;
  /** Rounds repeated at most because other processes disturbed them. */
  readonly reruns: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly seeds: readonly number[];
}

const CPUS = 2;
const SITES = 20_000;
const NMI_PER_SECOND = 10_000;

/** What one machine did in its window. */
interface SiteSample {
  readonly traced: boolean;
  readonly seconds: number;
  readonly sites: number;
  readonly events: number;
  readonly nmisRequested: number;
  readonly nmisTaken: number;
  /** null: no per-thread CPU time on this host. */
  readonly cpuThreadsNs: number | null;
  readonly nmiSourceNs: number | null;
  readonly mainThreadNs: number | null;
  /** Cores other processes kept busy during the window. */
  readonly other: number | undefined;
  readonly report: MachineReport;
}

interface Snapshot {
  readonly ns: bigint;
  readonly sites: number;
  readonly events: number;
  readonly nmisRequested: number;
  readonly nmisTaken: number;
  readonly threads: Map<number, number> | null;
}

function snapshot(machine: Machine): Snapshot {
  const threads = sampleThreadCpu();
  const ns = process.hrtime.bigint();
  const memory = machine.memory;
  let sites = 0;
  let events = 0;
  let nmisRequested = 0;
  let nmisTaken = 0;
  for (let cpu = 0; cpu < memory.cpus; cpu++) {
    // Racy getters: each word is a moment's value, which is all a window needs.
    const c = memory.irq.counters(cpu);
    sites += c.sitesExecuted;
    nmisRequested += c.nmisRaised + c.nmisCoalesced;
    nmisTaken += c.nmisTaken;
    events += memory.ring.cpuStats(cpu).written;
  }
  return { ns, sites, events, nmisRequested, nmisTaken, threads };
}

async function runSites(traced: boolean, plan: TraceRatePlan, seed: number): Promise<SiteSample> {
  const options: MachineOptions = {
    cpus: CPUS,
    sites: SITES,
    traced: traced ? 'all' : 'none',
    // Every site CALL (or every site NOP5): no notrace sites.
    notraceFraction: 0,
    nmiPerSecond: NMI_PER_SECOND,
    idleProbability: 0,
    seed,
  };
  const booting = sampleThreadCpu();
  const { value, report } = await withMachine(options, async (machine) => {
    await delay(plan.warmupMs);
    const load = sampleCpu();
    const a = snapshot(machine);
    await delay(plan.windowMs);
    const b = snapshot(machine);
    return { a, b, other: otherLoadCores(load, sampleCpu()) };
  });
  const { a, b } = value;
  let cpuThreadsNs: number | null = null;
  let nmiSourceNs: number | null = null;
  let mainThreadNs: number | null = null;
  if (booting !== null && a.threads !== null && b.threads !== null) {
    const before = a.threads;
    const used = (tid: number): number => (b.threads?.get(tid) ?? 0) - (before.get(tid) ?? 0);
    // The machine's pool threads: there at both ends of the window, not there before boot.
    const pool = [...b.threads.keys()].filter((tid) => before.has(tid) && !booting.has(tid)).map(used).sort((x, y) => y - x);
    if (pool.length >= CPUS + 1) {
      cpuThreadsNs = pool.slice(0, CPUS).reduce((s, x) => s + x, 0);
      nmiSourceNs = pool[CPUS]!;
    }
    mainThreadNs = used(process.pid);
  }
  return {
    traced,
    seconds: Number(b.ns - a.ns) / 1e9,
    sites: b.sites - a.sites,
    events: b.events - a.events,
    nmisRequested: b.nmisRequested - a.nmisRequested,
    nmisTaken: b.nmisTaken - a.nmisTaken,
    cpuThreadsNs,
    nmiSourceNs,
    mainThreadNs,
    other: value.other,
    report,
  };
}

function nsPerSite(s: SiteSample): number {
  return s.cpuThreadsNs === null ? nsPerSiteWall(s) : s.cpuThreadsNs / s.sites;
}

function nsPerSiteWall(s: SiteSample): number {
  return (s.seconds * 1e9 * CPUS) / s.sites;
}

/** The checks after timing one machine; '' when it passed. */
function check(s: SiteSample): string {
  const r = s.report;
  const problems: string[] = [];
  const clean = machineCheck(r);
  if (clean !== '') problems.push(clean);
  if (!(s.sites > 0)) problems.push('no site executed in the window');
  if (!(r.nmis > 0)) problems.push('no NMI taken');
  // Besides function entries, each NMI writes an nmi_enter and an nmi_exit event.
  if (s.traced && (r.events !== r.sitesExecuted + 2 * r.nmis || r.recursionSkipped !== 0)) {
    problems.push(`traced: ${r.events} events for ${r.sitesExecuted} sites executed and ${r.nmis} NMIs (${r.recursionSkipped} recursion skips); every site should trace once`);
  }
  if (!s.traced && r.events !== 2 * r.nmis) problems.push(`untraced: ${r.events} events written for ${r.nmis} NMIs (only their enter / exit events expected)`);
  return problems.join('; ');
}

function avg(xs: readonly (number | undefined)[]): number | undefined {
  const known = xs.filter((x): x is number => x !== undefined);
  return known.length === 0 ? undefined : roundCores(known.reduce((a, b) => a + b, 0) / known.length);
}

interface Pair {
  readonly seed: number;
  readonly traced: SiteSample;
  readonly untraced: SiteSample;
}

function fmt(x: number, digits = 1): string {
  return x.toFixed(digits);
}

/**
 * Runs the rounds and returns [machine-trace-rate, machine-untraced-nop5], the first
 * compared to the second (nsPerSite ratio and difference, medians over the rounds).
 */
export async function traceRate(plan: TraceRatePlan): Promise<[MachineBenchResult, MachineBenchResult]> {
  let attempt = 0;
  const pair = async (): Promise<Pair> => {
    const seed = plan.seeds[attempt % plan.seeds.length]!;
    // Alternate the order (T U, U T, ...) so a drift of the host hits both alike.
    const tracedFirst = attempt++ % 2 === 0;
    const first = await runSites(tracedFirst, plan, seed);
    const second = await runSites(!tracedFirst, plan, seed);
    return tracedFirst ? { seed, traced: first, untraced: second } : { seed, traced: second, untraced: first };
  };
  const measured = await measureUndisturbed(plan.rounds, plan.reruns, pair, {
    failed: (p) => check(p.traced) !== '' || check(p.untraced) !== '',
    // A round is as disturbed as the worse of its two windows.
    loadOf: (p) => (p.traced.other === undefined || p.untraced.other === undefined ? undefined : Math.max(p.traced.other, p.untraced.other)),
  });
  const traced = measured.kept.map((k) => k.value.traced);
  const untraced = measured.kept.map((k) => k.value.untraced);
  const others = measured.kept.map((k) => k.other);
  const seeds = measured.kept.map((k) => k.value.seed);
  const otherLoad = avg(others);
  const perThread = traced.every((s) => s.cpuThreadsNs !== null) && untraced.every((s) => s.cpuThreadsNs !== null);
  const threads = CPUS + 2;
  const common = {
    cpus: CPUS,
    threads: `${CPUS} CPU threads + NMI source + main (reader) = ${threads} threads on ${availableParallelism()} cores`,
    oversubscribed: threads > availableParallelism(),
    seeds,
    method:
      `${plan.rounds} round(s), each a fresh traced and a fresh untraced machine with the same seed (order alternating), ` +
      `a round run again (at most ${plan.reruns} times in all) if other processes kept > ${DISTURBED_OTHER_LOAD_CORES} cores busy ` +
      `during either window (otherLoadCores: the worse window of each round, averaged); ` +
      `${plan.warmupMs} ms warm-up, then a ${plan.windowMs} ms window sampled at both ends; ` +
      (perThread
        ? 'nsPerSite = on-CPU ns of the 2 CPU threads (schedstat) / sites executed; '
        : 'nsPerSite = wall x cpus / sites executed (no per-thread CPU time on this host); ') +
      'figures are medians over rounds',
  };
  const config = (t: boolean): string =>
    `cpus ${CPUS}, sites ${SITES} ${t ? 'all CALL' : 'all NOP5'} (notraceFraction 0), idleProbability 0, ` +
    `nmiPerSecond ${NMI_PER_SECOND} requested, ring defaults (256 x 4 KiB per CPU, overwrite, hrtime)`;
  const checkText = (t: boolean): string =>
    t
      ? 'machine report: corrupt 0, unaccounted 0, faults 0; events == sites executed + 2 per NMI (every site traced once); NMIs taken'
      : 'machine report: corrupt 0, unaccounted 0, faults 0; no events but NMI enter / exit; NMIs taken';
  const describe = (samples: SiteSample[], t: boolean): Omit<MachineBenchResult, 'name' | 'topology'> => {
    const errors = samples.map(check).filter((e) => e !== '');
    const ns = samples.map(nsPerSite);
    const nmiRate = median(samples.map((s) => s.nmisRequested / s.seconds / CPUS));
    const nmiTaken = median(samples.map((s) => s.nmisTaken / s.seconds / CPUS));
    const util = samples.map((s) => (s.cpuThreadsNs === null ? '?' : fmt((100 * s.cpuThreadsNs) / (s.seconds * 1e9 * CPUS), 0)));
    const reader = samples.map((s) => (s.mainThreadNs === null ? '?' : fmt(s.mainThreadNs / (s.seconds * 1e9), 2)));
    const source = samples.map((s) => (s.nmiSourceNs === null ? '?' : fmt(s.nmiSourceNs / (s.seconds * 1e9), 2)));
    const overrun = samples.reduce((n, s) => n + s.report.overrun, 0);
    return {
      ...(t ? { eventsPerSec: median(samples.map((s) => (s.events - 2 * s.nmisTaken) / s.seconds / CPUS)) } : {}),
      nsPerSite: median(ns),
      nsPerSiteWall: median(samples.map(nsPerSiteWall)),
      roundsNsPerSite: ns,
      ...common,
      config: config(t),
      verified: errors.length === 0,
      check: `every round: ${checkText(t)}`,
      ...(errors.length === 0 ? {} : { verifyError: errors.join('; ') }),
      ...(otherLoad === undefined ? {} : { otherLoadCores: otherLoad }),
      roundsOtherLoadCores: others.map((o) => (o === undefined ? -1 : roundCores(o))),
      ...(measured.disturbed.length === 0 ? {} : { disturbedRoundsNsPerSite: measured.disturbed.map((d) => nsPerSite(t ? d.value.traced : d.value.untraced)) }),
      notes:
        `sites/s per CPU (wall) ${(median(samples.map((s) => s.sites / s.seconds / CPUS)) / 1e6).toFixed(2)} M; ` +
        `CPU threads on CPU ${util.join(', ')} % of the window; main thread (reader) ${reader.join(', ')} cores; ` +
        `NMI source ${source.join(', ')} cores; NMIs per CPU per second: ${Math.round(nmiRate)} raised or coalesced, ` +
        `${Math.round(nmiTaken)} taken (${NMI_PER_SECOND} requested)` +
        (t ? `; ring overrun ${overrun} (events overwritten before the reader took them)` : ''),
    };
  };
  const base: MachineBenchResult = {
    name: 'machine-untraced-nop5',
    topology: '2 CPU threads executing 20,000 NOP5 sites (nothing traced), NMIs 10k/s per CPU: the baseline',
    ...describe(untraced, false),
  };
  const tracedResult = describe(traced, true);
  const result: MachineBenchResult = {
    name: 'machine-trace-rate',
    topology: '2 CPU threads executing 20,000 CALL sites -> function tracer -> per-CPU ring, NMIs 10k/s per CPU, reader in the main thread',
    ...tracedResult,
    baseline: base.name,
    vsBaseline: tracedResult.nsPerSite! / base.nsPerSite!,
    extraNsPerSite: tracedResult.nsPerSite! - base.nsPerSite!,
  };
  return [result, base];
}
