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
 * A queue lent to another thread is not scheduled here: libmemif gives it the lessee's mode.
 */
import type { RxMode } from './options';

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
  /** Sets the ring's MASK_INT through libmemif (true: the peer stops signalling). */
  mask(queue: number, polling: boolean): void;
  /** 'rx' for the queue. */
  emitRx(queue: number): void;
}

export class RxScheduler {
  readonly #target: RxTarget;
  readonly #modes: RxMode[];
  /** Queues polled on each loop turn (polling mode, or adaptive while busy). */
  readonly #polled = new Set<number>();
  readonly #idle: number[];
  /** Adaptive: when the queue last had packets (performance.now()). */
  readonly #lastBusy: number[];
  /** rx() returned packets since the last poll tick (adaptive: busy); rx() sets it. */
  readonly busy: Uint8Array;
  #timer: NodeJS.Immediate | null = null;

  constructor(queues: number, mode: RxMode, target: RxTarget) {
    this.#target = target;
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
      setImmediate(() => {
        if (t.active() && !t.lent(queue)) t.emitRx(queue);
      });
    }
  }

  /** An interrupt arrived for the queue; the caller emits 'rx'. */
  interrupt(queue: number): void {
    if (this.#modes[queue] === 'adaptive' && !this.#polled.has(queue)) this.#startPolling(queue);
  }

  /** The queue is lent to another thread: stop looking at it. */
  release(queue: number): void {
    this.#polled.delete(queue);
  }

  stop(): void {
    this.#polled.clear();
    if (this.#timer !== null) clearImmediate(this.#timer);
    this.#timer = null;
  }

  #startPolling(queue: number): void {
    if (this.#modes[queue] === 'adaptive') this.#target.mask(queue, true);
    this.#polled.add(queue);
    this.#idle[queue] = 0;
    this.#lastBusy[queue] = performance.now();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer === null && this.#polled.size > 0) this.#timer = setImmediate(() => this.#tick());
  }

  #tick(): void {
    this.#timer = null;
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
        t.emitRx(q); // the re-check after unmasking
        continue;
      }
      t.emitRx(q);
    }
    this.#schedule();
  }
}
