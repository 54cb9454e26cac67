// Worker: one thread of two-threads-ceiling, the machine's two-thread reference (bench/ring/thread-loops.ts).
import { workerData } from 'node:worker_threads';
import { expectStart } from '../bench/ring/protocol.js';
import { prepareCeilingThread } from '../bench/ring/thread-loops.js';
import { serve } from '../bench/worker-port.js';

await serve(() => prepareCeilingThread(expectStart(workerData, 'ceiling-thread')));
