import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type as osType } from 'node:os';

/**
 * The host the benchmarks run on, and how busy it was: every suite describes the host
 * and measures the load other processes put on it with these. ("Host", not "machine":
 * in ringtrace the machine is the simulated one of src/machine. The reports still call
 * this part of their JSON `machine`.)
 */

/** What the benchmarks ran on: CPU model (from /proc/cpuinfo where there is one), cores, Node. */
export interface HostBasics {
  readonly cpuModel: string;
  readonly cores: number;
  readonly node: string;
  readonly v8: string;
  readonly os: string;
  readonly totalMemoryBytes: number;
}

export function describeHost(): HostBasics {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    node: process.version,
    v8: process.versions.v8,
    os: `${osType()} ${release()} ${process.arch}`,
    totalMemoryBytes: totalmem(),
  };
}

/** The host plus when and how a suite ran: the `machine` part of every suite's report. */
export interface RunInfo extends HostBasics {
  /** 1-minute load averages when the run started and ended (other processes share the cores). */
  readonly loadAverageStart: number;
  readonly loadAverageEnd: number;
  readonly date: string;
  readonly runKind: 'full' | 'quick';
  readonly durationSeconds: number;
}

/** Call when a suite starts; the returned function completes its RunInfo when it ends. */
export function startRun(quick: boolean): () => RunInfo {
  const started = Date.now();
  const loadAverageStart = loadAverage();
  return () => ({
    ...describeHost(),
    loadAverageStart,
    loadAverageEnd: loadAverage(),
    date: new Date(started).toISOString(),
    runKind: quick ? 'quick' : 'full',
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
  });
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match?.[1] !== undefined) return match[1].trim();
  } catch {
    // not Linux: fall back to what libuv reports
  }
  return cpus()[0]?.model ?? 'unknown';
}

/** The 1-minute load average: how busy the shared cores were. */
export function loadAverage(): number {
  return loadavg()[0] ?? 0;
}

/** Where the CPU time went at one instant: the whole machine (/proc/stat) and this process. */
export interface CpuSample {
  /** Core-seconds every process spent busy since boot (Linux /proc/stat; USER_HZ = 100). */
  readonly busySeconds: number;
  /** Core-seconds this process (all its threads) spent on CPU. */
  readonly ownSeconds: number;
  readonly wallSeconds: number;
}

const USER_HZ = 100;

/** null where there is no /proc/stat. */
export function sampleCpu(): CpuSample | null {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return null;
  }
  const f = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
  // user nice system idle iowait irq softirq steal
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
  const own = process.cpuUsage();
  return {
    busySeconds: busy / USER_HZ,
    ownSeconds: (own.user + own.system) / 1e6,
    wallSeconds: Number(process.hrtime.bigint()) / 1e9,
  };
}

/**
 * Average number of cores other processes kept busy between two samples: the noise
 * a figure measured in that interval carries on a shared machine. Accurate to about
 * 0.01 core-second per sample (USER_HZ ticks).
 */
export function otherLoadCores(from: CpuSample | null, to: CpuSample | null): number | undefined {
  if (from === null || to === null) return undefined;
  const wall = to.wallSeconds - from.wallSeconds;
  if (!(wall > 0)) return undefined;
  const other = to.busySeconds - from.busySeconds - (to.ownSeconds - from.ownSeconds);
  return Math.max(0, other / wall);
}

/**
 * Identifies the code that was measured: sha256 (first 12 hex digits) of the compiled
 * modules of one part of src/ (`ring`: dist/src/ring/*.js, `machine`: dist/src/machine/*.js,
 * `patch`: dist/src/patch/*.js and its protocols/, `log`: dist/src/log/*.js).
 */
export function buildHash(part: 'ring' | 'machine' | 'patch' | 'log'): string {
  const dir = new URL(`../src/${part}/`, import.meta.url);
  const hash = createHash('sha256');
  try {
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    for (const file of files.sort()) hash.update(file).update(readFileSync(new URL(file, dir)));
  } catch {
    return 'unknown';
  }
  return hash.digest('hex').slice(0, 12);
}

/** The ring modules' build hash (the ring suite's `machine.ringBuildHash`). */
export function ringBuildHash(): string {
  return buildHash('ring');
}

/**
 * On-CPU time of each thread of this process, in nanoseconds, by Linux thread id: the
 * first field of /proc/self/task/<tid>/schedstat (the scheduler's own accounting, ns
 * resolution, unlike the 10 ms ticks of /proc/.../stat). Threads that exit between the
 * listing and the read are left out. null where there is no such file (not Linux, or a
 * kernel without schedstat): callers fall back to wall-clock figures and say so.
 */
export function sampleThreadCpu(): Map<number, number> | null {
  const ids = threadIds();
  if (ids === null) return null;
  const out = new Map<number, number>();
  for (const [tid, s] of sampleThreadSched(ids)) out.set(tid, s.onCpuNs);
  return out.size === 0 ? null : out;
}

/** Linux thread ids of this process's threads (/proc/self/task), or null where there is no such directory. */
export function threadIds(): number[] | null {
  try {
    return readdirSync('/proc/self/task').map(Number);
  } catch {
    return null;
  }
}

/** What the scheduler says about one thread, since it started. */
export interface ThreadSched {
  /** Time on a CPU, ns. */
  readonly onCpuNs: number;
  /** Time runnable but waiting on a run queue (preempted, or woken and not yet scheduled), ns. */
  readonly runqueueNs: number;
}

/**
 * The first two fields of /proc/self/task/<tid>/schedstat for each of `tids` (a few file
 * reads: cheap enough to take around a single operation). Threads that exited, or a
 * kernel without schedstat, are left out of the map.
 */
export function sampleThreadSched(tids: readonly number[]): Map<number, ThreadSched> {
  const out = new Map<number, ThreadSched>();
  for (const tid of tids) {
    try {
      const [cpu, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ', 2).map(Number);
      if (Number.isFinite(cpu) && Number.isFinite(wait)) out.set(tid, { onCpuNs: cpu!, runqueueNs: wait! });
    } catch {
      // the thread exited, or schedstat is not there
    }
  }
  return out;
}
