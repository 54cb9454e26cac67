// Entry of the coarse clock's ticker thread: publishes the time until RingBuffer.close().
import { workerData } from 'node:worker_threads';
import { runCoarseTicker } from '../src/ring/clock.js';

const start = workerData as { readonly buffer: SharedArrayBuffer; readonly byteOffset: number };
runCoarseTicker(start.buffer, start.byteOffset);
