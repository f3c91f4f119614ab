/**
 * Resource recovery at exit, one policy for the whole library: on process exit (or a worker
 * thread's exit) and on SIGINT/SIGTERM the registered hooks run, in `order` (lower first: the
 * nStack socket layer before the memif sockets its stacks run over), so peers get a DISCONNECT,
 * socket files this process created are removed and stacks recycle what they hold.
 *
 * The handlers are installed with the first hook. When the program has no SIGINT/SIGTERM
 * handler of its own, the signal is raised again after the hooks ran, so the process still ends
 * as it would have. Programs that handle SIGINT/SIGTERM themselves should use process.on (not
 * process.once): a once-handler is already removed when ours runs, so ours would see no other
 * handler and end the process before the program's asynchronous shutdown finishes.
 */

/** Why the hooks run. */
export type ExitReason = 'exit' | 'SIGINT' | 'SIGTERM';
export type ExitHook = (reason: ExitReason) => void;

/** Hook order of the nStack socket layer (sockets, then stacks). */
export const EXIT_ORDER_NSTACK = 0;
/** Hook order of the memif sockets (after the stacks that may run over them). */
export const EXIT_ORDER_MEMIF = 1;

let hooks: ReadonlyArray<{ hook: ExitHook; order: number }> = [];
let installed = false;

/** Runs `hook` at exit and on SIGINT/SIGTERM of this thread's process (once per hook). */
export function addExitHook(hook: ExitHook, order: number): void {
  if (hooks.some((h) => h.hook === hook)) return;
  hooks = [...hooks, { hook, order }].sort((a, b) => a.order - b.order);
  if (!installed) install();
}

export function removeExitHook(hook: ExitHook): void {
  hooks = hooks.filter((h) => h.hook !== hook);
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
  runExitHooks(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
  if (process.listenerCount(signal) === 1) {
    // Only ours: behave as if we had never listened.
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function install(): void {
  installed = true;
  process.on('exit', onExit);
  // Signals are process-wide: only the main thread handles them.
  if (require('node:worker_threads').isMainThread) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
}
