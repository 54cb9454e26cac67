// Worker: a ringtrace writer thread of a threaded benchmark (bench/ring/thread-loops.ts).
import { workerData } from 'node:worker_threads';
import { expectStart } from '../bench/ring/protocol.js';
import { prepareRingWriter } from '../bench/ring/thread-loops.js';
import { serve } from '../bench/worker-port.js';

await serve(() => prepareRingWriter(expectStart(workerData, 'ring-writer')));
