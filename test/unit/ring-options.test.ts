import { describe, expect, it } from 'vitest';
import { RingBuffer, RingLayoutError } from '../../src/index.js';
import { G_MAGIC, G_VERSION } from '../../src/ring/layout.js';

describe('ring options', () => {
  it('applies the documented defaults', () => {
    const rb = RingBuffer.create({ cpus: 1 });
    expect(rb.config).toEqual({ cpus: 1, pagesPerCpu: 64, pageBytes: 4096, maxPayloadBytes: 256, mode: 'overwrite', blockTimeoutMs: 0, clock: 'hrtime', coarsePeriodUs: 200 });
  });

  it.each([
    [{ pageBytes: 100 }, RangeError, /options\.pageBytes must be a power of two between 256 and 1048576 \(got 100\)/],
    [{ pageBytes: 3000 }, RangeError, /options\.pageBytes/],
    [{ pageBytes: '4096' }, TypeError, /options\.pageBytes must be a number \(got string\)/],
    [{ pagesPerCpu: 1 }, RangeError, /options\.pagesPerCpu must be an integer between 2 and 4096 \(got 1\)/],
    [{ pagesPerCpu: 2.5 }, RangeError, /options\.pagesPerCpu/],
    [{ cpus: 0 }, RangeError, /options\.cpus must be an integer between 1 and 256 \(got 0\)/],
    [{ maxPayloadBytes: 5000 }, RangeError, /options\.maxPayloadBytes must be an integer between 0 and \d+ \(got 5000\)/],
    [{ mode: 'ring' }, RangeError, /options\.mode must be one of overwrite, discard, block \(got "ring"\)/],
    [{ mode: 'block', blockTimeoutMs: 0 }, RangeError, /options\.blockTimeoutMs must be an integer between 1 and 60000 \(got 0\)/],
    [{ mode: 'block', blockTimeoutMs: 2.5 }, RangeError, /options\.blockTimeoutMs must be an integer between 1 and 60000 \(got 2\.5\)/],
    [{ mode: 'block', blockTimeoutMs: '5' }, TypeError, /options\.blockTimeoutMs must be a number \(got string\)/],
    [{ mode: 'discard', blockTimeoutMs: 5 }, RangeError, /options\.blockTimeoutMs applies to mode 'block' only \(mode is "discard", got 5\)/],
    [{ blockTimeoutMs: 5 }, RangeError, /options\.blockTimeoutMs applies to mode 'block' only \(mode is "overwrite", got 5\)/],
    [{ clock: 'tsc' }, RangeError, /options\.clock must be one of hrtime, counter, coarse \(got "tsc"\)/],
    [{ coarsePeriodUs: 5 }, RangeError, /options\.coarsePeriodUs must be an integer between 20 and 1000000 \(got 5\)/],
    [{ clock: 7 }, TypeError, /options\.clock must be a string/],
    [{ cpus: 256, pagesPerCpu: 4096, pageBytes: 1 << 20 }, RangeError, /must fit in/],
    [{ cpu: 2 }, TypeError, /options: unknown option "cpu" \(the options are cpus, pagesPerCpu, pageBytes, maxPayloadBytes, mode, blockTimeoutMs, clock, coarsePeriodUs\)/],
    [{ cpus: 1, pagebytes: 4096 }, TypeError, /unknown option "pagebytes"/],
  ])('rejects %j', (options, kind, message) => {
    expect(() => RingBuffer.create(options as never)).toThrow(kind);
    expect(() => RingBuffer.create(options as never)).toThrow(message);
  });

  it('takes a config back as options, in every mode', () => {
    for (const mode of ['overwrite', 'discard', 'block'] as const) {
      const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 2, pageBytes: 256, mode });
      expect(RingBuffer.create({ ...rb.config }).config).toEqual(rb.config);
    }
  });

  it('attaches only to a ringtrace buffer of this layout version', () => {
    const rb = RingBuffer.create({ cpus: 2, pagesPerCpu: 4, pageBytes: 256 });
    expect(RingBuffer.attach(rb.buffer).config).toEqual(rb.config);
    expect(() => RingBuffer.attach(new ArrayBuffer(1024))).toThrow(TypeError);
    expect(() => RingBuffer.attach(new SharedArrayBuffer(16))).toThrow(RingLayoutError);
    const copy = new SharedArrayBuffer(rb.buffer.byteLength);
    new Uint8Array(copy).set(new Uint8Array(rb.buffer));
    new Uint32Array(copy)[G_VERSION / 4] = 99;
    expect(() => RingBuffer.attach(copy)).toThrow(/layout version 99 is not supported/);
    new Uint32Array(copy)[G_MAGIC / 4] = 0xdeadbeef;
    expect(() => RingBuffer.attach(copy)).toThrow(/not a ringtrace buffer: magic 0xdeadbeef/);
  });

  it('names the CPU range when a cpu id is out of range', () => {
    const rb = RingBuffer.create({ cpus: 2, pagesPerCpu: 4, pageBytes: 256 });
    expect(() => rb.writer(2)).toThrow(/cpu must be an integer between 0 and 1 \(got 2\)/);
    expect(() => rb.writer(-1)).toThrow(RangeError);
    expect(() => rb.cpuStats(5)).toThrow(RangeError);
  });

  it('gives each CPU buffer one writer and the buffer one reader', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256 });
    const w = rb.writer(0);
    expect(() => rb.writer(0)).toThrow(/already has a writer/);
    w.close();
    rb.writer(0).close();
    const r = rb.reader();
    expect(() => rb.reader()).toThrow(/already has a reader/);
    r.close();
    rb.reader().close();
  });

  it('rejects unknown writer and reader option names, and bad reader option values', () => {
    const rb = RingBuffer.create({ cpus: 1, pagesPerCpu: 4, pageBytes: 256 });
    expect(() => rb.writer(0, { hok: () => {} } as never)).toThrow(/options: unknown option "hok" \(the options are hook\)/);
    expect(() => rb.writer(0, { hook: 5 } as never)).toThrow(new TypeError('options.hook must be a function (got number)'));
    rb.writer(0).close(); // the refused calls claimed nothing
    const r = rb.reader();
    expect(() => r.read({ event: () => {} }, { max: 5 } as never)).toThrow(/unknown option "max" \(the options are maxEvents, wholePages\)/);
    expect(() => r.read({ event: () => {} }, { maxEvents: -1 })).toThrow(RangeError);
    expect(() => r.read({ event: () => {} }, { wholePages: 'yes' } as never)).toThrow(TypeError);
    expect(r.read({ event: () => {} }, { maxEvents: 10, wholePages: true })).toBe(0);
  });
});
