import { NmiEntryMode } from '../../machine/patch-area.js';
import { int3Phases, type PatchEntry, type PatchStep, type ProtocolOptions, type Protocol } from '../protocol.js';

/**
 * `int3` — text_poke_bp, one site at a time (after Mathieu's int3
 * bypass). Per site:
 *
 * 1. publish the patch state: a one-entry table (site, old bytes, new bytes), activated;
 * 2. write CC over the first byte;                         sync 1
 * 3. write the other four bytes;                           sync 2
 * 4. write the new first byte;                             sync 3
 * 5. tear down: deactivate, wait for handlers to leave (refcount 0).
 *
 * What a CPU executing the site may observe after each step: (2) the old instruction or
 * CC (copies of the old bytes are whole: only byte 0 changed); after sync 1, only CC.
 * (3) CC (any mix of tails behind it is never decoded). (4) CC (a copy) or the new
 * instruction whole (sync 2 dropped every old tail). After sync 3, only the new one.
 * A CPU that traps runs the bypass: the old instruction out of line (`--bypass old`,
 * Mathieu's) or an emulation of the new one (`--bypass new`, text_poke_bp since 2019), so
 * a traced call in the window is traced (new = CALL, or old = CALL) or not, never torn.
 */
function* steps(entries: readonly PatchEntry[], options: ProtocolOptions): Generator<PatchStep, void, void> {
  for (const entry of entries) {
    yield { kind: 'publish', entries: [entry] };
    yield* int3Phases([entry], options.skipSync ?? 0);
    yield { kind: 'teardown' };
  }
}

/** Safe whatever NMIs do: an NMI that executes the site sees what any CPU sees. */
export const int3 = { name: 'int3', steps, nmiEntry: NmiEntryMode.plain, safeWhen: () => true } as const satisfies Protocol;
