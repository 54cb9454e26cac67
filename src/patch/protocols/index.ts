import type { PatchEntry, Protocol } from '../protocol.js';
import { int3 } from './int3.js';
import { int3Batch } from './int3-batch.js';
import { stopMachine } from './stop-machine.js';
import { redo } from './redo.js';
import { redoNmiWait } from './redo-nmi-wait.js';

/** Every protocol, in the order they are listed and benchmarked. Each names itself. */
const all = [int3, int3Batch, stopMachine, redo, redoNmiWait] as const;

export type ProtocolName = (typeof all)[number]['name'];
export const protocolNames: readonly ProtocolName[] = all.map((p) => p.name);
/** Every protocol, by its `--protocol` name. */
export const protocols = Object.fromEntries(all.map((p) => [p.name, p])) as Readonly<Record<ProtocolName, Protocol>>;

/** The protocol of a name given at a boundary; a RangeError names the allowed ones. */
export function protocolOf(name: string): Protocol {
  const protocol = (protocols as Readonly<Record<string, Protocol>>)[name];
  if (protocol === undefined || !Object.hasOwn(protocols, name)) {
    throw new RangeError(`protocol must be one of ${protocolNames.join(', ')} (got ${String(name)})`);
  }
  return protocol;
}

/**
 * The sync rounds one operation over `sites` changed sites takes: the `sync` steps the
 * protocol's own generator yields for them (its options left at their defaults).
 */
export function syncRoundsOf(protocol: Protocol, sites: number): number {
  const none = new Uint8Array(0);
  const entries: PatchEntry[] = [];
  for (let site = 0; site < sites; site++) entries.push({ site, from: none, to: none });
  let rounds = 0;
  for (const step of protocol.steps(entries, {})) if (step.kind === 'sync') rounds++;
  return rounds;
}
