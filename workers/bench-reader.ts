// Worker: the ringtrace reader thread of writer-reader-threads (bench/ring/thread-loops.ts).
import { workerData } from 'node:worker_threads';
import { expectStart } from '../bench/ring/protocol.js';
import { prepareRingReader } from '../bench/ring/thread-loops.js';
import { serve } from '../bench/worker-port.js';

await serve(() => prepareRingReader(expectStart(workerData, 'ring-reader')));
