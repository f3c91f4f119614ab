/**
 * The engine: one EventPoll per thread whose members carry their own handler, so independent
 * users (memif sockets, stack plug-ins, timers) share one epoll and one libuv watcher.
 *
 *   const engine = defaultEngine();
 *   engine.watch(fd, EPOLLIN, (events) => ...);   engine.modify(fd, EPOLLIN | EPOLLOUT);   engine.unwatch(fd);
 */
import { EventPoll, type EventPollOptions } from './event-poll';

export type EventHandler = (events: number) => void;

export class Engine {
  readonly poll: EventPoll<EventHandler>;

  constructor(options: EventPollOptions = {}) {
    this.poll = new EventPoll<EventHandler>(options);
    this.poll.onReady(dispatch);
  }

  watch(fd: number, events: number, handler: EventHandler): void {
    this.poll.add(fd, events, handler);
  }

  modify(fd: number, events: number): void {
    this.poll.mod(fd, events);
  }

  unwatch(fd: number): void {
    if (this.poll.has(fd)) this.poll.del(fd);
  }

  get closed(): boolean {
    return this.poll.closed;
  }

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
