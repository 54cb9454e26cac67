import type { StreamVerifier } from '../../src/check/stream-verifier.js';
import { RingBuffer } from '../../src/ring/ring-buffer.js';
import type { ReadOptions } from '../../src/ring/reader.js';
import type { ContentionReader, Design } from './design.js';

/**
 * `percpu`: ringtrace itself. One CPU buffer per writer thread, CpuWriter's lock-free
 * reserve/commit, discard mode, the hrtime clock (nothing shared between writers), and
 * RingReader merging the CPUs by timestamp, taking whole pages. Nothing here but the adapter.
 */
export const percpuDesign: Design = {
  name: 'percpu',
  create: (writers, g) =>
    RingBuffer.create({ cpus: writers, pagesPerCpu: g.pagesPerWriter, pageBytes: g.pageBytes, mode: 'discard', clock: 'hrtime' }).buffer,
  writer: (sab, index) => RingBuffer.attach(sab).writer(index),
  reader: (sab): ContentionReader => {
    const reader = RingBuffer.attach(sab).reader();
    // Whole pages while the writers run (the consumer mode for a fast writer: the reader
    // stays off the page being written); drain() takes the rest at the end.
    const options: { maxEvents: number } & ReadOptions = { maxEvents: 0, wholePages: true };
    return {
      read: (verifier: StreamVerifier, maxEvents: number) => {
        options.maxEvents = maxEvents;
        return reader.read(verifier, options);
      },
      finish: (verifier: StreamVerifier) => reader.drain(verifier),
    };
  },
  stats: (sab) => {
    const stats = RingBuffer.attach(sab).stats();
    let full = 0;
    let other = 0;
    for (const s of stats) {
      full += s.dropped - s.commitOverrun;
      other += s.commitOverrun;
    }
    return { stats, lost: { full, nmiLock: 0, timeout: 0, other } };
  },
};
