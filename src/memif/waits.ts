/**
 * Waits on a link, Node-style: a promise that settles on an event, bounded by an optional
 * `timeout` (TimeoutError, ERR_NMEMIF_TIMEOUT) and stopped by an optional AbortSignal
 * (AbortError, ABORT_ERR, the signal's reason as `cause`), as events.once() and
 * timers/promises do. Interfaces and queues share it.
 */
import { AbortError, ClosedError, InvalidArgumentError, TimeoutError } from '../errors';

/** Options of a wait. */
export interface WaitOptions {
  /** Stops the wait: the promise rejects with an AbortError whose `cause` is the signal's reason. */
  signal?: AbortSignal;
  /** Gives up after this many ms: the promise rejects with a TimeoutError. Default: no limit. */
  timeout?: number;
}

/** What a link wait listens to (a MemifInterface or a MemifQueue). */
export interface LinkTarget {
  readonly connected: boolean;
  readonly closed: boolean;
  once(event: 'connect' | 'close', fn: () => void): unknown;
  off(event: 'connect' | 'close', fn: () => void): unknown;
}

/** Checks an AbortSignal option (undefined is fine). */
export function checkSignal(signal: unknown, what: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new InvalidArgumentError(`${what}: signal must be an AbortSignal, got ${typeof signal}`);
  return signal;
}

/** The error an aborted wait rejects with. */
export function abortError(signal: AbortSignal): AbortError {
  return new AbortError(undefined, { cause: signal.reason });
}

/**
 * Resolves once `target` is connected (at once if it is); rejects with ClosedError if it closes
 * first. `describe()` says why it is not up yet, for the TimeoutError's message; `lastError()`
 * is the last connection error (the TimeoutError's cause).
 */
export function whenConnected(
  target: LinkTarget,
  options: WaitOptions | undefined,
  what: string,
  describe: () => string,
  lastError: () => Error | undefined = () => undefined,
): Promise<void> {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    return Promise.reject(new InvalidArgumentError('whenConnected() takes an options object ({ signal, timeout })'));
  }
  const { timeout } = options ?? {};
  let signal: AbortSignal | undefined;
  try {
    signal = checkSignal(options?.signal, 'whenConnected()');
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout))) {
      throw new InvalidArgumentError(`whenConnected(): timeout must be a number of ms >= 0, got ${String(timeout)}`);
    }
  } catch (err) {
    return Promise.reject(err);
  }
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (target.closed) return Promise.reject(new ClosedError(`whenConnected(): ${what} is closed`));
  if (target.connected) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (err?: Error): void => {
      target.off('connect', onConnect);
      target.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (timer !== undefined) clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const onConnect = (): void => settle();
    const onClose = (): void => settle(new ClosedError(`whenConnected(): ${what} was closed while waiting`));
    const onAbort = (): void => settle(abortError(signal!));
    target.once('connect', onConnect);
    target.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        const why = describe();
        settle(new TimeoutError(`${what} did not connect within ${timeout} ms${why ? ` (${why})` : ''}`, { cause: lastError() }));
      }, timeout);
    }
  });
}
