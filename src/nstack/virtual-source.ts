/**
 * Virtual sources: readiness that does not live in a kernel fd (a memif queue, a stack
 * socket). Like a socket of DMM's nStack, a source can be polled for its current state and
 * announces changes through the notify functions it was given (DMM's event callback):
 *
 *   poll()            -> current readiness, EPOLL* bits (EPOLLIN, EPOLLOUT, EPOLLHUP, ...)
 *   subscribe(fn)     an EventPoll hands over its notify function when the source is added
 *   unsubscribe(fn)   ... and takes it back when removed or closed
 *
 * Call notify(events) whenever something happens that a waiter may care about (data
 * arrived, room freed, peer gone), even if the source was already ready: edge-triggered
 * members are reported again on each notify, as the kernel does for each wake-up. `events`
 * says which bits the change concerns (0 = unknown/any); the EventPoll re-reads poll()
 * before it reports anything, so a notify that turns out stale costs nothing but a poll().
 * notify must not be called from poll() itself.
 *
 * A source may also implement epCtl (DMM's ep_ctl): it is then told when it joins, changes in
 * or leaves an EventPoll, with what it is watched for, e.g. to start producing notifications
 * only while someone listens. `notify` identifies the membership (the one subscribed).
 */

/** What a source calls when its readiness changed (`events`: the bits concerned, 0 = any). */
export type ReadyNotify = (events: number) => void;

/** Readiness that does not live in a kernel fd; an EventPoll member like an fd (see the module comment). */
export interface VirtualSource {
  /** The current readiness, EPOLL* bits. */
  poll(): number;
  /** An EventPoll hands over its notify function when the source is added... */
  subscribe(notify: ReadyNotify): void;
  /** ...and takes it back when the source is removed or the EventPoll closed. */
  unsubscribe(notify: ReadyNotify): void;
  /** Optional: called after subscribe() ('add'), on mod() ('mod') and before unsubscribe()
   * ('del'), with the EPOLL* interest and flags of that membership. */
  epCtl?(op: 'add' | 'mod' | 'del', events: number, notify: ReadyNotify): void;
}

/** Whether `value` has the three methods of a {@link VirtualSource}. */
export function isVirtualSource(value: unknown): value is VirtualSource {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<VirtualSource>;
  return typeof v.poll === 'function' && typeof v.subscribe === 'function' && typeof v.unsubscribe === 'function';
}

/**
 * Base class keeping the subscribers; subclasses implement poll() and call wakeUp().
 * The subscriber array is replaced, never mutated, so wakeUp() may run while subscribers
 * come and go.
 */
export abstract class VirtualSourceBase implements VirtualSource {
  #subscribers: readonly ReadyNotify[] = [];

  /** The current readiness, EPOLL* bits. */
  abstract poll(): number;

  /** Adds a watching EventPoll. */
  subscribe(notify: ReadyNotify): void {
    if (!this.#subscribers.includes(notify)) this.#subscribers = [...this.#subscribers, notify];
  }

  /** Removes a watching EventPoll. */
  unsubscribe(notify: ReadyNotify): void {
    if (this.#subscribers.includes(notify)) this.#subscribers = this.#subscribers.filter((fn) => fn !== notify);
  }

  /** Number of EventPolls watching this source. */
  get subscriberCount(): number {
    return this.#subscribers.length;
  }

  /** Tells every watching EventPoll that readiness changed (see the file comment). */
  protected wakeUp(events: number): void {
    const subs = this.#subscribers;
    for (let i = 0; i < subs.length; i++) subs[i](events);
  }
}

/**
 * A source whose readiness is set by hand: a building block for simple producers (a queue
 * of messages, a flag raised by another part of the program) and for tests.
 */
export class ManualSource extends VirtualSourceBase {
  #mask: number;

  constructor(initial = 0) {
    super();
    this.#mask = initial >>> 0;
  }

  /** The state set by set()/raise()/lower(). */
  poll(): number {
    return this.#mask;
  }

  /** Replaces the state; wakes waiters for the bits now set, if any. */
  set(mask: number): void {
    this.#mask = mask >>> 0;
    if (this.#mask !== 0) this.wakeUp(this.#mask);
  }

  /** Sets bits and wakes waiters for them, even if they were already set (a new arrival). */
  raise(bits: number): void {
    this.#mask = (this.#mask | bits) >>> 0;
    this.wakeUp(bits >>> 0);
  }

  /** Clears bits; nobody is woken (nothing became ready). */
  lower(bits: number): void {
    this.#mask = (this.#mask & ~bits) >>> 0;
  }

  /** Wakes waiters without changing the state (`events` 0 = any bit). */
  notify(events = 0): void {
    this.wakeUp(events >>> 0);
  }
}
