import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type as osType } from 'node:os';

/** What the benchmarks ran on: CPU model (from /proc/cpuinfo where there is one), cores, Node. */
export interface MachineBasics {
  readonly cpuModel: string;
  readonly cores: number;
  readonly node: string;
  readonly v8: string;
  readonly os: string;
  readonly totalMemoryBytes: number;
}

export function describeMachine(): MachineBasics {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    node: process.version,
    v8: process.versions.v8,
    os: `${osType()} ${release()} ${process.arch}`,
    totalMemoryBytes: totalmem(),
  };
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

/** Identifies the ring code that was measured: the compiled modules next to this one. */
export function ringBuildHash(): string {
  const dir = new URL('../src/ring/', import.meta.url);
  const hash = createHash('sha256');
  try {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.js')).sort()) {
      hash.update(file).update(readFileSync(new URL(file, dir)));
    }
  } catch {
    return 'unknown';
  }
  return hash.digest('hex').slice(0, 12);
}
