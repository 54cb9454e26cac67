// Writer thread of `ringtrace stress ring`: claims one CPU buffer and runs StressWriter on it.
import { parentPort, workerData } from 'node:worker_threads';
import { RingBuffer } from '../src/ring/ring-buffer.js';
import { awaitGo } from '../src/stress/stress-control.js';
import type { StressMessage, WriterStart } from '../src/stress/stress-messages.js';
import { StressWriter } from '../src/stress/stress-writer.js';

const start = workerData as WriterStart;
if (parentPort === null || start?.kind !== 'writer') throw new Error('ring-writer.js runs as a stress worker with a WriterStart');
const port = parentPort;
const post = (m: StressMessage): void => port.postMessage(m);

const control = new Int32Array(start.control);
const writer = RingBuffer.attach(start.ring).writer(start.cpu);
const stress = new StressWriter(writer, { seed: start.seed, nmiPerSecond: start.nmiPerSecond, maxDepth: start.maxDepth });
post({ type: 'ready' });
awaitGo(control, start.startTimeoutMs);
const result = stress.run(control, start.runTimeoutMs);
writer.close();
post({ type: 'writer-done', result });
