// Entry of the coarse clock's ticker thread: publishes the time until RingBuffer.close().
import { workerData } from 'node:worker_threads';
import { runCoarseTicker } from '../src/ring/clock.js';

runCoarseTicker(workerData as SharedArrayBuffer);
