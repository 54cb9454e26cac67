/**
 * The patching coordinator's own cost, for reading or for a CPU profiler (not part of the suite):
 *
 *   node dist/bench/patch/profile-coordinator.js [protocol] [sites] [ops]      (defaults: int3-batch 20000 20)
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/patch/profile-coordinator.js int3-batch 20000 60
 *
 * 1. A machine whose 2 CPUs sleep in hlt (they wake only to acknowledge sync rounds) and
 *    take no NMIs, so nothing traps and nothing competes for a core; the Coordinator runs
 *    in this main thread (it blocks, which is fine here), so a profile of the main thread
 *    is the coordinator's alone. Prints each operation's wallMs (the protocol's steps), the
 *    wall time of the whole run() (entries() included) and the process's CPU time.
 * 2. The ingredients of one operation, each timed alone, warm, on a private machine memory
 *    that no CPU runs: entries(), generating the protocol's steps, publishing the
 *    breakpoint table, the pokes, the expected-instruction stores (medians of 30, on-CPU
 *    time from getrusage, and wall).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Machine, layoutCodePage } from '../../src/machine/machine.js';
import { INSN_BYTES } from '../../src/machine/code-page.js';
import { MachineMemory } from '../../src/machine/machine-memory.js';
import { TABLE_ENTRY_BYTES } from '../../src/machine/patch-area.js';
import { Coordinator, type PatchRequest } from '../../src/patch/coordinator.js';
import { protocolNames, protocols, type ProtocolName } from '../../src/patch/protocols/index.js';
import { deactivateTable, publishTable } from '../../src/patch/step-effects.js';
import { median } from '../stats.js';
import { machineOptions } from './operations.js';

const protocol = (process.argv[2] ?? 'int3-batch') as ProtocolName;
if (!protocolNames.includes(protocol)) throw new RangeError(`protocol must be one of ${protocolNames.join(', ')} (got ${process.argv[2]})`);
const sites = Number(process.argv[3] ?? 20_000);
if (!(Number.isInteger(sites) && sites >= 1 && sites <= 20_000)) throw new RangeError(`sites must be an integer in [1, 20000] (got ${process.argv[3]})`);
const ops = Number(process.argv[4] ?? 20);
if (!(Number.isInteger(ops) && ops >= 2 && ops % 2 === 0)) throw new RangeError(`ops must be an even integer >= 2 (got ${process.argv[4]})`);

/** The process's CPU time (getrusage), ms: this thread, the V8 helper threads (GC), and the CPUs' brief wake-ups. */
const onCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};
const request = (i: number): PatchRequest => ({ protocol, action: i % 2 === 0 ? 'disable' : 'enable', filter: { from: 0, to: sites - 1 } });

// 1. The whole operation, CPUs asleep.
const machine = await Machine.start(machineOptions(protocol, 0x5eed0301, true));
const walls: number[] = [];
const runs: number[] = [];
const cpus: number[] = [];
try {
  await delay(200);
  const coordinator = new Coordinator(machine.memory);
  for (let i = 0; i < ops; i++) {
    const c0 = onCpuMs();
    const t0 = performance.now();
    const report = coordinator.run(request(i));
    runs.push(performance.now() - t0);
    cpus.push(onCpuMs() - c0);
    walls.push(report.wallMs);
    process.stdout.write(
      `${protocol} ${sites} op ${i} (${report.action}): wallMs ${report.wallMs.toFixed(2)}, run() ${runs[i]!.toFixed(2)} ms with entries(), ` +
        `process on CPU ${cpus[i]!.toFixed(2)} ms, sync rounds ${report.syncRounds}\n`,
    );
  }
} finally {
  await machine.stop();
}
const half = (xs: number[]): string => median(xs.slice(ops / 2)).toFixed(2);
process.stdout.write(`medians of the second half: wallMs ${half(walls)}, run() ${half(runs)} ms, process on CPU ${half(cpus)} ms\n\n`);

// 2. The ingredients alone.
const memory = MachineMemory.create(1, 20_000, { pagesPerCpu: 4, pageBytes: 4096, mode: 'overwrite', clock: 'hrtime' });
layoutCodePage(memory.code, 1, 1, 0);
const coordinator = new Coordinator(memory);
const { entries } = coordinator.entries(request(0));
// Only this thread runs now: the process's CPU time (getrusage) is this thread's.
// `setup` runs untimed before each sample and hands the body its input.
const time = <T>(label: string, body: (input: T) => void, setup: () => T): void => {
  for (let i = 0; i < 5; i++) body(setup());
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 30; i++) {
    const input = setup();
    const c = process.cpuUsage();
    const t = performance.now();
    body(input);
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1e3);
  }
  process.stdout.write(`${label.padEnd(58)} ${median(cpu).toFixed(2).padStart(7)} ms on CPU, ${median(wall).toFixed(2).padStart(7)} ms wall\n`);
};
const same = (): typeof entries => entries;
// Each operation publishes entries that entries() has just made: fresh objects.
const fresh = (): typeof entries => coordinator.entries(request(0)).entries;
let steps = 0;
time(`entries() over ${sites} sites`, () => void coordinator.entries(request(0)), () => null);
time(
  `generating the ${protocol} steps (iterated, not performed)`,
  (list) => {
    steps = 0;
    for (const _step of protocols[protocol].steps(list, {})) steps++;
  },
  same,
);
process.stdout.write(`  (${steps} steps)\n`);
const publish = (list: typeof entries): void => {
  publishTable(memory.patch, list, 'new', 'percpu', 1);
  deactivateTable(memory.patch);
};
time(`publishTable of ${entries.length} fresh entries + deactivate`, publish, fresh);
time(`publishTable of the same ${entries.length} entries again`, publish, same);
// Reference, not the coordinator's code: the same table bytes written by a plain loop.
time(
  `the same table bytes by a plain byte loop (reference)`,
  (list) => {
    const { i32, u8 } = memory.patch;
    list.forEach((e, n) => {
      i32[(memory.patch.tableBase + n * TABLE_ENTRY_BYTES) >> 2] = e.site;
      const from = memory.patch.entryBytes(n, 0);
      const to = memory.patch.entryBytes(n, 1);
      for (let b = 0; b < INSN_BYTES; b++) {
        u8[from + b] = e.from[b]!;
        u8[to + b] = e.to[b]!;
      }
    });
  },
  fresh,
);
time(
  `${entries.length * INSN_BYTES} pokes (one Atomics.store each; the same bytes back)`,
  (list) => {
    for (const e of list) for (let b = 0; b < INSN_BYTES; b++) memory.code.poke(e.site, b, e.from[b]!);
  },
  same,
);
time(
  `${entries.length * 2} expected-instruction stores (setExpected)`,
  (list) => {
    for (const e of list) memory.patch.setExpected(e.site, 0);
    for (const e of list) memory.patch.setExpected(e.site, 0);
  },
  same,
);
