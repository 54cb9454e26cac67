/** Exit codes of every ringtrace command. */
export const ExitCode = {
  ok: 0,
  /** A check failed: corrupt or unaccounted events, faults where none are allowed. */
  checkFailed: 1,
  /** The arguments were wrong. */
  badArguments: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by a command's option parsing; main() prints it and exits with badArguments. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

let verdict: number = ExitCode.ok;

/** A command action records its outcome; the worst one wins. */
export function setVerdict(code: ExitCode): void {
  verdict = Math.max(verdict, code);
}

/** Returns the recorded outcome and resets it (main() calls it once per run). */
export function takeVerdict(): number {
  const v = verdict;
  verdict = ExitCode.ok;
  return v;
}
