/**
 * One set of process-end handlers for everything that must reach its file before the
 * process goes: drain threads finishing, flight recorders dumping. A handler for the
 * 'exit' event and one per signal are installed with the first hook that wants them and
 * removed with the last.
 *
 * On a signal the hooks run, and then, if nothing else listens for the signal, the
 * process dies of it as it would have without us (our handler is removed and the signal
 * raised again); if something else listens (a graceful shutdown), that listener decides
 * and the process goes on.
 */
export type EndReason =
  /** The process is exiting (normally, `process.exit()`, an uncaught exception, an unhandled rejection): synchronous code only. */
  | 'exit'
  /** A signal the process is about to die of. */
  | 'signal'
  /** A signal someone else handles: the process may go on. */
  | 'signal-observed';

export type EndHook = (reason: EndReason) => void;

export interface EndHookOptions {
  /** Run on the process's 'exit' event. Defaults to true. */
  readonly exit?: boolean;
  /** Signals to run on. Defaults to SIGTERM and SIGINT. */
  readonly signals?: readonly NodeJS.Signals[];
}

const exitHooks = new Set<EndHook>();
const signalHooks = new Map<NodeJS.Signals, Set<EndHook>>();
const signalHandlers = new Map<NodeJS.Signals, () => void>();

function run(hooks: Iterable<EndHook>, reason: EndReason): void {
  for (const hook of [...hooks]) {
    try {
      hook(reason);
    } catch {
      // A hook that fails must not keep the others (or the process's own end) from running.
    }
  }
}

const onExit = (): void => run(exitHooks, 'exit');

function addSignal(signal: NodeJS.Signals, hook: EndHook): void {
  let hooks = signalHooks.get(signal);
  if (hooks === undefined) {
    const mine = new Set<EndHook>();
    hooks = mine;
    signalHooks.set(signal, mine);
    const handler = (): void => {
      if (process.listeners(signal).some((l) => l !== handler)) {
        run(mine, 'signal-observed');
        return;
      }
      run(mine, 'signal');
      process.off(signal, handler);
      signalHandlers.delete(signal);
      signalHooks.delete(signal);
      process.kill(process.pid, signal);
    };
    signalHandlers.set(signal, handler);
    process.on(signal, handler);
  }
  hooks.add(hook);
}

function removeSignal(signal: NodeJS.Signals, hook: EndHook): void {
  const hooks = signalHooks.get(signal);
  if (hooks === undefined || !hooks.delete(hook) || hooks.size > 0) return;
  process.off(signal, signalHandlers.get(signal)!);
  signalHandlers.delete(signal);
  signalHooks.delete(signal);
}

/** Runs `hook` when the process ends (see EndReason). Returns a function that removes it. */
export function onProcessEnd(hook: EndHook, options: EndHookOptions = {}): () => void {
  const exit = options.exit ?? true;
  const signals = [...(options.signals ?? ['SIGTERM', 'SIGINT'])];
  if (exit) {
    if (exitHooks.size === 0) process.on('exit', onExit);
    exitHooks.add(hook);
  }
  for (const s of signals) addSignal(s, hook);
  return () => {
    if (exit && exitHooks.delete(hook) && exitHooks.size === 0) process.off('exit', onExit);
    for (const s of signals) removeSignal(s, hook);
  };
}
