/**
 * Resource recovery at exit: on process exit and on SIGINT/SIGTERM every open socket is
 * closed, so peers get a DISCONNECT and socket files this process created are removed.
 * The signal handlers are installed with the first socket; when the program has no handler of
 * its own, the signal is raised again after cleanup so the process still ends as it would have.
 * Programs that handle SIGINT/SIGTERM themselves should use process.on (not process.once): a
 * once-handler is already removed when ours runs, so ours would see no other handler and end
 * the process before the program's asynchronous shutdown finishes.
 */
/** Anything closed at exit (memif sockets). */
export interface Closeable {
  close(): void;
}

const open = new Set<Closeable>();
let installed = false;

export function trackSocket(sock: Closeable): void {
  open.add(sock);
  if (!installed) install();
}

export function untrackSocket(sock: Closeable): void {
  open.delete(sock);
}

/** Closes every open socket of this thread. */
export function closeAllSockets(): void {
  for (const s of [...open]) {
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
