import { NmiEntryMode } from '../../machine/patch-area.js';
import { type PatchEntry, type PatchStep, type ProtocolOptions, type Protocol } from '../protocol.js';

/**
 * `redo-nmi-wait` — Rostedt's implementation of Ingo's idea (2.6.28) with the 2009 fold of
 * the write flag into bit 31 of nmi_running, inside stop_machine. Per site:
 *
 * 1. (stop_machine)
 * 2. fill the redo buffer; raise the write flag by compareExchange(nmi_running, 0, FLAG):
 *    it only goes up when no NMI is in flight (the patcher waits until then);
 * 3. write the five bytes;
 * 4. lower the write flag;
 * 5. wait until nmi_running is 0: NMIs that entered while the flag was up leave;
 * 6. (release)
 *
 * NMI entry increments nmi_running; if the flag is up it performs the pending write itself
 * (identical bytes: harmless) and serializes before running code; NMI exit decrements. No
 * NMI can be running code that predates the flag (step 2 waited for them), and every NMI
 * that enters after it runs only the new bytes: no torn instruction.
 */
function* steps(entries: readonly PatchEntry[], _options: ProtocolOptions): Generator<PatchStep, void, void> {
  yield { kind: 'stopMachine' };
  for (const e of entries) {
    yield { kind: 'raiseWriteFlag', site: e.site, bytes: e.to };
    yield { kind: 'write', entries: [e], part: 'whole' };
    yield { kind: 'dropWriteFlag' };
    yield { kind: 'waitNmisIdle' };
  }
  yield { kind: 'releaseMachine' };
}

/** Safe whatever NMIs do (above). */
export const redoNmiWait = { name: 'redo-nmi-wait', steps, nmiEntry: NmiEntryMode.nmiRunning, safeWhen: () => true } as const satisfies Protocol;
