import { describe, expect, it } from 'vitest';
import { runCli, isPositive, isCount } from './run-cli.js';

/**
 * Smoke test of `ringtrace bench eventlog --quick --json`: the command runs end to end in a
 * child process (the test's global setup has built dist/), prints exactly
 * { results, targets, machine }, and every benchmark the issue names is there with positive
 * figures and a passed check, the allocation check with its GC count. Shape only: no timing
 * assertion (the figures of a quick run on a shared machine mean little, and a missed target
 * is reported, not an error).
 */

const NAMES = [
  'eventlog-emit',
  'eventlog-emit-alloc-free',
  'eventlog-emit-drain',
  'ring-writer-write',
  'pino-same-fields',
  'jsonl-format',
  'jsonl-stringify',
  'eventlog-alloc-free-1M-emits',
  'emit-latency-1w',
  'emit-latency-2w',
  'emit-record-latency-1w',
  'pino-latency',
] as const;
const LATENCY = ['emit-latency-1w', 'emit-latency-2w', 'emit-record-latency-1w', 'pino-latency'] as const;
const TARGETS = ['emit-vs-pino', 'alloc-free-vs-ring-writer', 'alloc-free-no-gc', 'drain-binary-keeps-up-2w', 'drain-jsonl-1M'] as const;

describe('ringtrace bench eventlog --quick --json', () => {
  it('prints { results, drain, targets, machine } with every named result, positive and verified', { timeout: 240_000 }, async () => {
    const run = await runCli(['bench', 'eventlog', '--quick', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(['drain', 'machine', 'results', 'targets']);

    const results = report.results as Record<string, unknown>[];
    expect(Array.isArray(results)).toBe(true);
    expect(results.map((r) => r.name)).toEqual([...NAMES]);
    for (const r of results) {
      const name = String(r.name);
      expect(isPositive(r.eventsPerSec), `${name}.eventsPerSec = ${String(r.eventsPerSec)}`).toBe(true);
      expect(isPositive(r.nsPerEvent), `${name}.nsPerEvent = ${String(r.nsPerEvent)}`).toBe(true);
      expect(r.verified, `${name}: ${String(r.verifyError)}`).toBe(true);
      expect(typeof r.check).toBe('string');
    }

    const alloc = results.find((x) => x.name === 'eventlog-alloc-free-1M-emits')!;
    expect(isCount(alloc.minorGcs), `minorGcs = ${String(alloc.minorGcs)}`).toBe(true);
    expect(typeof alloc.allocatedBytesPerEvent === 'number' && Number.isFinite(alloc.allocatedBytesPerEvent)).toBe(true);
    const variants = alloc.allocation as Record<string, unknown>[];
    expect(variants.map((v) => v.variant)).toEqual(['emitRecord-hrtime', 'emitRecord-counter', 'ring-hrtime', 'emit-hrtime']);
    for (const v of variants) {
      expect(v.events).toBe(1_000_000);
      expect(isCount(v.minorGcs)).toBe(true);
      expect(isCount(v.allocatedBytes)).toBe(true);
      expect(v.verifyError, String(v.variant)).toBe('');
    }

    // Latency percentiles: positive and ordered, from enough samples for a p99.9, with the sampling's own cost stated.
    for (const name of LATENCY) {
      const r = results.find((x) => x.name === name)!;
      expect(r.threads, name).toBe(name === 'emit-latency-2w' ? 2 : 1);
      expect(isPositive(r.p50Ns) && isPositive(r.p99Ns) && isPositive(r.p999Ns), `${name}: ${String(r.p50Ns)} ${String(r.p99Ns)} ${String(r.p999Ns)}`).toBe(true);
      expect(r.p50Ns as number).toBeLessThanOrEqual(r.p99Ns as number);
      expect(r.p99Ns as number).toBeLessThanOrEqual(r.p999Ns as number);
      expect(r.samples as number).toBeGreaterThanOrEqual(1000);
      expect(isPositive(r.samplingOverheadNs)).toBe(true);
    }
    // The JSON formatter: bytes per line beside pino's for the same fields.
    for (const name of ['jsonl-format', 'jsonl-stringify']) {
      const r = results.find((x) => x.name === name)!;
      expect(isPositive(r.bytesPerEvent), `${name}.bytesPerEvent`).toBe(true);
      expect(isPositive(r.pinoBytesPerEvent), `${name}.pinoBytesPerEvent`).toBe(true);
    }
    expect(results.find((x) => x.name === 'jsonl-format')!.baseline).toBe('jsonl-stringify');

    // The drain thread: every named result, positive, its file read back and checked.
    const drain = report.drain as Record<string, unknown>[];
    expect(drain.map((d) => d.name)).toEqual(['drain-binary-1w', 'drain-binary-2w', 'drain-jsonl-1w', 'drain-binary-capacity']);
    for (const d of drain) {
      expect(isPositive(d.eventsPerSec) && isPositive(d.emitted), String(d.name)).toBe(true);
      expect(d.lost).toBe((d.emitted as number) - (d.stored as number));
      expect(d.verified, String(d.verifyError)).toBe(true);
    }

    const targets = report.targets as Record<string, unknown>[];
    expect(targets.map((t) => t.name)).toEqual([...TARGETS]);
    for (const t of targets) {
      expect(typeof t.description).toBe('string');
      expect(typeof t.met).toBe('boolean');
      expect(typeof t.measured).toBe('number');
      expect(typeof t.required).toBe('number');
    }

    const machine = report.machine as Record<string, unknown>;
    expect(typeof machine.cpuModel).toBe('string');
    expect(isPositive(machine.cores)).toBe(true);
    expect(machine.node).toBe(process.version);
    expect(machine.runKind).toBe('quick');
    expect(typeof machine.logBuildHash).toBe('string');
  });

  it('rejects an unknown option with exit code 2', async () => {
    const run = await runCli(['bench', 'eventlog', '--no-such-option']);
    expect(run.code).toBe(2);
  });
});
