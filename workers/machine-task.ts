// The piscina task of the simulated machine: one long-running CPU, or the NMI source.
// Piscina needs the task function as this module's default export; the logic is in src/machine.
import { runCpuTask, type CpuStart, type CpuResult } from '../src/machine/cpu-task.js';
import { runNmiSource, type NmiSourceStart, type NmiSourceResult } from '../src/machine/nmi-source.js';

export default function machineTask(start: CpuStart | NmiSourceStart): CpuResult | NmiSourceResult {
  return start.kind === 'cpu' ? runCpuTask(start) : runNmiSource(start);
}
