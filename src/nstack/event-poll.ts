/**
 * EventPoll: the epoll of the nStack event engine (after FD.io DMM's nStack eventpoll,
 * written from scratch).
 *
 * Members are kernel fds or virtual sources (see virtual-source.ts), watched for EPOLLIN,
 * EPOLLOUT, EPOLLPRI, EPOLLRDHUP (EPOLLERR and EPOLLHUP are always reported), level-triggered
 * by default, or with EPOLLET / EPOLLONESHOT. Events are consumed either with
 * `await wait(maxEvents, timeoutMs)` or by a handler set with `onReady()` that is called
 * once per event without allocating (the hot path).
 *
 * How readiness is tracked:
 * - Kernel fds are members of a private kernel epoll instance, created with the EventPoll.
 *   The kernel applies level/edge/one-shot semantics itself, exactly (including an edge
 *   for each new arrival on an already-ready fd, which libuv's level-triggered uv_poll alone
 *   cannot express). One FdWatch (uv_poll) watches that epoll fd, so libuv wakes the JS loop
 *   when any member is ready; events are harvested with a zero-timeout epoll_wait, a batch
 *   per N-API call. Level-triggered members still ready after delivery keep the epoll fd
 *   readable, so they are reported again on the next pass, as epoll does.
 * - Virtual members queue themselves on a ready list (`rdlist`) when they notify; before
 *   delivery each is re-checked with poll() (like DMM's ep_getevt / Linux's ep_send_events):
 *   not ready any more -> dropped; level-triggered -> re-queued at the tail after delivery;
 *   edge-triggered -> re-queued only by its next notify; one-shot -> disabled until mod().
 * - A second FdWatch watches an eventfd for cross-thread wake-ups (see wake()).
 *
 * Like epoll, an fd must be removed with del() before it is closed: the kernel drops a
 * closed fd by itself (unless it was dup()ed), and del()/mod() of such an fd then clean up
 * the stale entry; add() of a reused fd number replaces it.
 */
import { ClosedError, InvalidArgumentError, InvalidStateError, NotRegisteredError, AlreadyRegisteredError } from '../errors';
import { native, sys, type FdWatch } from '../native';
import {
  ALWAYS_REPORTED,
  DEFAULT_MAX_EVENTS,
  EPOLLET,
  EPOLLIN,
  EPOLLONESHOT,
  EVENT_BITS,
  FLAG_BITS,
  MAX_EVENTS_LIMIT,
  formatEvents,
} from './constants';
import { EpItem, ReadyList } from './epitem';
import { logger } from './log';
import { isVirtualSource, type VirtualSource } from './virtual-source';

const log = logger('nstack');

/** A kernel fd or a virtual source. */
export type PollTarget = number | VirtualSource;
export type CtlOp = 'add' | 'mod' | 'del';

export interface ReadyEvent<T> {
  /** EPOLL* bits that are set now (never EPOLLET / EPOLLONESHOT). */
  events: number;
  data: T;
}

/** Called once per ready member; `events` as in ReadyEvent. */
export type ReadyHandler<T> = (events: number, data: T) => void;
/** Called on the loop after other threads wrote the wake fd; `count` = sum of the writes. */
export type WakeListener = (count: bigint) => void;

export interface EventPollOptions {
  /** Most events one onReady() pass delivers before yielding to the loop (default 64, max 1024). */
  batchSize?: number;
  /** Whether watching keeps the process alive (default true); see ref()/unref(). */
  ref?: boolean;
}

interface Waiter<T> {
  max: number;
  resolve: (events: ReadyEvent<T>[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
}

interface Resources {
  epWatch: FdWatch;
  wakeWatch: FdWatch;
}

// An EventPoll dropped without close() releases its fds when it is garbage-collected. Its
// FdWatch callbacks hold it weakly for that reason; while it is armed (a handler or a wait()
// consumes events of member fds) this set keeps it alive, as a listening server would be.
const orphans = new FinalizationRegistry<Resources>((res) => {
  res.epWatch.close();
  res.wakeWatch.close();
});
const armedPolls = new Set<object>();

function checkEvents(events: unknown): number {
  if (typeof events !== 'number' || !Number.isInteger(events)) {
    throw new InvalidArgumentError(`events must be an integer mask of EPOLL* bits, got ${String(events)}`);
  }
  const mask = events >>> 0;
  if ((mask & ~(EVENT_BITS | FLAG_BITS)) >>> 0 !== 0) {
    throw new InvalidArgumentError(
      `events has unsupported bits ${formatEvents((mask & ~(EVENT_BITS | FLAG_BITS)) >>> 0)}; ` +
        'use EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, EPOLLERR, EPOLLHUP, EPOLLET, EPOLLONESHOT',
    );
  }
  return mask;
}

function checkMaxEvents(maxEvents: unknown): number {
  if (typeof maxEvents !== 'number' || !Number.isInteger(maxEvents) || maxEvents < 1 || maxEvents > MAX_EVENTS_LIMIT) {
    throw new InvalidArgumentError(`maxEvents must be an integer in [1, ${MAX_EVENTS_LIMIT}], got ${String(maxEvents)}`);
  }
  return maxEvents;
}

function describe(target: PollTarget): string {
  return typeof target === 'number' ? `fd ${target}` : 'virtual source';
}

/** Reports an exception of user code as uncaught, without unwinding the caller. */
function rethrowLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

/** After a batch of user callbacks: each exception reaches 'uncaughtException'. */
function throwAll(errors: unknown[]): never {
  for (let i = 1; i < errors.length; i++) rethrowLater(errors[i]);
  throw errors[0];
}

export class EventPoll<T = unknown> {
  readonly #epfd: number;
  readonly #wakeFd: number;
  readonly #epWatch: FdWatch;
  readonly #wakeWatch: FdWatch;
  readonly #kernel = new Map<number, EpItem<T>>();
  readonly #virtual = new Map<VirtualSource, EpItem<T>>();
  readonly #rdlist = new ReadyList<T>();
  #seq = 0;
  #kernelFirst = true;

  readonly #batch: number;
  readonly #pairs: Int32Array;
  // Reused by onReady() passes (never by wait(), which may run inside a handler).
  readonly #passItems: Array<EpItem<T> | undefined> = [];
  readonly #passEvents: number[] = [];
  #dispatching = false;

  #handler: ReadyHandler<T> | null = null;
  #waiters: Waiter<T>[] = [];
  #armed = false;
  #kick: NodeJS.Immediate | null = null;

  #tasks: Array<() => void> = [];
  #wakeListeners: WakeListener[] = [];
  #wakeRefd = false;

  #ref: boolean;
  #closed = false;

  constructor(options: EventPollOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
    const batch = options.batchSize ?? DEFAULT_MAX_EVENTS;
    this.#batch = checkMaxEvents(batch);
    if (options.ref !== undefined && typeof options.ref !== 'boolean') {
      throw new InvalidArgumentError('options.ref must be a boolean');
    }
    this.#ref = options.ref ?? true;
    this.#pairs = new Int32Array(2 * MAX_EVENTS_LIMIT);

    const weak = new WeakRef(this);
    const epfd = sys.epollCreate();
    let epWatch: FdWatch;
    try {
      epWatch = new native.FdWatch(epfd, (status) => {
        const self = weak.deref();
        if (self !== undefined) self.#onKernelReady(status);
      }, native.FdWatch.OWN_FD);
    } catch (err) {
      sys.close(epfd);
      throw err;
    }
    let wakeFd = -1;
    let wakeWatch: FdWatch;
    try {
      wakeFd = sys.eventfd();
      wakeWatch = new native.FdWatch(wakeFd, () => {
        const self = weak.deref();
        if (self !== undefined) self.#onWake();
      }, native.FdWatch.OWN_FD);
    } catch (err) {
      epWatch.close();
      if (wakeFd >= 0) sys.close(wakeFd);
      throw err;
    }
    this.#epfd = epfd;
    this.#wakeFd = wakeFd;
    this.#epWatch = epWatch;
    this.#wakeWatch = wakeWatch;
    wakeWatch.start(EPOLLIN);
    wakeWatch.unref(); // an idle wake channel does not keep the process alive
    if (!this.#ref) epWatch.unref();
    orphans.register(this, { epWatch, wakeWatch }, this);
    log.debug('EventPoll created (epoll fd %d, wake fd %d)', epfd, wakeFd);
  }

  // ---- membership ------------------------------------------------------------------------

  /** epoll_ctl: `ctl('add' | 'mod', target, events, data)`, `ctl('del', target)`. */
  ctl(op: CtlOp, target: PollTarget, events = 0, data?: T): void {
    switch (op) {
      case 'add':
        return this.add(target, events, data as T);
      case 'mod':
        return arguments.length >= 4 ? this.mod(target, events, data as T) : this.mod(target, events);
      case 'del':
        return this.del(target);
      default:
        throw new InvalidArgumentError(`unknown ctl op ${String(op)}; use 'add', 'mod' or 'del'`);
    }
  }

  /**
   * Starts watching `target` for `events`. An already-ready member is reported at once.
   * Throws AlreadyRegisteredError if it is a member, or the kernel's error for an fd epoll
   * cannot watch (EBADF, EPERM for regular files).
   */
  add(target: PollTarget, events: number, data: T): void {
    this.#assertOpen('add');
    const mask = checkEvents(events);
    if (typeof target === 'number') {
      this.#addFd(target, mask, data);
    } else if (isVirtualSource(target)) {
      this.#addVirtual(target, mask, data);
    } else {
      throw new InvalidArgumentError('target must be a file descriptor or a virtual source (poll/subscribe/unsubscribe)');
    }
  }

  /**
   * Changes what `target` is watched for, re-enabling a fired EPOLLONESHOT member.
   * `data` is replaced when given and kept when omitted. Throws NotRegisteredError.
   */
  mod(target: PollTarget, events: number, data?: T): void {
    this.#assertOpen('mod');
    const mask = checkEvents(events);
    const item = this.#find(target);
    if (item === undefined) throw new NotRegisteredError(`${describe(target)} is not in this EventPoll`);
    const newData = arguments.length >= 3 ? (data as T) : item.data;
    if (typeof target === 'number') {
      try {
        sys.epollCtl(this.#epfd, 'mod', target, mask, target);
      } catch (err) {
        if (!this.#isStale(err)) throw err;
        this.#kernel.delete(target);
        item.removed = true;
        this.#updateArm();
        throw new NotRegisteredError(`fd ${target} is not in this EventPoll (it was closed without del())`, { cause: err });
      }
      item.mask = (mask & EVENT_BITS) | ALWAYS_REPORTED;
      item.flags = (mask & FLAG_BITS) >>> 0;
      item.data = newData;
      return;
    }
    item.mask = (mask & EVENT_BITS) | ALWAYS_REPORTED;
    item.flags = (mask & FLAG_BITS) >>> 0;
    item.data = newData;
    this.#queueIfReady(item);
  }

  /** Stops watching `target`; its data is never delivered afterwards. Throws NotRegisteredError. */
  del(target: PollTarget): void {
    this.#assertOpen('del');
    const item = this.#find(target);
    if (item === undefined) throw new NotRegisteredError(`${describe(target)} is not in this EventPoll`);
    item.removed = true;
    if (typeof target === 'number') {
      this.#kernel.delete(target);
      try {
        sys.epollCtl(this.#epfd, 'del', target);
      } catch (err) {
        if (!this.#isStale(err)) throw err;
        log.debug('del(fd %d): it was already closed; entry removed', target);
      }
      this.#updateArm();
      return;
    }
    this.#virtual.delete(target);
    this.#rdlist.remove(item);
    if (item.notify !== null) target.unsubscribe(item.notify);
  }

  /** Whether `target` is a member. */
  has(target: PollTarget): boolean {
    return this.#find(target) !== undefined;
  }

  /** Number of members. */
  get size(): number {
    return this.#kernel.size + this.#virtual.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ---- consuming events --------------------------------------------------------------------

  /**
   * Resolves with up to `maxEvents` ready members, as soon as there is at least one, or
   * with [] after `timeoutMs` (-1 = no timeout, 0 = just look), or when wake() interrupts
   * it. Rejects with ClosedError if the EventPoll is closed meanwhile, and with
   * InvalidStateError while an onReady() handler is set.
   */
  wait(maxEvents = DEFAULT_MAX_EVENTS, timeoutMs = -1): Promise<ReadyEvent<T>[]> {
    try {
      this.#assertOpen('wait');
      checkMaxEvents(maxEvents);
      if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < -1) {
        throw new InvalidArgumentError(`timeoutMs must be an integer >= -1, got ${String(timeoutMs)}`);
      }
      if (this.#handler !== null) {
        throw new InvalidStateError('wait() cannot be used while an onReady() handler is set; call onReady(null) first');
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const ready = this.#collectEvents(maxEvents);
    if (ready.length > 0 || timeoutMs === 0) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = { max: maxEvents, resolve, reject, timer: null };
      if (timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          this.#removeWaiter(waiter);
          resolve([]);
        }, timeoutMs);
        if (!this.#ref) waiter.timer.unref();
      }
      this.#waiters.push(waiter);
      this.#updateArm();
    });
  }

  /**
   * Sets the handler that receives every ready member, one call per event, in passes of at
   * most `batchSize` events (no promise or array per event). `null` removes it. Events of
   * members deleted by an earlier call in the same pass are skipped. An exception thrown by
   * the handler does not stop the pass; afterwards each one is rethrown (they reach
   * 'uncaughtException'). Throws InvalidStateError while wait() calls are pending.
   */
  onReady(handler: ReadyHandler<T> | null): this {
    this.#assertOpen('onReady');
    if (handler !== null && typeof handler !== 'function') {
      throw new InvalidArgumentError('handler must be a function or null');
    }
    if (handler !== null && this.#waiters.length > 0) {
      throw new InvalidStateError('onReady() cannot be set while wait() calls are pending');
    }
    this.#handler = handler;
    this.#updateArm();
    if (handler !== null && this.#rdlist.size > 0) this.#scheduleKick();
    return this;
  }

  // ---- wake-ups ----------------------------------------------------------------------------

  /**
   * The eventfd that wakes this EventPoll. Any thread may write it (a worker_thread with
   * EventPoll.signalWakeFd(fd), native code with write(2) of a uint64): the loop then drains
   * it, runs post()ed tasks, calls the onWake() listeners and returns the oldest pending
   * wait() (with whatever is ready, possibly nothing). The fd is closed by close(): a thread
   * must stop writing it before that.
   */
  get wakeFd(): number {
    return this.#wakeFd;
  }

  /** Writes `value` (default 1) to a wake fd from any thread. */
  static signalWakeFd(fd: number, value: number | bigint = 1): void {
    sys.eventfdWrite(fd, value);
  }

  /** Wakes this EventPoll (see wakeFd). */
  wake(): void {
    this.#assertOpen('wake');
    sys.eventfdWrite(this.#wakeFd, 1);
  }

  /** Runs `task` on the loop at the next wake-up (and causes one). Tasks run in order. */
  post(task: () => void): void {
    this.#assertOpen('post');
    if (typeof task !== 'function') throw new InvalidArgumentError('task must be a function');
    this.#tasks.push(task);
    // A queued task keeps the loop alive until it ran, as setImmediate would.
    if (!this.#wakeRefd && this.#ref) {
      this.#wakeWatch.ref();
      this.#wakeRefd = true;
    }
    if (this.#tasks.length === 1) sys.eventfdWrite(this.#wakeFd, 1);
  }

  /** Adds a listener called at each wake-up. */
  onWake(listener: WakeListener): this {
    this.#assertOpen('onWake');
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener must be a function');
    this.#wakeListeners = [...this.#wakeListeners, listener];
    return this;
  }

  offWake(listener: WakeListener): this {
    this.#wakeListeners = this.#wakeListeners.filter((fn) => fn !== listener);
    return this;
  }

  // ---- life cycle --------------------------------------------------------------------------

  /** Lets watching keep the process alive (the default). */
  ref(): this {
    this.#setRef(true);
    return this;
  }

  /** Lets the process exit even while members are watched or wait() is pending. */
  unref(): this {
    this.#setRef(false);
    return this;
  }

  hasRef(): boolean {
    return this.#ref;
  }

  /**
   * Releases everything: the kernel epoll instance and the wake fd are closed, virtual
   * sources are unsubscribed, pending wait() calls reject with ClosedError, queued tasks are
   * dropped. Member fds belong to the caller and stay open. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    orphans.unregister(this);
    if (this.#kick !== null) {
      clearImmediate(this.#kick);
      this.#kick = null;
    }
    this.#epWatch.close();
    this.#wakeWatch.close();
    this.#armed = false;
    armedPolls.delete(this);
    for (const item of this.#kernel.values()) item.removed = true;
    this.#kernel.clear();
    for (const [source, item] of this.#virtual) {
      item.removed = true;
      if (item.notify !== null) {
        try {
          source.unsubscribe(item.notify);
        } catch (err) {
          rethrowLater(err);
        }
      }
    }
    this.#virtual.clear();
    this.#rdlist.clear();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (w.timer !== null) clearTimeout(w.timer);
      w.reject(new ClosedError('EventPoll was closed while waiting'));
    }
    this.#tasks = [];
    this.#wakeListeners = [];
    this.#handler = null;
    log.debug('EventPoll closed (epoll fd %d)', this.#epfd);
  }

  // ---- internals ---------------------------------------------------------------------------

  #assertOpen(what: string): void {
    if (this.#closed) throw new ClosedError(`EventPoll is closed (${what})`);
  }

  #find(target: PollTarget): EpItem<T> | undefined {
    return typeof target === 'number' ? this.#kernel.get(target) : this.#virtual.get(target);
  }

  /** epoll_ctl failed because the fd was closed without del(). */
  #isStale(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    return code === 'ENOENT' || code === 'EBADF';
  }

  #addFd(fd: number, mask: number, data: T): void {
    if (!Number.isInteger(fd) || fd < 0) throw new InvalidArgumentError(`fd must be an integer >= 0, got ${fd}`);
    const stale = this.#kernel.get(fd);
    try {
      // data = the fd itself: one registration per fd, and the key of #kernel.
      sys.epollCtl(this.#epfd, 'add', fd, mask, fd);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'EEXIST') {
        throw new AlreadyRegisteredError(`fd ${fd} is already in this EventPoll`, { cause: err });
      }
      throw err;
    }
    if (stale !== undefined) {
      // The kernel accepted it, so the old entry's fd was closed (and dropped) without del().
      stale.removed = true;
      log.debug('add(fd %d): replaces an entry whose fd was closed without del()', fd);
    }
    this.#kernel.set(fd, new EpItem<T>(fd, (mask & EVENT_BITS) | ALWAYS_REPORTED, (mask & FLAG_BITS) >>> 0, data));
    this.#updateArm();
  }

  #addVirtual(source: VirtualSource, mask: number, data: T): void {
    if (this.#virtual.has(source)) throw new AlreadyRegisteredError('this virtual source is already in this EventPoll');
    const item = new EpItem<T>(source, (mask & EVENT_BITS) | ALWAYS_REPORTED, (mask & FLAG_BITS) >>> 0, data);
    item.notify = (events: number) => this.#onNotify(item, events);
    source.subscribe(item.notify);
    this.#virtual.set(source, item);
    this.#queueIfReady(item);
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
    if ((revents & item.mask) !== 0) {
      this.#rdlist.push(item, this.#seq++);
      this.#scheduleKick();
    }
  }

  /** The notify function given to a virtual source (DMM's event callback). */
  #onNotify(item: EpItem<T>, events: number): void {
    if (item.removed || item.mask === 0) return; // gone, or a fired ONESHOT
    if (events !== 0 && (events & item.mask) === 0) return; // not what it is watched for
    if (!item.linked) this.#rdlist.push(item, this.#seq++);
    this.#scheduleKick();
  }

  /** Harvests up to `max` events into items/events from index 0; returns the count. */
  #collect(max: number, items: Array<EpItem<T> | undefined>, events: number[]): number {
    // Alternate which side goes first so that neither starves the other under load.
    const kernelFirst = this.#kernelFirst;
    this.#kernelFirst = !kernelFirst;
    let n = 0;
    if (kernelFirst) {
      n = this.#collectKernel(max, items, events, n);
      n = this.#collectVirtual(max, items, events, n);
    } else {
      n = this.#collectVirtual(max, items, events, n);
      n = this.#collectKernel(max, items, events, n);
    }
    return n;
  }

  #collectKernel(max: number, items: Array<EpItem<T> | undefined>, events: number[], n: number): number {
    if (n >= max || this.#kernel.size === 0) return n;
    const pairs = this.#pairs;
    const got = sys.epollWaitInto(this.#epfd, pairs, 0, max - n);
    for (let i = 0; i < got; i++) {
      const item = this.#kernel.get(pairs[2 * i]);
      if (item === undefined) continue; // cannot happen: del() removes it from the kernel first
      items[n] = item;
      events[n] = pairs[2 * i + 1] >>> 0;
      n++;
    }
    return n;
  }

  /** ep_send_events for virtual members: re-check, deliver, re-queue level-triggered ones. */
  #collectVirtual(max: number, items: Array<EpItem<T> | undefined>, events: number[], n: number): number {
    const list = this.#rdlist;
    const scanEnd = this.#seq; // items queued from here on belong to the next scan
    while (n < max) {
      const item = list.head;
      if (item === null || item.seq >= scanEnd) break;
      list.remove(item);
      if (item.mask === 0) continue;
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

  #collectEvents(max: number): ReadyEvent<T>[] {
    const items: Array<EpItem<T> | undefined> = [];
    const events: number[] = [];
    const n = this.#collect(max, items, events);
    const out: ReadyEvent<T>[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = { events: events[i], data: (items[i] as EpItem<T>).data };
    return out;
  }

  /** One onReady() pass: harvest a batch, then call the handler for each live event. */
  #pass(): void {
    const handler = this.#handler;
    if (handler === null || this.#dispatching) return;
    this.#dispatching = true;
    const items = this.#passItems;
    const events = this.#passEvents;
    let errors: unknown[] | null = null;
    try {
      const n = this.#collect(this.#batch, items, events);
      for (let i = 0; i < n; i++) {
        const item = items[i] as EpItem<T>;
        items[i] = undefined;
        if (item.removed || this.#closed) continue;
        try {
          handler(events[i], item.data);
        } catch (err) {
          (errors ??= []).push(err);
        }
      }
    } finally {
      this.#dispatching = false;
    }
    // Level-triggered virtual members still queued (or a batch that was cut short) get
    // another pass on the next loop turn, after I/O had its chance.
    if (this.#rdlist.size > 0) this.#scheduleKick();
    if (errors !== null) throwAll(errors);
  }

  #serveWaiters(): void {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0];
      const ready = this.#collectEvents(waiter.max);
      if (ready.length === 0) break;
      this.#waiters.shift();
      if (waiter.timer !== null) clearTimeout(waiter.timer);
      waiter.resolve(ready);
    }
    this.#updateArm();
  }

  #removeWaiter(waiter: Waiter<T>): void {
    const i = this.#waiters.indexOf(waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
    this.#updateArm();
  }

  /** Watches the kernel epoll fd only while someone consumes events and fds are members. */
  #updateArm(): void {
    const want = !this.#closed && this.#kernel.size > 0 && (this.#handler !== null || this.#waiters.length > 0);
    if (want === this.#armed) return;
    if (want) {
      this.#epWatch.start(EPOLLIN);
      armedPolls.add(this);
    } else {
      this.#epWatch.stop();
      armedPolls.delete(this);
    }
    this.#armed = want;
  }

  #scheduleKick(): void {
    if (this.#kick !== null || this.#closed) return;
    if (this.#handler === null && this.#waiters.length === 0) return; // delivered when asked
    this.#kick = setImmediate(() => this.#onKick());
    if (!this.#ref) this.#kick.unref();
  }

  #onKick(): void {
    this.#kick = null;
    if (this.#closed) return;
    if (this.#handler !== null) this.#pass();
    else this.#serveWaiters();
  }

  /** libuv says the kernel epoll fd is readable: some member fd is ready. */
  #onKernelReady(status: number): void {
    if (this.#closed) return;
    if (status < 0) {
      log.error('watching epoll fd %d failed: status %d', this.#epfd, status);
      this.#armed = false;
      this.#updateArm();
      return;
    }
    if (this.#handler !== null) this.#pass();
    else if (this.#waiters.length > 0) this.#serveWaiters();
    else this.#updateArm();
  }

  #onWake(): void {
    if (this.#closed) return;
    const count = sys.eventfdRead(this.#wakeFd);
    let errors: unknown[] | null = null;
    const tasks = this.#tasks;
    if (tasks.length > 0) {
      this.#tasks = [];
      for (const task of tasks) {
        try {
          task();
        } catch (err) {
          (errors ??= []).push(err);
        }
      }
    }
    if (this.#wakeRefd && this.#tasks.length === 0 && !this.#closed) {
      this.#wakeWatch.unref();
      this.#wakeRefd = false;
    }
    const listeners = this.#wakeListeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i](count);
      } catch (err) {
        (errors ??= []).push(err);
      }
    }
    // Like a signal interrupting epoll_wait: the oldest waiter returns now.
    if (count > 0n && !this.#closed && this.#waiters.length > 0) {
      const waiter = this.#waiters.shift() as Waiter<T>;
      if (waiter.timer !== null) clearTimeout(waiter.timer);
      waiter.resolve(this.#collectEvents(waiter.max));
      this.#updateArm();
    }
    if (errors !== null) throwAll(errors);
  }

  #setRef(on: boolean): void {
    this.#ref = on;
    if (this.#closed) return;
    if (on) this.#epWatch.ref();
    else this.#epWatch.unref();
    for (const w of this.#waiters) {
      if (w.timer !== null) {
        if (on) w.timer.ref();
        else w.timer.unref();
      }
    }
    if (this.#kick !== null) {
      if (on) this.#kick.ref();
      else this.#kick.unref();
    }
    if (!on && this.#wakeRefd) {
      this.#wakeWatch.unref();
      this.#wakeRefd = false;
    } else if (on && !this.#wakeRefd && this.#tasks.length > 0) {
      this.#wakeWatch.ref();
      this.#wakeRefd = true;
    }
  }
}
