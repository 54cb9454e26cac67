import { NmiEntryMode } from '../../machine/patch-area.js';
import { type PatchEntry, type PatchStep, type ProtocolOptions, type Protocol } from '../protocol.js';

/**
 * `stop-machine` — kstop_machine (2008): stop the world, write, release.
 *
 * 1. every CPU enters the rendezvous with IRQs off and spins;
 * 2. write every byte of every site, in place;
 * 3. release; each CPU serializes (sync_core) as it leaves.
 *
 * No CPU runs normal code while the bytes change — but NMIs still arrive in the rendezvous
 * and their handlers run traced code: an NMI executing a site half-written observes a torn
 * instruction (the thread's point: "kstop_machine is not NMI-safe"). Safe only with NMIs
 * disabled for the duration (`--no-nmi`, the thread's "force-disable the NMI watchdog") or
 * with every site the NMI handler can reach marked notrace (`notrace-nmi`).
 */
function* steps(entries: readonly PatchEntry[], _options: ProtocolOptions): Generator<PatchStep, void, void> {
  yield { kind: 'stopMachine' };
  yield { kind: 'write', entries, part: 'whole' };
  yield { kind: 'releaseMachine' };
}

/** Safe only with NMIs masked while stopped or a notrace NMI handler (above). */
export const stopMachine = { name: 'stop-machine', steps, nmiEntry: NmiEntryMode.plain, safeWhen: (c) => c.nmisMasked || c.notraceNmi } as const satisfies Protocol;
