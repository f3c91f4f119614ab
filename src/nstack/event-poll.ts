/**
 * EventPoll: the epoll of the nStack event engine (after FD.io DMM's nStack eventpoll,
 * written from scratch).
 *
 * Members are kernel fds or virtual sources (virtual-source.ts), watched for EPOLLIN,
 * EPOLLOUT, EPOLLPRI, EPOLLRDHUP (EPOLLERR and EPOLLHUP are always reported), level-triggered
 * by default, or with EPOLLET / EPOLLONESHOT, with Linux epoll's semantics. Events are
 * consumed either with `await wait(maxEvents, timeoutMs)` or by a handler set with
 * `onReady()`, called once per event without allocating (the hot path).
 *
 * - Kernel fds live in a private kernel epoll instance (kernel-members.ts), whose fd is
 *   watched by one FdWatch (uv_poll) while someone consumes events.
 * - Virtual sources queue themselves on a ready list when they notify and are re-checked
 *   with poll() before delivery (virtual-members.ts).
 * - An eventfd wakes the loop from other threads (wake-channel.ts).
 *
 * Like epoll, an fd must be removed with del() before it is closed; the kernel drops a closed
 * fd by itself (unless it was dup()ed), del()/mod() of such an fd then clean up the stale
 * entry, and add() of a reused fd number replaces it.
 */
import { AbortError, ClosedError, InvalidArgumentError, InvalidStateError, NotRegisteredError } from '../errors';
import { native, sys, type FdWatch } from '../native';
import { DEFAULT_MAX_EVENTS, EPOLLIN, EVENT_BITS, FLAG_BITS, MAX_EVENTS_LIMIT, formatEvents } from './constants';
import type { EpItem } from './epitem';
import { KernelMembers } from './kernel-members';
import { logger } from './log';
import { VirtualMembers, rethrowLater } from './virtual-members';
import { isVirtualSource, type VirtualSource } from './virtual-source';
import { WakeChannel, type WakeListener } from './wake-channel';

export type { WakeListener } from './wake-channel';

const log = logger('nstack');

/** A kernel fd or a virtual source. */
export type PollTarget = number | VirtualSource;
/** The operations of {@link EventPoll.ctl}, as epoll_ctl's. */
export type CtlOp = 'add' | 'mod' | 'del';

/** One event of {@link EventPoll.wait}. */
export interface ReadyEvent<T> {
  /** EPOLL* bits that are set now (never EPOLLET / EPOLLONESHOT). */
  events: number;
  /** The member's data, as given to add()/mod(). */
  data: T;
}

/** Called once per ready member; `events` as in ReadyEvent. */
export type ReadyHandler<T> = (events: number, data: T) => void;

/** Options of `new EventPoll()`. */
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

// An EventPoll dropped without close() releases its fds when it is garbage-collected: its
// FdWatch callbacks hold it weakly. While it is armed (a handler or a wait() consumes events
// of member fds) `armedPolls` keeps it alive, as a listening server would be.
const orphans = new FinalizationRegistry<{ epWatch: FdWatch; wake: WakeChannel }>((res) => {
  res.epWatch.close();
  res.wake.close();
});
const armedPolls = new Set<object>();

function checkEvents(events: unknown): number {
  if (typeof events !== 'number' || !Number.isInteger(events)) {
    throw new InvalidArgumentError(`events must be an integer mask of EPOLL* bits, got ${String(events)}`);
  }
  const mask = events >>> 0;
  const unknown = (mask & ~(EVENT_BITS | FLAG_BITS)) >>> 0;
  if (unknown !== 0) {
    throw new InvalidArgumentError(
      `events has unsupported bits ${formatEvents(unknown)}; ` +
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

/** After a batch of user callbacks: each exception reaches 'uncaughtException'. */
function throwAll(errors: unknown[]): never {
  for (let i = 1; i < errors.length; i++) rethrowLater(errors[i]);
  throw errors[0];
}

/**
 * The epoll of the nStack event engine: kernel fds and virtual sources as members, level- or
 * edge-triggered or one-shot, consumed with `await wait()` or an onReady() handler (see the
 * module comment).
 */
export class EventPoll<T = unknown> {
  readonly #epfd: number;
  readonly #epWatch: FdWatch;
  readonly #wake: WakeChannel;
  readonly #kernel: KernelMembers<T>;
  readonly #virtual: VirtualMembers<T>;
  #kernelFirst = true;

  readonly #batch: number;
  // Reused by onReady() passes (never by wait(), which may run inside a handler).
  readonly #passItems: Array<EpItem<T> | undefined> = [];
  readonly #passEvents: number[] = [];
  #dispatching = false;

  #handler: ReadyHandler<T> | null = null;
  #waiters: Waiter<T>[] = [];
  #armed = false;
  #kick: NodeJS.Immediate | null = null;
  #ref: boolean;
  #closed = false;

  constructor(options: EventPollOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
    this.#batch = checkMaxEvents(options.batchSize ?? DEFAULT_MAX_EVENTS);
    if (options.ref !== undefined && typeof options.ref !== 'boolean') {
      throw new InvalidArgumentError('options.ref must be a boolean');
    }
    this.#ref = options.ref ?? true;

    const hooks = EventPoll.#weakHooks(new WeakRef(this));
    const epfd = sys.epollCreate();
    let epWatch: FdWatch;
    try {
      epWatch = new native.FdWatch(epfd, hooks.kernelReady, native.FdWatch.OWN_FD);
    } catch (err) {
      sys.close(epfd);
      throw err;
    }
    try {
      this.#wake = new WakeChannel(hooks.afterWake);
    } catch (err) {
      epWatch.close();
      throw err;
    }
    this.#epfd = epfd;
    this.#epWatch = epWatch;
    if (!this.#ref) {
      epWatch.unref();
      this.#wake.setRef(false);
    }
    this.#kernel = new KernelMembers<T>(epfd);
    this.#virtual = new VirtualMembers<T>(() => this.#scheduleKick());
    orphans.register(this, { epWatch, wake: this.#wake }, this);
    log.debug('EventPoll created (epoll fd %d, wake fd %d)', epfd, this.#wake.fd);
  }

  /**
   * The callbacks handed to the FdWatches. They must reach the EventPoll only through the
   * WeakRef: closures made in the constructor would share its context, which holds `this`
   * as soon as any of them uses it.
   */
  static #weakHooks<T>(weak: WeakRef<EventPoll<T>>) {
    return {
      kernelReady: (status: number): void => {
        const self = weak.deref();
        if (self !== undefined) self.#onKernelReady(status);
      },
      afterWake: (count: bigint, errors: unknown[] | null): void => {
        const self = weak.deref();
        if (self !== undefined) self.#afterWake(count);
        if (errors !== null) throwAll(errors);
      },
    };
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
      this.#kernel.add(target, mask, data);
      this.#updateArm();
    } else if (isVirtualSource(target)) {
      this.#virtual.add(target, mask, data);
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
    const keepData = arguments.length < 3;
    if (typeof target === 'number') {
      try {
        this.#kernel.mod(target, mask, data as T, keepData);
      } finally {
        this.#updateArm(); // a stale entry may have been dropped
      }
    } else if (isVirtualSource(target)) {
      this.#virtual.mod(target, mask, data as T, keepData);
    } else {
      throw new NotRegisteredError('target is not in this EventPoll');
    }
  }

  /** Stops watching `target`; its data is never delivered afterwards. Throws NotRegisteredError. */
  del(target: PollTarget): void {
    this.#assertOpen('del');
    if (typeof target === 'number') {
      this.#kernel.del(target);
      this.#updateArm();
    } else if (isVirtualSource(target)) {
      this.#virtual.del(target);
    } else {
      throw new NotRegisteredError('target is not in this EventPoll');
    }
  }

  /** Whether `target` is a member. */
  has(target: PollTarget): boolean {
    if (typeof target === 'number') return this.#kernel.has(target);
    return isVirtualSource(target) && this.#virtual.has(target);
  }

  /** Number of members. */
  get size(): number {
    return this.#kernel.size + this.#virtual.size;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  // ---- consuming events --------------------------------------------------------------------

  /**
   * Resolves with up to `maxEvents` ready members, as soon as there is at least one, or
   * with [] after `timeoutMs` (-1 = no timeout, 0 = just look), or when a wake-up interrupts
   * it. Rejects with ClosedError if the EventPoll is closed meanwhile, with InvalidStateError
   * while an onReady() handler is set, and with an AbortError (ABORT_ERR, the reason as `cause`)
   * when `options.signal` aborts.
   */
  wait(maxEvents = DEFAULT_MAX_EVENTS, timeoutMs = -1, options: { signal?: AbortSignal } = {}): Promise<ReadyEvent<T>[]> {
    const signal = options?.signal;
    try {
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError('options.signal must be an AbortSignal');
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
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
      const onAbort = (): void => {
        if (waiter.timer !== null) clearTimeout(waiter.timer);
        this.#removeWaiter(waiter);
        waiter.reject(new AbortError(undefined, { cause: signal!.reason }));
      };
      const settled = (): void => signal?.removeEventListener('abort', onAbort);
      const waiter: Waiter<T> = {
        max: maxEvents,
        resolve: (events) => {
          settled();
          resolve(events);
        },
        reject: (err) => {
          settled();
          reject(err);
        },
        timer: null,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs > 0) {
        waiter.timer = setTimeout(() => {
          this.#removeWaiter(waiter);
          waiter.resolve([]);
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
    if (handler !== null && this.#virtual.queued > 0) this.#scheduleKick();
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
    return this.#wake.fd;
  }

  /** Writes `value` (default 1) to a wake fd, from any thread. */
  static signalWakeFd(fd: number, value: number | bigint = 1): void {
    sys.eventfdWrite(fd, value);
  }

  /** Wakes this EventPoll (see wakeFd). */
  wake(): void {
    this.#assertOpen('wake');
    this.#wake.wake();
  }

  /** Runs `task` on the loop at the next wake-up (and causes one). Tasks run in order. */
  post(task: () => void): void {
    this.#assertOpen('post');
    this.#wake.post(task);
  }

  /** Adds a listener called at each wake-up. */
  onWake(listener: WakeListener): this {
    this.#assertOpen('onWake');
    this.#wake.addListener(listener);
    return this;
  }

  /** Removes a listener added with onWake(). */
  offWake(listener: WakeListener): this {
    this.#wake.removeListener(listener);
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

  /** Whether watching keeps the process alive (see ref()/unref()). */
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
    this.#epWatch.close(); // closes the epoll fd: the kernel drops every member
    this.#armed = false;
    armedPolls.delete(this);
    this.#wake.close();
    this.#kernel.clear();
    this.#virtual.clear();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (w.timer !== null) clearTimeout(w.timer);
      w.reject(new ClosedError('EventPoll was closed while waiting'));
    }
    this.#handler = null;
    log.debug('EventPoll closed (epoll fd %d)', this.#epfd);
  }

  // ---- internals ---------------------------------------------------------------------------

  #assertOpen(what: string): void {
    if (this.#closed) throw new ClosedError(`EventPoll is closed (${what})`);
  }

  /** Harvests up to `max` events into items/events from index 0; returns the count. */
  #collect(max: number, items: Array<EpItem<T> | undefined>, events: number[]): number {
    // Alternate which side goes first so that neither starves the other under load.
    const kernelFirst = this.#kernelFirst;
    this.#kernelFirst = !kernelFirst;
    if (kernelFirst) return this.#virtual.harvest(max, items, events, this.#kernel.harvest(max, items, events, 0));
    return this.#kernel.harvest(max, items, events, this.#virtual.harvest(max, items, events, 0));
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
    // another pass on the next turn of the loop, after I/O had its chance. Kernel members
    // still ready keep the epoll fd readable, so libuv calls again by itself.
    if (this.#virtual.queued > 0) this.#scheduleKick();
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

  /** Like a signal interrupting epoll_wait: the oldest waiter returns now. */
  #afterWake(count: bigint): void {
    if (count === 0n || this.#closed || this.#waiters.length === 0) return;
    const waiter = this.#waiters.shift() as Waiter<T>;
    if (waiter.timer !== null) clearTimeout(waiter.timer);
    waiter.resolve(this.#collectEvents(waiter.max));
    this.#updateArm();
  }

  #setRef(on: boolean): void {
    this.#ref = on;
    if (this.#closed) return;
    if (on) this.#epWatch.ref();
    else this.#epWatch.unref();
    this.#wake.setRef(on);
    for (const w of this.#waiters) {
      if (w.timer === null) continue;
      if (on) w.timer.ref();
      else w.timer.unref();
    }
    if (this.#kick !== null) {
      if (on) this.#kick.ref();
      else this.#kick.unref();
    }
  }
}
