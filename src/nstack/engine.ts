/**
 * The engine: one EventPoll per thread whose members carry their own handler, so independent
 * users (memif sockets, stack plug-ins, timers) share one epoll and one libuv watcher.
 *
 *   const engine = defaultEngine();
 *   engine.watch(fd, EPOLLIN, (events) => ...);   engine.modify(fd, EPOLLIN | EPOLLOUT);   engine.unwatch(fd);
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

  constructor(options: EventPollOptions = {}) {
    this.poll = new EventPoll<EventHandler>(options);
    this.poll.onReady(dispatch);
  }

  /** Calls `handler` whenever `fd` has any of `events` (EPOLL* bits, level-triggered by default). */
  watch(fd: number, events: number, handler: EventHandler): void {
    this.poll.add(fd, events, handler);
  }

  /** Changes the events `fd` is watched for. */
  modify(fd: number, events: number): void {
    this.poll.mod(fd, events);
  }

  /** Stops watching `fd` (no-op if it is not watched). */
  unwatch(fd: number): void {
    if (this.poll.has(fd)) this.poll.del(fd);
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
