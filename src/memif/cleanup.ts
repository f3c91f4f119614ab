/**
 * Resource recovery of memif sockets (the library's one policy, src/exit-hooks.ts): at exit
 * every open socket is closed, so peers get a DISCONNECT and socket files this process created
 * are removed. A socket opened with handleSignals (the default) also has the library handle
 * SIGINT/SIGTERM for a program that has no handler of its own: sockets are closed, then the
 * process ends by the signal as it would have.
 */
import { EXIT_ORDER_MEMIF, addExitHook, holdSignals, releaseSignals } from '../exit-hooks';

/** Anything closed at exit (memif sockets). */
export interface Closeable {
  /** Releases it (peers get a DISCONNECT, socket files are removed). */
  close(): void;
}

const open = new Set<Closeable>();

export function trackSocket(sock: Closeable, handleSignals: boolean): void {
  open.add(sock);
  addExitHook(closeAllSockets, EXIT_ORDER_MEMIF, { signals: false });
  if (handleSignals) holdSignals(sock);
}

export function untrackSocket(sock: Closeable): void {
  open.delete(sock);
  releaseSignals(sock);
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
