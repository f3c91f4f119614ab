/**
 * Resource recovery of memif sockets: at exit and on SIGINT/SIGTERM (the library's one policy,
 * src/exit-hooks.ts) every open socket is closed, so peers get a DISCONNECT and socket files
 * this process created are removed.
 */
import { EXIT_ORDER_MEMIF, addExitHook } from '../exit-hooks';

/** Anything closed at exit (memif sockets). */
export interface Closeable {
  /** Releases it (peers get a DISCONNECT, socket files are removed). */
  close(): void;
}

const open = new Set<Closeable>();

export function trackSocket(sock: Closeable): void {
  open.add(sock);
  addExitHook(closeAllSockets, EXIT_ORDER_MEMIF);
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
