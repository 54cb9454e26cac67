// The drain thread (DrainThread): copies an EventLog, or the machine's ring, out to its sink until told to finish.
import { workerData } from 'node:worker_threads';
import { runDrainLoop, type DrainStart } from '../src/log/drain-loop.js';

const start = workerData as DrainStart;
if (start?.kind !== 'log-drain') throw new Error('log-drain.js runs as a drain thread with a DrainStart');
await runDrainLoop(start);
