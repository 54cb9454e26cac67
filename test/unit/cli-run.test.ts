import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Symbols, symbolTable } from '../../src/machine/trace-events.js';
import { TraceFileReader } from '../../src/trace/trace-reader.js';
import { runCli, type CliRun } from '../bench/run-cli.js';

/** `ringtrace run` end to end through the real CLI entry, then `ringtrace report` on the file it wrote. */
const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ringtrace-run-'));
const file = join(dir, 'ringtrace.dat');
const SEED = 42;
const SITES = 2000;

/** Like runCli, with room for a long report. */
function cli(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/ringtrace.js', ...args], { cwd: root, maxBuffer: 1 << 30, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

interface Summary {
  readonly [key: string]: unknown;
  readonly events: number;
  readonly read: number;
  readonly overrun: number;
  readonly dropped: number;
  readonly unread: number;
  readonly perCpu: Array<{ cpu: number; events: number; read: number; overrun: number; dropped: number; nmis: number }>;
  readonly patchOps: Array<{ op: string; protocol: string; sites: number; wallMs: number; syncRounds: number; traps: number }>;
}

let run: CliRun;
let summary: Summary;

beforeAll(async () => {
  // A small buffer (8 KiB a CPU): the drain cannot keep up all the time, so the trace has losses to report.
  run = await runCli(['run', '--cpus', '2', '--seconds', '0.6', '--sites', String(SITES), '--seed', String(SEED), '--buffer-kb', '8', '--notrace', 'kfree_*,mutex_?ock_*', '--out', file, '--json']);
  summary = JSON.parse(run.stdout) as Summary;
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ringtrace run', () => {
  it('accounts for every event and patches as told', () => {
    expect(run.code, run.stderr).toBe(0);
    for (const key of ['seed', 'cpus', 'seconds', 'sites', 'events', 'read', 'overrun', 'dropped', 'unread', 'unaccounted', 'corrupt', 'faults', 'staleAfterDone', 'nmis', 'maxNesting', 'file', 'fileBytes', 'patchOps']) {
      expect(summary, key).toHaveProperty(key);
    }
    expect(summary).toMatchObject({ seed: SEED, cpus: 2, sites: SITES, unaccounted: 0, corrupt: 0, faults: 0, staleAfterDone: 0, file });
    expect(summary.events).toBe(summary.read + summary.overrun + summary.dropped + summary.unread);
    expect(summary.overrun + summary.dropped, 'an 8 KiB buffer loses events').toBeGreaterThan(0);
    expect(summary.perCpu.reduce((a, c) => a + c.events, 0)).toBe(summary.events);
    expect(summary.perCpu.reduce((a, c) => a + c.read, 0)).toBe(summary.read);
    expect(summary.fileBytes).toBe(statSync(file).size);
    const ops = summary.patchOps;
    expect(ops.map((o) => o.op)).toEqual(['enable all', 'filter sched_*,vfs_*', 'disable all', 'enable all again']);
    for (const o of ops) expect(o).toMatchObject({ protocol: 'int3-batch', syncRounds: 3 });
    // The filter disables what it does not keep; "disable all" the rest; re-enabling switches all of them back.
    expect(ops[1]!.sites + ops[2]!.sites).toBe(ops[0]!.sites);
    expect(ops[3]!.sites).toBe(ops[0]!.sites);
    expect(ops[0]!.sites).toBeGreaterThan(SITES * 0.9);
  });

  it('writes the symbol table, deterministic from the seed, into the trace', () => {
    const reader = TraceFileReader.open(file);
    const d = reader.segments[0]!.info.description as { producer: string; seed: number; symbols: { stems: string[]; stemOf: string } };
    expect(d.producer).toBe('ringtrace machine');
    expect(d.seed).toBe(SEED);
    expect(d.symbols).toEqual(symbolTable(SITES, SEED, [0, 1, 2, 3], []));
    const names = new Symbols(d.symbols);
    expect(names.name(0)).toBe('nmi_handle_0');
    expect(names.name(1999)).toMatch(/^[a-z_]+_1999$/);
  });

  it('report: every event with its CPU, context and names, merged by timestamp, LOST where events were lost', async () => {
    const r = await cli(['report', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const names = new Symbols(symbolTable(SITES, SEED, [0, 1, 2, 3], []));
    const mark = ['.', 'h', 'N'];
    let last = -Infinity;
    let events = 0;
    let lost = 0;
    let lostLines = 0;
    /** Per CPU: inside an NMI (true / false), or not known after a loss (null). */
    const inNmi: Array<boolean | null> = [false, false, false];
    const perCpu = [0, 0, 0];
    const done: Array<{ op: number; sites: number }> = [];
    for (const line of r.stdout.trimEnd().split('\n')) {
      const e = JSON.parse(line) as Record<string, unknown>;
      const cpu = e['cpu'] as number;
      // CPUs 0 and 1, and the coordinator's track after them.
      expect([0, 1, 2]).toContain(cpu);
      if ('lost' in e) {
        lost += e['lost'] as number;
        lostLines++;
        inNmi[cpu] = null;
        continue;
      }
      events++;
      perCpu[cpu]!++;
      const ts = e['ts'] as number;
      expect(ts, line).toBeGreaterThanOrEqual(last);
      last = ts;
      switch (e['event']) {
        case 'function': {
          expect(cpu, line).toBeLessThan(2);
          const f = e['fields'] as { site: number; parent: number; context: number; tag: number };
          const site = f.site;
          expect(names.name(site), 'notrace sites are never traced').not.toMatch(/^(kfree|mutex_lock)_/);
          expect(e['text'], line).toBe(f.parent >= 0 ? `${names.name(site)} <- ${names.name(f.parent)}` : names.name(site));
          expect(e['context'], line).toBe(mark[f.context]);
          // The stream tag the tracer wrote says the same CPU and context level.
          expect(f.tag, line).toBe(((cpu << 16) | f.context) >>> 0);
          if (e['context'] === 'N') {
            expect(names.name(site), line).toMatch(/^nmi_handle_/);
            if (inNmi[cpu] !== null) expect(inNmi[cpu], line).toBe(true);
          } else if (inNmi[cpu] !== null) {
            expect(inNmi[cpu], line).toBe(false);
          }
          break;
        }
        case 'nmi_enter':
          expect(e['context']).toBe('N');
          if (inNmi[cpu] !== null) expect(inNmi[cpu], line).toBe(false);
          inNmi[cpu] = true;
          break;
        case 'nmi_exit':
          expect(e['context']).toBe('N');
          if (inNmi[cpu] !== null) expect(inNmi[cpu], line).toBe(true);
          inNmi[cpu] = false;
          break;
        case 'patch_phase': {
          expect(cpu, line).toBe(2);
          expect(e['context']).toBe('.');
          const f = e['fields'] as { op: number; sites: number; what: string };
          if (f.what === 'done') done.push({ op: f.op, sites: f.sites });
          break;
        }
        case 'int3':
          expect(cpu, line).toBeLessThan(2);
          expect(e['text'], line).toBe(`${names.name((e['fields'] as { site: number }).site)} handled`);
          break;
        default:
          throw new Error(`unexpected event: ${line}`);
      }
    }
    expect(events).toBe(summary.read);
    expect(perCpu).toEqual(summary.perCpu.map((c) => c.read));
    expect(lost).toBe(summary.overrun + summary.dropped);
    expect(lostLines).toBeGreaterThan(0);
    // Each operation's phases end with done, with the sites the summary reports (the fifth, empty one collects stale executions).
    expect(done).toEqual([...summary.patchOps.map((o, i) => ({ op: i + 1, sites: o.sites })), { op: 5, sites: 0 }]);
  });

  it('report text, --cpu, --events, --filter, --stats', async () => {
    const text = await cli(['report', file, '--cpu', '1', '--events', 'function', '--filter', 'vfs_*,sched_*']);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^\[001\] (\. \d+\.\d{9}: function: (vfs|sched)_[a-z_]+_\d+( <- [a-z_]+_\d+)?|LOST \d+ events \((overrun|dropped)\) before #\d+)$/);
    const stats = await cli(['report', file, '--stats']);
    expect(stats.code, stats.stderr).toBe(0);
    const rows = stats.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^cpu\s+entries\s+overrun\s+dropped\s+read\s+in file\s+payload bytes\s+oldest\s+newest$/);
    for (const c of summary.perCpu) {
      const cells = rows[1 + c.cpu]!.split(/\s+/);
      expect(cells[0]).toBe(`cpu${c.cpu}`);
      expect(Number(cells[4]!.replace(/,/g, ''))).toBe(c.read);
      expect(Number(cells[5]!.replace(/,/g, ''))).toBe(c.read);
    }
  });

  it('report --perfetto: Perfetto protobuf that an independent decoder reads, an event per trace event', async () => {
    const out = join(dir, 'run.pftrace');
    const r = await runCli(['report', file, '--perfetto', out]);
    expect(r.code, r.stderr).toBe(0);
    const printed = /\((\d+) bytes, (\d+) events\)/.exec(r.stdout);
    expect(printed, r.stdout).not.toBeNull();
    // The packets, by protobufjs: every TrackEvent counted (the mapping itself is checked in export-perfetto.test.ts).
    const protobuf = (await import('protobufjs')).default;
    const proto = protobuf.parse(
      'syntax = "proto2"; message Trace { repeated TracePacket packet = 1; } message TracePacket { optional uint32 trusted_packet_sequence_id = 10; optional TrackEvent track_event = 11; } message TrackEvent { optional int32 type = 9; }',
      { keepCase: true },
    ).root;
    const trace = proto.lookupType('Trace').decode(readFileSync(out)) as unknown as { packet: { track_event?: { type?: number } }[] };
    expect(readFileSync(out).length).toBe(Number(printed![1]));
    const types = trace.packet.flatMap((p) => (p.track_event === undefined || p.track_event === null ? [] : [p.track_event.type ?? 0]));
    const events = types.filter((t) => t >= 1 && t <= 3).length; // slice begin, slice end, instant
    // The events it printed, plus its loss markers (instants too): never fewer.
    expect(events).toBeGreaterThanOrEqual(Number(printed![2]));
    // Every NMI slice that begins ends (TYPE_SLICE_BEGIN 1, TYPE_SLICE_END 2).
    expect(types.filter((t) => t === 1).length).toBe(types.filter((t) => t === 2).length);
    expect(types.filter((t) => t === 1).length).toBeGreaterThan(0);
    // At least one event per function entry the trace holds.
    let functions = 0;
    TraceFileReader.open(file).read({ event: () => void functions++ });
    expect(events).toBeGreaterThanOrEqual(functions);
  });

  it('report | head ends quietly', async () => {
    const r = await new Promise<CliRun>((resolve) => {
      execFile('sh', ['-c', `"${process.execPath}" bin/ringtrace.js report "${file}" | head -3`], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : -1, stdout, stderr }),
      );
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').slice(0, 3).every((l) => /^\[\d{3}\] [.hN] /.test(l))).toBe(true);
  });

  it('bad arguments exit 2 in one line', async () => {
    for (const args of [
      ['report', file, '--events', 'nope'],
      ['report', file, '--filter', 'vfs-read'],
      ['run', '--cpus', '0'],
      ['run', '--protocol', 'nope'],
      ['run', '--filter', 'vfs_[0-9]'],
      ['run', '--seconds', 'ten'],
      ['run', '--frobnicate'],
    ]) {
      const r = await runCli(args, 60_000);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    }
  });
});
