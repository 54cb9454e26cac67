/**
 * The flight recorder: keep the last events of a hot path in memory, in overwrite mode,
 * and write them to a file when the process dies of an uncaught exception (or on SIGUSR2).
 *
 *   npm run build && node dist/examples/flight-recorder.js /tmp/crash.dump
 *
 * then read the dump back with `loadDump` (or, later, `ringtrace report`).
 */
import { EventLog, defineEvent, installFlightRecorder } from '../src/index.js';

const Step = defineEvent('step', { n: 'u32', millis: 'f64', note: 'string' });

const path = process.argv[2] ?? 'flight-recorder.dump';
// About the last 1 MiB of events: 128 pages of 8 KiB, the oldest overwritten first.
const log = EventLog.create({ slots: 1, pagesPerSlot: 128, pageBytes: 8192, mode: 'overwrite' });
installFlightRecorder(log, path, { signals: ['SIGUSR2'] });

const writer = log.writer();
const record = writer.record(Step); // the allocation-free path for the hot loop
for (let n = 0; n < 1_000_000; n++) {
  record.n = n;
  record.millis = performance.now();
  record.note = n % 1000 === 0 ? 'checkpoint' : '';
  writer.emitRecord(Step, record);
}
throw new Error('something went wrong after a million steps; the last ones are in the dump');
