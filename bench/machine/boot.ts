import { Machine, type MachineOptions, type MachineReport } from '../../src/machine/machine.js';

/**
 * Boots a simulated machine, runs `body` while it runs, and stops the machine in every
 * case (Machine.start stops it itself if booting fails). Returns the body's value and the
 * machine's final report. If the body fails, its error is thrown once the machine has
 * stopped (with the stop's own failure, if any, appended); if only stopping fails, that is
 * thrown.
 */
export async function withMachine<T>(options: MachineOptions, body: (machine: Machine) => Promise<T>): Promise<{ value: T; report: MachineReport }> {
  const machine = await Machine.start(options);
  let value: T;
  try {
    value = await body(machine);
  } catch (err) {
    const stopError = await machine.stop().then(
      () => '',
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    if (stopError !== '' && err instanceof Error) err.message += `; and stopping the machine failed: ${stopError}`;
    throw err;
  }
  return { value, report: await machine.stop() };
}

/**
 * The checks every machine run must pass: nothing corrupt, nothing unaccounted, no fault.
 * '' when clean. `faultsAllowed`: a run whose faults are its expected result (an unsafe
 * patching protocol, bench/patch/) is not failed for them; its fault events must still be
 * accounted for like any other event.
 */
export function machineCheck(report: MachineReport, options: { readonly faultsAllowed?: boolean } = {}): string {
  const problems: string[] = [];
  if (report.corrupt !== 0) problems.push(`corrupt ${report.corrupt}`);
  if (report.unaccounted !== 0) problems.push(`unaccounted ${report.unaccounted}`);
  if (report.faults !== 0 && options.faultsAllowed !== true) problems.push(`faults ${report.faults}`);
  if (report.failures.length > 0) problems.push(`failures: ${report.failures.slice(0, 3).join('; ')}`);
  return problems.length === 0 ? '' : `machine (seed ${report.seed}): ${problems.join(', ')}`;
}
