/**
 * Virtual members of an EventPoll and their ready list (DMM's rdlist), after Linux's
 * ep_poll_callback / ep_send_events. Internal to src/nstack.
 *
 * - A source's notify queues its item (once) if the event concerns what it is watched for.
 * - add() and mod() queue an item that is ready right now.
 * - Delivery re-checks each queued item with poll(): not ready any more -> dropped;
 *   level-triggered -> re-queued at the tail (so members take turns under maxEvents);
 *   edge-triggered -> re-queued only by its next notify; one-shot -> disabled until mod().
 */
import { AlreadyRegisteredError, NotRegisteredError } from '../errors';
import { ALWAYS_REPORTED, EPOLLET, EPOLLONESHOT, EVENT_BITS, FLAG_BITS } from './constants';
import { EpItem, ReadyList } from './epitem';
import type { VirtualSource } from './virtual-source';

/** Reports an exception of user code as uncaught, without unwinding the caller. */
export function rethrowLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

/** Tells a source it left (its exception must not keep it subscribed). */
function ctlDel(source: VirtualSource, notify: (events: number) => void): void {
  if (source.epCtl === undefined) return;
  try {
    source.epCtl('del', 0, notify);
  } catch (err) {
    rethrowLater(err);
  }
}

export class VirtualMembers<T> {
  readonly #items = new Map<VirtualSource, EpItem<T>>();
  readonly #rdlist = new ReadyList<T>();
  #seq = 0;
  readonly #onQueued: () => void;

  /** `onQueued` runs whenever an item joins the ready list (to schedule delivery). */
  constructor(onQueued: () => void) {
    this.#onQueued = onQueued;
  }

  get size(): number {
    return this.#items.size;
  }

  /** Items on the ready list (possibly stale until re-checked). */
  get queued(): number {
    return this.#rdlist.size;
  }

  has(source: VirtualSource): boolean {
    return this.#items.has(source);
  }

  add(source: VirtualSource, mask: number, data: T): void {
    if (this.#items.has(source)) throw new AlreadyRegisteredError('this virtual source is already in this EventPoll');
    const item = new EpItem<T>(source, (mask & EVENT_BITS) | ALWAYS_REPORTED, (mask & FLAG_BITS) >>> 0, data);
    item.notify = (events: number) => this.#onNotify(item, events);
    source.subscribe(item.notify);
    if (source.epCtl !== undefined) {
      try {
        source.epCtl('add', mask, item.notify);
      } catch (err) {
        source.unsubscribe(item.notify);
        throw err;
      }
    }
    this.#items.set(source, item);
    this.#queueIfReady(item);
  }

  mod(source: VirtualSource, mask: number, data: T, keepData: boolean): void {
    const item = this.#items.get(source);
    if (item === undefined) throw new NotRegisteredError('virtual source is not in this EventPoll');
    item.mask = (mask & EVENT_BITS) | ALWAYS_REPORTED;
    item.flags = (mask & FLAG_BITS) >>> 0;
    if (!keepData) item.data = data;
    if (source.epCtl !== undefined && item.notify !== null) source.epCtl('mod', mask, item.notify);
    this.#queueIfReady(item);
  }

  del(source: VirtualSource): void {
    const item = this.#items.get(source);
    if (item === undefined) throw new NotRegisteredError('virtual source is not in this EventPoll');
    item.removed = true;
    this.#items.delete(source);
    this.#rdlist.remove(item);
    if (item.notify !== null) {
      ctlDel(source, item.notify);
      source.unsubscribe(item.notify);
    }
  }

  /** ep_send_events: appends up to `max - n` ready members from index n; returns the new n. */
  harvest(max: number, items: Array<EpItem<T> | undefined>, events: number[], n: number): number {
    const list = this.#rdlist;
    const scanEnd = this.#seq; // items queued from here on belong to the next scan
    while (n < max) {
      const item = list.head;
      if (item === null || item.seq >= scanEnd) break;
      list.remove(item);
      if (item.mask === 0) continue; // a fired one-shot
      let revents: number;
      try {
        revents = ((item.target as VirtualSource).poll() & item.mask) >>> 0;
      } catch (err) {
        rethrowLater(err);
        continue;
      }
      if (revents === 0) continue; // no longer ready: dropped until the next notify
      items[n] = item;
      events[n] = revents;
      n++;
      if (item.flags & EPOLLONESHOT) item.mask = 0;
      else if ((item.flags & EPOLLET) === 0) list.push(item, this.#seq++);
    }
    return n;
  }

  /** Unsubscribes every source and forgets them. */
  clear(): void {
    for (const [source, item] of this.#items) {
      item.removed = true;
      if (item.notify === null) continue;
      ctlDel(source, item.notify);
      try {
        source.unsubscribe(item.notify);
      } catch (err) {
        rethrowLater(err);
      }
    }
    this.#items.clear();
    this.#rdlist.clear();
  }

  /** ep_insert / ep_modify: a member that is ready right now is queued at once. */
  #queueIfReady(item: EpItem<T>): void {
    if (item.linked || item.mask === 0) return;
    let revents: number;
    try {
      revents = (item.target as VirtualSource).poll();
    } catch (err) {
      rethrowLater(err);
      return;
    }
    if ((revents & item.mask) !== 0) this.#queue(item);
  }

  /** The notify function given to a source (DMM's event callback, Linux's ep_poll_callback). */
  #onNotify(item: EpItem<T>, events: number): void {
    if (item.removed || item.mask === 0) return; // gone, or a fired one-shot
    if (events !== 0 && (events & item.mask) === 0) return; // not what it is watched for
    if (!item.linked) this.#queue(item);
    else this.#onQueued();
  }

  #queue(item: EpItem<T>): void {
    this.#rdlist.push(item, this.#seq++);
    this.#onQueued();
  }
}
