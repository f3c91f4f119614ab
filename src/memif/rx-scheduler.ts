/**
 * When an interface's rx queues are looked at, in the interface's own thread:
 *  - 'interrupt': the peer signals; 'rx' fires on each interrupt;
 *  - 'polling': the peer never signals; 'rx' fires on every turn of the event loop;
 *  - 'adaptive': interrupt while idle; after an interrupt the queue is polled each turn (the
 *    peer, seeing it masked, signals nothing) until it has been empty for a short window
 *    (ADAPTIVE_IDLE_MS, and at least twice in a row), then interrupts are re-enabled and the
 *    queue is looked at once more, so nothing that arrived while masked is missed. The window
 *    is what makes a request/answer exchange cheap: the answer usually comes back within it,
 *    found by a poll instead of an interrupt (no eventfd write by the peer, no wake-up here);
 *    in silence the queue costs nothing once the window has passed.
 * With the 'level' trigger (the default), a queue that is not polled and still holds packets
 * once the 'rx' listeners returned gets 'rx' again at the loop's next turn (RxRefire), so a
 * listener that takes one batch per event loses nothing; 'edge' fires on interrupts only.
 * A queue lent to another thread is not scheduled here: libmemif gives it the lessee's mode.
 */
import { nextTurn, type CancelTurn } from './next-turn';
import type { RxMode, RxTrigger } from './options';

/** Adaptive: consecutive empty polls before going back to interrupts, at the least. */
const ADAPTIVE_IDLE_POLLS = 2;
/** Adaptive: and for at least this long without packets (ms), a round trip or more. */
const ADAPTIVE_IDLE_MS = 0.1;

/** What the scheduler drives. */
export interface RxTarget {
  /** The link is up (modes are applied to a connected interface only). */
  active(): boolean;
  /** rx queues of the current connection (a master may get fewer than configured). */
  connectedQueues(): number;
  lent(queue: number): boolean;
  /** Packets the peer published on the queue that rx() has not taken (a look; <= 0: none). */
  pending(queue: number): number;
  /** Sets the ring's MASK_INT through libmemif (true: the peer stops signalling). */
  mask(queue: number, polling: boolean): void;
  /** Whether the socket keeps the process alive (its ref()/unref()); so do the turns scheduled here. */
  ref(): boolean;
  /** 'rx' for the queue. */
  emitRx(queue: number): void;
}

export class RxScheduler {
  readonly #target: RxTarget;
  readonly #modes: RxMode[];
  readonly #refire: RxRefire | null;
  /** Queues polled on each loop turn (polling mode, or adaptive while busy). */
  readonly #polled = new Set<number>();
  readonly #idle: number[];
  /** Adaptive: when the queue last had packets (performance.now()). */
  readonly #lastBusy: number[];
  /** rx() returned packets since the last poll tick (adaptive: busy); rx() sets it. */
  readonly busy: Uint8Array;
  #cancel: CancelTurn | null = null;

  constructor(queues: number, mode: RxMode, trigger: RxTrigger, target: RxTarget) {
    this.#target = target;
    this.#refire =
      trigger === 'level'
        ? new RxRefire(
            (q) => (target.active() && !target.lent(q) && !this.#polled.has(q) ? target.pending(q) : 0),
            (q) => {
              if (target.active() && !target.lent(q)) this.#emit(q);
            },
            () => target.ref(),
          )
        : null;
    this.#modes = new Array(queues).fill(mode);
    this.#idle = new Array(queues).fill(0);
    this.#lastBusy = new Array(queues).fill(0);
    this.busy = new Uint8Array(queues);
  }

  mode(queue: number): RxMode {
    return this.#modes[queue];
  }

  setMode(queue: number, mode: RxMode): void {
    this.#modes[queue] = mode;
    if (this.#target.active()) this.apply(queue);
  }

  /** Applies every queue's mode (on link-up). */
  applyAll(): void {
    for (let q = 0; q < this.#modes.length; q++) this.apply(q);
  }

  /** Applies a queue's mode to the connected interface. */
  apply(queue: number): void {
    const t = this.#target;
    if (queue >= t.connectedQueues() || t.lent(queue)) return;
    if (this.#modes[queue] === 'polling') {
      t.mask(queue, true);
      this.#startPolling(queue);
    } else {
      this.#polled.delete(queue);
      t.mask(queue, false);
      // Packets may have arrived while masked: look once.
      nextTurn(() => {
        if (t.active() && !t.lent(queue)) this.#emit(queue);
      }, t.ref());
    }
  }

  /** An interrupt arrived for the queue: 'rx' for it. */
  interrupt(queue: number): void {
    if (this.#modes[queue] === 'adaptive' && !this.#polled.has(queue)) this.#startPolling(queue);
    this.#emit(queue);
  }

  /** The queue is lent to another thread: stop looking at it. */
  release(queue: number): void {
    this.#polled.delete(queue);
  }

  stop(): void {
    this.#polled.clear();
    this.#refire?.clear();
    this.#cancel?.();
    this.#cancel = null;
  }

  #startPolling(queue: number): void {
    if (this.#modes[queue] === 'adaptive') this.#target.mask(queue, true);
    this.#polled.add(queue);
    this.#idle[queue] = 0;
    this.#lastBusy[queue] = performance.now();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#cancel === null && this.#polled.size > 0) this.#cancel = nextTurn(() => this.#tick(), this.#target.ref());
  }

  #tick(): void {
    this.#cancel = null;
    const t = this.#target;
    if (!t.active()) return;
    const now = performance.now();
    for (const q of this.#polled) {
      if (this.busy[q]) {
        this.#idle[q] = 0;
        this.#lastBusy[q] = now;
      } else {
        this.#idle[q]++;
      }
      this.busy[q] = 0;
      if (this.#modes[q] === 'adaptive' && this.#idle[q] >= ADAPTIVE_IDLE_POLLS && now - this.#lastBusy[q] >= ADAPTIVE_IDLE_MS) {
        this.#polled.delete(q);
        t.mask(q, false);
        this.#emit(q); // the re-check after unmasking
        continue;
      }
      t.emitRx(q);
    }
    this.#schedule();
  }

  /** 'rx' for a queue, then (level trigger) the look whether it needs another. */
  #emit(queue: number): void {
    this.#target.emitRx(queue);
    this.#refire?.after(queue);
  }
}

/**
 * Level-triggered 'rx': after the listeners of an 'rx' returned, looks whether the queue still
 * holds packets (`pending`: one read of the peer's counter, nothing taken) and if so fires
 * again at the loop's next turn, as long as it does. Used per interface (RxScheduler) and by a
 * queue attached in a worker.
 */
export class RxRefire {
  readonly #pending: (queue: number) => number;
  readonly #fire: (queue: number) => void;
  readonly #ref: () => boolean;
  readonly #due = new Set<number>();
  #cancel: CancelTurn | null = null;

  /** `ref`: whether the next turn keeps the process alive (the socket's ref()). */
  constructor(pending: (queue: number) => number, fire: (queue: number) => void, ref: () => boolean) {
    this.#pending = pending;
    this.#fire = fire;
    this.#ref = ref;
  }

  /** An 'rx' for `queue` was handled. */
  after(queue: number): void {
    if (this.#due.has(queue) || this.#pending(queue) <= 0) return;
    this.#due.add(queue);
    this.#cancel ??= nextTurn(() => this.#run(), this.#ref());
  }

  /** Forgets what was due (the link went down, or the queue is going away). */
  clear(): void {
    this.#due.clear();
    this.#cancel?.();
    this.#cancel = null;
  }

  #run(): void {
    this.#cancel = null;
    const due = [...this.#due];
    this.#due.clear();
    let error: unknown = null;
    for (const q of due) {
      try {
        this.#fire(q);
      } catch (err) {
        error ??= err; // every queue still gets its 'rx'; the first listener error then goes on
      }
    }
    if (error !== null) throw error;
  }
}
