// Worker: one single-thread benchmark, alone in a fresh isolate: a ring suite one
// (bench/ring/single-thread.ts) or an eventlog suite one (bench/eventlog/single-thread.ts),
// or one writer thread of an eventlog latency benchmark (bench/eventlog/latency.ts).
import { workerData } from 'node:worker_threads';
import type { EventLogBenchStart, EventLogLatencyOutcome, EventLogLatencyStart, EventLogOutcome } from '../bench/eventlog/protocol.js';
import type { BenchStart, SingleOutcome } from '../bench/ring/protocol.js';
import { serve, startChecker } from '../bench/worker-port.js';

const start = startChecker<BenchStart | EventLogBenchStart | EventLogLatencyStart>()(workerData, 'single', 'eventlog-single', 'eventlog-latency');
// Only the suite's own modules are loaded into the isolate.
await serve<SingleOutcome | EventLogOutcome | EventLogLatencyOutcome>(async () => {
  if (start.kind === 'eventlog-latency') {
    const { prepareLatency } = await import('../bench/eventlog/latency.js');
    return prepareLatency(start);
  }
  if (start.kind === 'eventlog-single') {
    const { prepareEventLogSingle } = await import('../bench/eventlog/single-thread.js');
    return prepareEventLogSingle(start);
  }
  const { prepareSingle } = await import('../bench/ring/single-thread.js');
  return prepareSingle(start);
});
