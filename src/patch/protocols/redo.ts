import { NmiEntryMode } from '../../machine/patch-area.js';
import { type PatchEntry, type PatchStep, type ProtocolOptions, type Protocol } from '../protocol.js';

/**
 * `redo` — Ingo's scheme, exactly as proposed in the thread, inside stop_machine (so only
 * NMIs run concurrently). Per site:
 *
 * 1. (stop_machine)
 * 2. fill the redo buffer (site, new bytes); raise redo_pending;
 * 3. write the five bytes;
 * 4. lower redo_pending;
 * 5. (release)
 *
 * An NMI entering with redo_pending up copies the redo buffer to the site and serializes
 * before running any code: it executes the new instruction whole. Mathieu's race: an NMI
 * that entered *before* redo_pending went up read it as 0, and runs the site while step 3
 * changes it: a torn instruction. The explorer finds it; the threaded run shows it as faults.
 */
function* steps(entries: readonly PatchEntry[], _options: ProtocolOptions): Generator<PatchStep, void, void> {
  yield { kind: 'stopMachine' };
  for (const e of entries) {
    yield { kind: 'setRedo', site: e.site, bytes: e.to };
    yield { kind: 'write', entries: [e], part: 'whole' };
    yield { kind: 'clearRedo' };
  }
  yield { kind: 'releaseMachine' };
}

/**
 * Safe only where no NMI runs a site being written, as stop-machine: with NMIs masked while
 * stopped, or a notrace NMI handler. The redo buffer does not close Mathieu's race.
 */
export const redo = { name: 'redo', steps, nmiEntry: NmiEntryMode.redo, safeWhen: (c) => c.nmisMasked || c.notraceNmi } as const satisfies Protocol;
