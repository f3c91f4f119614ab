/**
 * Resource recovery of memif sockets: at exit and on SIGINT/SIGTERM (the library's one policy,
 * src/exit-hooks.ts) every open socket is closed, so peers get a DISCONNECT and socket files
 * this process created are removed.
 */
import { EXIT_ORDER_MEMIF, addExitHook } from '../exit-hooks';
import type { MemifSocket } from './socket';

const open = new Set<MemifSocket>();

export function trackSocket(sock: MemifSocket): void {
  open.add(sock);
  addExitHook(closeAllSockets, EXIT_ORDER_MEMIF);
}

export function untrackSocket(sock: MemifSocket): void {
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
