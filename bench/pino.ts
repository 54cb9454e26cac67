import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDevDependency } from './dev-deps.js';
import type { SingleBench } from './single.js';
import { BenchVerifyError } from './ring/verify.js';

/** What one suite logs through pino: the fields of event `seq`, and how to check a logged line. */
export interface PinoPayload {
  readonly fields: (seq: number) => Record<string, unknown>;
  /** '' if the parsed line carries event `seq`'s fields, else what is wrong. */
  readonly mismatch: (seq: number, line: Record<string, unknown>) => string;
  readonly notes: string;
}

/**
 * pino to /dev/null, what a Node user would reach for (shared by the ring and eventlog suites).
 *
 *   one thread:  logger.info(fields) --JSON line--> pino.destination({ dest: '/dev/null', sync: true })
 *                (pino 10 defaults: level, time, pid, hostname added)   SonicBoom, one write(2) per line
 *
 * Checked after timing: no destination error, and the same configuration into a file logs
 * JSON lines (level 30) that carry the fields of a sample of events.
 */
export async function pinoDevNullBench(payload: PinoPayload): Promise<SingleBench> {
  const { pino } = await loadDevDependency('pino', () => import('pino'));
  const dest = pino.destination({ dest: '/dev/null', sync: true });
  let destError: unknown = null;
  dest.on('error', (err: unknown) => {
    destError = err;
  });
  const logger = pino(dest);
  let seq = 0;
  return {
    eventsPerBatch: 256,
    notes: payload.notes,
    batch(n) {
      const end = seq + n;
      for (let s = seq; s < end; s++) logger.info(payload.fields(s));
      seq = end;
    },
    verify() {
      if (destError !== null) throw new BenchVerifyError(`the /dev/null destination failed: ${String(destError)}`);
      const dir = mkdtempSync(join(tmpdir(), 'ringtrace-bench-'));
      try {
        const file = join(dir, 'pino.log');
        const fileDest = pino.destination({ dest: file, sync: true });
        const check = pino(fileDest);
        const sample = [0, 1, seq - 1];
        for (const s of sample) check.info(payload.fields(s));
        fileDest.flushSync();
        fileDest.end();
        const lines = readFileSync(file, 'utf8').trim().split('\n');
        if (lines.length !== sample.length) throw new BenchVerifyError(`${lines.length} lines logged, expected ${sample.length}`);
        lines.forEach((line, i) => {
          const o = JSON.parse(line) as Record<string, unknown>;
          const problem = payload.mismatch(sample[i]!, o);
          if (problem !== '' || o.level !== 30) throw new BenchVerifyError(`pino line ${line}: ${problem || 'level'}`);
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return `${seq} lines logged without a destination error; the same configuration to a file gives JSON lines with level 30 and the event's fields`;
    },
  };
}
