// Worker: a writer thread of the eventlog suite's drain benchmarks (bench/eventlog/drain-writer.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { runDrainWriter, type DrainWriterStart } from '../bench/eventlog/drain-writer.js';

const start = workerData as DrainWriterStart;
if (parentPort === null || start?.kind !== 'drain-writer') throw new Error('bench-drain-writer.js runs as a worker with a DrainWriterStart');
parentPort.postMessage(runDrainWriter(start));
