import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The smoke tests' way to run `ringtrace` in a child process (the global setup built dist/). */
const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], timeoutMs = 170_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/ringtrace.js', ...args], { cwd: root, maxBuffer: 16 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

export function isPositive(x: unknown): boolean {
  return typeof x === 'number' && Number.isFinite(x) && x > 0;
}

export function isCount(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}
