// Worker: one single-thread benchmark, alone in a fresh isolate (bench/ring/single-thread.ts).
import { workerData } from 'node:worker_threads';
import { expectStart } from '../bench/ring/protocol.js';
import { prepareSingle } from '../bench/ring/single-thread.js';
import { serve } from '../bench/worker-port.js';

await serve(() => prepareSingle(expectStart(workerData, 'single')));
