// The patching coordinator's thread: performs patch requests one at a time, in arrival order.
import { parentPort, workerData } from 'node:worker_threads';
import { MachineMemory } from '../src/machine/machine-memory.js';
import { Coordinator } from '../src/patch/coordinator.js';
import type { CoordinatorReply, CoordinatorRequest } from '../src/patch/patcher.js';

if (parentPort === null) throw new Error('coordinator.js runs as a worker thread');
const port = parentPort;
const coordinator = new Coordinator(MachineMemory.attach(workerData as SharedArrayBuffer));
port.on('message', (m: CoordinatorRequest) => {
  let reply: CoordinatorReply;
  try {
    reply = { id: m.id, report: coordinator.run(m.request) };
  } catch (err) {
    reply = { id: m.id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  port.postMessage(reply);
});
port.postMessage({ id: -1, ready: true });
