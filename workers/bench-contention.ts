// Worker: a writer or the reader of one contention-suite cell (bench/contention/loops.ts).
import { workerData } from 'node:worker_threads';
import { prepareContentionReader, prepareContentionWriter } from '../bench/contention/loops.js';
import { type ContentionOutcome, expectContentionStart } from '../bench/contention/protocol.js';
import { serve } from '../bench/worker-port.js';

const start = expectContentionStart(workerData, 'contention-writer', 'contention-reader');
await serve<ContentionOutcome>(() => (start.kind === 'contention-writer' ? prepareContentionWriter(start) : prepareContentionReader(start)));
