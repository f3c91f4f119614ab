/**
 * The cross-thread wake-up of an EventPoll: an eventfd that any thread may write (a
 * worker_thread through sys.eventfdWrite, native code with write(2) of a uint64), watched
 * on the loop by an FdWatch. On each wake-up the loop drains the counter, runs posted tasks
 * in order, calls the listeners, then tells the owner. Internal to src/nstack.
 */
import { InvalidArgumentError } from '../errors';
import { native, sys, type FdWatch } from '../native';
import { EPOLLIN } from './constants';

/** Called on the loop after other threads wrote the wake fd; `count` = sum of the writes. */
export type WakeListener = (count: bigint) => void;

export class WakeChannel {
  readonly fd: number;
  readonly #watch: FdWatch;
  #tasks: Array<() => void> = [];
  #listeners: readonly WakeListener[] = [];
  #refd = false; // the watch is ref'd while tasks are queued
  #allowRef = true;
  #closed = false;
  readonly #afterWake: (count: bigint, errors: unknown[] | null) => void;

  /**
   * `afterWake` runs after tasks and listeners with the drained count and the exceptions
   * they threw (null if none); it must not hold the owner strongly (see EventPoll).
   */
  constructor(afterWake: (count: bigint, errors: unknown[] | null) => void) {
    this.#afterWake = afterWake;
    const fd = sys.eventfd();
    try {
      this.#watch = new native.FdWatch(fd, () => this.#onReadable(), native.FdWatch.OWN_FD);
    } catch (err) {
      sys.close(fd);
      throw err;
    }
    this.fd = fd;
    this.#watch.start(EPOLLIN);
    this.#watch.unref(); // an idle channel does not keep the process alive
  }

  /** Wakes the loop from this thread. */
  wake(): void {
    sys.eventfdWrite(this.fd, 1);
  }

  /** Queues a task for the next wake-up, and causes one. */
  post(task: () => void): void {
    if (typeof task !== 'function') throw new InvalidArgumentError('task must be a function');
    this.#tasks.push(task);
    // A queued task keeps the loop alive until it ran, as setImmediate would.
    if (!this.#refd && this.#allowRef) {
      this.#watch.ref();
      this.#refd = true;
    }
    if (this.#tasks.length === 1) sys.eventfdWrite(this.fd, 1);
  }

  addListener(listener: WakeListener): void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener must be a function');
    this.#listeners = [...this.#listeners, listener];
  }

  removeListener(listener: WakeListener): void {
    this.#listeners = this.#listeners.filter((fn) => fn !== listener);
  }

  /** Whether queued tasks may keep the process alive (follows the owner's ref()/unref()). */
  setRef(on: boolean): void {
    this.#allowRef = on;
    if (this.#closed) return;
    if (!on && this.#refd) {
      this.#watch.unref();
      this.#refd = false;
    } else if (on && !this.#refd && this.#tasks.length > 0) {
      this.#watch.ref();
      this.#refd = true;
    }
  }

  /** Closes the watch and the eventfd; queued tasks are dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch.close();
    this.#tasks = [];
    this.#listeners = [];
  }

  #onReadable(): void {
    if (this.#closed) return;
    const count = sys.eventfdRead(this.fd);
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
    if (this.#refd && this.#tasks.length === 0 && !this.#closed) {
      this.#watch.unref();
      this.#refd = false;
    }
    const listeners = this.#listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i](count);
      } catch (err) {
        (errors ??= []).push(err);
      }
    }
    this.#afterWake(count, errors);
  }
}
