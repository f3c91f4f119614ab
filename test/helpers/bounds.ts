/**
 * Bounds on waits in tests. A wait that runs out is a failure, so its bound only matters when
 * something is already broken; on a loaded CI machine a process can stall for seconds. Every
 * bound the helpers are given is raised to at least this floor, so no test depends on how busy
 * the machine is.
 */
export const WAIT_FLOOR_MS = 30_000;

export function bound(ms: number): number {
  return Math.max(ms, WAIT_FLOOR_MS);
}
