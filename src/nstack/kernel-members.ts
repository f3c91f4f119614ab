/**
 * Kernel-fd members of an EventPoll: a private kernel epoll instance holds them, so the
 * kernel applies level/edge/one-shot semantics itself, exactly. Internal to src/nstack.
 *
 * Why not one uv_poll per fd: libuv polls level-triggered only, and cannot say "an fd that
 * is still readable received more data", which edge-triggered epoll reports. Here libuv
 * watches just the epoll fd (readable while any member is ready) and events are harvested
 * with zero-timeout epoll_wait calls, a batch per N-API call.
 */
import { AlreadyRegisteredError, InvalidArgumentError, NotRegisteredError } from '../errors';
import { sys } from '../native';
import { ALWAYS_REPORTED, EVENT_BITS, FLAG_BITS, MAX_EVENTS_LIMIT } from './constants';
import { EpItem } from './epitem';
import { logger } from './log';

const log = logger('nstack');

/** epoll_ctl failed because the fd was closed (and so dropped by the kernel) without del(). */
function isStale(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ENOENT' || code === 'EBADF';
}

export class KernelMembers<T> {
  readonly #epfd: number;
  readonly #items = new Map<number, EpItem<T>>();
  readonly #pairs = new Int32Array(2 * MAX_EVENTS_LIMIT);

  /** `epfd`: an epoll instance owned by the caller. */
  constructor(epfd: number) {
    this.#epfd = epfd;
  }

  get size(): number {
    return this.#items.size;
  }

  has(fd: number): boolean {
    return this.#items.has(fd);
  }

  /** `mask`: validated EPOLL* bits and flags. */
  add(fd: number, mask: number, data: T): void {
    if (!Number.isInteger(fd) || fd < 0) throw new InvalidArgumentError(`fd must be an integer >= 0, got ${fd}`);
    const stale = this.#items.get(fd);
    try {
      // epoll data = the fd itself: one registration per fd, and the key of #items.
      sys.epollCtl(this.#epfd, 'add', fd, mask, fd);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'EEXIST') {
        throw new AlreadyRegisteredError(`fd ${fd} is already in this EventPoll`, { cause: err });
      }
      throw err; // EBADF, EPERM (regular file), EINVAL (the epoll fd itself), ELOOP
    }
    if (stale !== undefined) {
      // The kernel took it, so the old entry's fd was closed (and dropped) without del().
      stale.removed = true;
      log.debug('add(fd %d): replaces an entry whose fd was closed without del()', fd);
    }
    this.#items.set(fd, new EpItem<T>(fd, (mask & EVENT_BITS) | ALWAYS_REPORTED, (mask & FLAG_BITS) >>> 0, data));
  }

  /** Re-arms a fired EPOLLONESHOT member too (the kernel does). */
  mod(fd: number, mask: number, data: T, keepData: boolean): void {
    const item = this.#items.get(fd);
    if (item === undefined) throw new NotRegisteredError(`fd ${fd} is not in this EventPoll`);
    try {
      sys.epollCtl(this.#epfd, 'mod', fd, mask, fd);
    } catch (err) {
      if (!isStale(err)) throw err;
      this.#items.delete(fd);
      item.removed = true;
      throw new NotRegisteredError(`fd ${fd} is not in this EventPoll (it was closed without del())`, { cause: err });
    }
    item.mask = (mask & EVENT_BITS) | ALWAYS_REPORTED;
    item.flags = (mask & FLAG_BITS) >>> 0;
    if (!keepData) item.data = data;
  }

  /** Tolerates an fd that was closed first: the kernel already dropped it. */
  del(fd: number): void {
    const item = this.#items.get(fd);
    if (item === undefined) throw new NotRegisteredError(`fd ${fd} is not in this EventPoll`);
    item.removed = true;
    this.#items.delete(fd);
    try {
      sys.epollCtl(this.#epfd, 'del', fd);
    } catch (err) {
      if (!isStale(err)) throw err;
      log.debug('del(fd %d): it was already closed; entry removed', fd);
    }
  }

  /** Appends up to `max - n` ready members to items/events from index n; returns the new n. */
  harvest(max: number, items: Array<EpItem<T> | undefined>, events: number[], n: number): number {
    if (n >= max || this.#items.size === 0) return n;
    const pairs = this.#pairs;
    const got = sys.epollWaitInto(this.#epfd, pairs, 0, max - n);
    for (let i = 0; i < got; i++) {
      const item = this.#items.get(pairs[2 * i]);
      if (item === undefined) continue; // cannot happen: del() removes it from the kernel first
      items[n] = item;
      events[n] = pairs[2 * i + 1] >>> 0;
      n++;
    }
    return n;
  }

  /** Forgets every member (the owner closes the epoll fd, which drops them in the kernel). */
  clear(): void {
    for (const item of this.#items.values()) item.removed = true;
    this.#items.clear();
  }
}
