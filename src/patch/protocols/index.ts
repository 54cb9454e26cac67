import type { Protocol, ProtocolName } from '../protocol.js';
import { int3 } from './int3.js';
import { int3Batch } from './int3-batch.js';
import { stopMachine } from './stop-machine.js';
import { redo } from './redo.js';
import { redoNmiWait } from './redo-nmi-wait.js';

/** Every protocol, by its `--protocol` name. */
export const protocols: Readonly<Record<ProtocolName, Protocol>> = {
  int3,
  'int3-batch': int3Batch,
  'stop-machine': stopMachine,
  redo,
  'redo-nmi-wait': redoNmiWait,
};
