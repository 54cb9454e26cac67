// Reader thread of `ringtrace stress ring`: consumes the ring into a StreamVerifier.
import { parentPort, workerData } from 'node:worker_threads';
import { RingBuffer } from '../src/ring/ring-buffer.js';
import { awaitGo } from '../src/stress/stress-control.js';
import type { ReaderStart, StressMessage } from '../src/stress/stress-messages.js';
import { runStressReader } from '../src/stress/stress-reader.js';
import { StreamVerifier } from '../src/check/stream-verifier.js';
import { STRESS_FORMAT } from '../src/stress/stress-writer.js';

const start = workerData as ReaderStart;
if (parentPort === null || start?.kind !== 'reader') throw new Error('ring-reader.js runs as a stress worker with a ReaderStart');
const port = parentPort;
const post = (m: StressMessage): void => port.postMessage(m);

const control = new Int32Array(start.control);
const ring = RingBuffer.attach(start.ring);
const reader = ring.reader();
const verifier = new StreamVerifier(ring.config.cpus, STRESS_FORMAT);
post({ type: 'ready' });
awaitGo(control, start.startTimeoutMs);
const { delivered, readWhileWriting } = runStressReader(reader, verifier, control, start.runTimeoutMs);
reader.close();
post({ type: 'reader-done', summary: verifier.summary(), delivered, readWhileWriting });
