/**
 * Resource recovery at exit: on process exit and on SIGINT/SIGTERM every open socket is
 * closed, so peers get a DISCONNECT and socket files this process created are removed.
 * Protocol stacks that send over memif (src/nstack/stacks) register here too and are closed
 * first, while their links are still up (their connections are reset, not left hanging).
 * The signal handlers are installed with the first socket; when the program has no handler of
 * its own, the signal is raised again after cleanup so the process still ends as it would have.
 * Programs that handle SIGINT/SIGTERM themselves should use process.on (not process.once): a
 * once-handler is already removed when ours runs, so ours would see no other handler and end
 * the process before the program's asynchronous shutdown finishes.
 */
import type { MemifSocket } from './socket';

/** What a stack gives to be closed at exit. */
export interface ExitClosable {
  close(): void;
}

const open = new Set<MemifSocket>();
const stacks = new Set<ExitClosable>();
let installed = false;

export function trackSocket(sock: MemifSocket): void {
  open.add(sock);
  if (!installed) install();
}

export function untrackSocket(sock: MemifSocket): void {
  open.delete(sock);
}

export function trackStack(stack: ExitClosable): void {
  stacks.add(stack);
  if (!installed) install();
}

export function untrackStack(stack: ExitClosable): void {
  stacks.delete(stack);
}

/** Closes every open stack, then every open socket of this thread. */
export function closeAllSockets(): void {
  for (const s of [...stacks, ...open]) {
    try {
      s.close();
    } catch {
      // best effort at exit
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  closeAllSockets();
  if (process.listenerCount(signal) === 1) {
    // Only ours: behave as if we had never listened.
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function install(): void {
  installed = true;
  process.on('exit', closeAllSockets);
  // Signals are process-wide: only the main thread handles them.
  if (require('node:worker_threads').isMainThread) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
}
