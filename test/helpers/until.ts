import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `cond` every few ms until it holds (true) or `timeoutMs` passed (false). */
export async function until(cond: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) return false;
    await sleep(3);
  }
  return true;
}
