/**
 * The engine: one EventPoll per thread whose members carry their own handler, so independent
 * users (memif sockets, stack plug-ins, timers) share one epoll and one libuv watcher.
 *
 *   const engine = defaultEngine();
 *   engine.watch(fd, EPOLLIN, (events) => ...);   engine.modify(fd, EPOLLIN | EPOLLOUT);   engine.unwatch(fd);
 *
 * Each watched fd keeps the process alive unless it was unref'd (watch(..., false) or
 * setRef(fd, false)), so one user of the engine (a memif socket's unref()) can let the process
 * exit while others still hold it.
 */
import { EventPoll, type EventPollOptions } from './event-poll';

/** Called with the EPOLL* bits that are set. */
export type EventHandler = (events: number) => void;

/**
 * One EventPoll whose members carry their own handler, so independent users (memif sockets,
 * stack plug-ins, timers) share one epoll and one libuv watcher; see {@link defaultEngine}.
 */
export class Engine {
  /** The EventPoll underneath (its data is each member's handler). */
  readonly poll: EventPoll<EventHandler>;
  readonly #unrefd = new Set<number>();

  constructor(options: EventPollOptions = {}) {
    this.poll = new EventPoll<EventHandler>(options);
    this.poll.onReady(dispatch);
  }

  /** Calls `handler` whenever `fd` has any of `events` (EPOLL* bits, level-triggered by default);
   * `ref`: whether watching it keeps the process alive (default true). */
  watch(fd: number, events: number, handler: EventHandler, ref = true): void {
    this.poll.add(fd, events, handler);
    if (!ref) this.setRef(fd, false);
  }

  /** Whether watching `fd` keeps the process alive. */
  setRef(fd: number, ref: boolean): void {
    if (ref) this.#unrefd.delete(fd);
    else if (this.poll.has(fd)) this.#unrefd.add(fd);
    this.#updateRef();
  }

  /** Changes the events `fd` is watched for. */
  modify(fd: number, events: number): void {
    this.poll.mod(fd, events);
  }

  /** Stops watching `fd` (no-op if it is not watched). */
  unwatch(fd: number): void {
    if (this.poll.has(fd)) this.poll.del(fd);
    if (this.#unrefd.delete(fd)) this.#updateRef();
  }

  /** The poll keeps the process alive unless every member is unref'd. */
  #updateRef(): void {
    const ref = this.#unrefd.size === 0 || this.#unrefd.size < this.poll.size;
    if (ref !== this.poll.hasRef()) {
      if (ref) this.poll.ref();
      else this.poll.unref();
    }
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.poll.closed;
  }

  /** Closes the EventPoll (the next defaultEngine() call makes a new engine). */
  close(): void {
    this.poll.close();
  }
}

function dispatch(events: number, handler: EventHandler): void {
  handler(events);
}

let shared: Engine | undefined;

/** This thread's shared engine, created on first use. */
export function defaultEngine(): Engine {
  if (shared === undefined || shared.closed) shared = new Engine();
  return shared;
}
