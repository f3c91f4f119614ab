/**
 * The loop's next turn, for the library's own follow-up work (polling a queue, level-triggered
 * 'rx', the first look at a full tx ring), kept alive by the socket's ref()/unref().
 *
 * Node runs immediates without blocking only while one of them is ref'd: an unref'd immediate
 * waits until something else wakes the loop. So an unref'd turn is a 0 ms unref'd timer
 * instead, which wakes a loop that something else keeps alive, and keeps none alive itself.
 */

/** Cancels a scheduled turn (no-op once it ran). */
export type CancelTurn = () => void;

/** Runs `fn` at the loop's next turn; `ref`: whether that keeps the process alive meanwhile. */
export function nextTurn(fn: () => void, ref: boolean): CancelTurn {
  if (ref) {
    const immediate = setImmediate(fn);
    return () => clearImmediate(immediate);
  }
  const timer = setTimeout(fn, 0).unref();
  return () => clearTimeout(timer);
}
