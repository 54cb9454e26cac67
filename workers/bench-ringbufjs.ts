// Worker: the producer or the consumer of ringbufjs-threads (bench/ring/thread-loops.ts).
import { workerData } from 'node:worker_threads';
import { expectStart } from '../bench/ring/protocol.js';
import { prepareRingbufJsConsumer, prepareRingbufJsProducer } from '../bench/ring/thread-loops.js';
import { serve } from '../bench/worker-port.js';

await serve(() => {
  const start = expectStart(workerData, 'ringbufjs-producer', 'ringbufjs-consumer');
  return start.kind === 'ringbufjs-producer' ? prepareRingbufJsProducer(start) : prepareRingbufJsConsumer(start);
});
