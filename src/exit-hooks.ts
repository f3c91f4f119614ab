/**
 * Resource recovery at exit, one policy for the whole library: on process exit (or a worker
 * thread's exit) the registered hooks run, in `order` (lower first: the nStack socket layer
 * before the memif sockets its stacks run over), so peers get a DISCONNECT, socket files this
 * process created are removed and stacks recycle what they hold.
 *
 * Signals (SIGINT/SIGTERM, main thread only): while something holds signal handling (a hook
 * added with `signals`, or a holder such as a memif socket opened with handleSignals), the
 * library listens to them, first in line. It acts only for a program that has no handler of its
 * own: then it runs the hooks and raises the signal again, so the process ends as it would have
 * without any listener. A program with its own handler (process.on or process.once) gets the
 * signal alone, with every socket still open; the hooks run when it exits. Once nothing holds
 * signal handling, the library's listeners are removed.
 */

/** Why the hooks run. */
export type ExitReason = 'exit' | 'SIGINT' | 'SIGTERM';
export type ExitHook = (reason: ExitReason) => void;

/** Hook order of the nStack socket layer (sockets, then stacks). */
export const EXIT_ORDER_NSTACK = 0;
/** Hook order of the memif sockets (after the stacks that may run over them). */
export const EXIT_ORDER_MEMIF = 1;

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

let hooks: ReadonlyArray<{ hook: ExitHook; order: number }> = [];
let exitInstalled = false;
/** What wants the library to handle SIGINT/SIGTERM. */
const signalHolders = new Set<object>();
let signalsInstalled = false;

/** Runs `hook` at exit of this thread's process (once per hook); with `signals` (the default),
 * the hook also makes the library handle SIGINT/SIGTERM while it is registered. */
export function addExitHook(hook: ExitHook, order: number, options: { signals?: boolean } = {}): void {
  if (!hooks.some((h) => h.hook === hook)) hooks = [...hooks, { hook, order }].sort((a, b) => a.order - b.order);
  if (!exitInstalled) {
    exitInstalled = true;
    process.on('exit', onExit);
  }
  if (options.signals !== false) holdSignals(hook);
}

export function removeExitHook(hook: ExitHook): void {
  hooks = hooks.filter((h) => h.hook !== hook);
  releaseSignals(hook);
}

/** `holder` wants the library to handle SIGINT/SIGTERM (see the file comment) until released. */
export function holdSignals(holder: object): void {
  signalHolders.add(holder);
  if (!signalsInstalled && isMainThread()) {
    signalsInstalled = true;
    for (const s of SIGNALS) process.prependListener(s, onSignal);
  }
}

export function releaseSignals(holder: object): void {
  if (!signalHolders.delete(holder) || signalHolders.size > 0 || !signalsInstalled) return;
  signalsInstalled = false;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

/** Runs every hook now, in order; a hook that throws does not stop the others. */
export function runExitHooks(reason: ExitReason): void {
  for (const { hook } of hooks) {
    try {
      hook(reason);
    } catch {
      // best effort at exit
    }
  }
}

function onExit(): void {
  runExitHooks('exit');
}

function onSignal(signal: NodeJS.Signals): void {
  // Ours runs first (prepended): the program's own listeners, once-listeners included, are still there.
  if (process.listenerCount(signal) > 1) return; // the program handles it; the hooks run at its exit
  runExitHooks(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
  // Only ours: behave as if we had never listened.
  signalsInstalled = false;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, signal);
}

function isMainThread(): boolean {
  return (require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread;
}
