// Writer thread of `ringtrace stress log`: takes a writer of the log (its own slot or the shared one) and runs LogStressWriter.
import { parentPort, workerData } from 'node:worker_threads';
import { EventLog } from '../src/log/event-log.js';
import { awaitGo } from '../src/stress/stress-control.js';
import type { LogWriterStart, StressMessage } from '../src/stress/stress-messages.js';
import { LogStressWriter } from '../src/stress/log-stress-writer.js';

const start = workerData as LogWriterStart;
if (parentPort === null || start?.kind !== 'log-writer') throw new Error('log-writer.js runs as a stress worker with a LogWriterStart');
const port = parentPort;
const post = (m: StressMessage): void => port.postMessage(m);

const control = new Int32Array(start.control);
const writer = EventLog.attach(start.log).writer();
const stress = new LogStressWriter(writer, start.thread, start.seed);
post({ type: 'ready' });
awaitGo(control, start.startTimeoutMs);
const result = stress.run(control, start.runTimeoutMs);
writer.close();
post({ type: 'log-writer-done', result });
