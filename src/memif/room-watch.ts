/**
 * 'drain' for a queue's tx ring, like a stream's: send() (or alloc(), swap()) took fewer
 * packets than it was given because the ring was full, and 'drain' says when room is back.
 *
 * memif gives a sender no signal when the peer makes room, so the library looks: at the ring's
 * consumer counter (nmif_tx_room: one read of shared memory, no system call) at the loop's next
 * turn, then after 1, 2, 4 ... ms up to MAX_WAIT_MS while the peer has made none, and at once on
 * every 'rx' of the queue pair (a peer that answers has been consuming). The first look that
 * finds room emits 'drain'. Nothing runs while no call came up short; while the link is down
 * the looks pause, and the first connection after resumes them.
 */

import { nextTurn, type CancelTurn } from './next-turn';

/** Longest wait between two looks at a full ring. */
export const MAX_WAIT_MS = 16;

export class RoomWatch {
  readonly #look: () => number;
  readonly #onRoom: () => void;
  #waiting = false;
  #paused = false;
  #delay = -1;
  readonly #ref: () => boolean;
  #turn: CancelTurn | null = null;
  #timer: NodeJS.Timeout | null = null;

  /** `look`: free tx slots now (negative: none to be had, e.g. the link is down); `ref`: whether
   * the look at the next turn keeps the process alive (the socket's ref()). */
  constructor(look: () => number, onRoom: () => void, ref: () => boolean) {
    this.#look = look;
    this.#onRoom = onRoom;
    this.#ref = ref;
  }

  /** Whether a call came up short and 'drain' has not been emitted since. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** A call found the ring full. */
  full(): void {
    if (this.#waiting) return;
    this.#waiting = true;
    this.#delay = -1;
    this.#schedule();
  }

  /** Something suggests the peer consumed (an 'rx'): look now. */
  nudge(): void {
    if (this.#waiting && !this.#paused) this.#check();
  }

  /** The link went down (pause) or came up (resume, with a look at once). */
  link(up: boolean): void {
    this.#paused = !up;
    this.#cancel();
    if (up && this.#waiting) {
      this.#delay = -1;
      this.#schedule();
    }
  }

  /** The queue is closed: nothing more. */
  stop(): void {
    this.#waiting = false;
    this.#cancel();
  }

  #check(): void {
    this.#cancel();
    if (this.#look() > 0) {
      this.#waiting = false;
      this.#onRoom();
    } else if (!this.#paused) {
      this.#schedule();
    }
  }

  #schedule(): void {
    if (this.#turn !== null || this.#timer !== null || this.#paused) return;
    const run = (): void => {
      this.#turn = null;
      this.#timer = null;
      this.#check();
    };
    // The later looks are unref'd timers: they wake the loop, and the socket keeps it alive (or not).
    if (this.#delay < 0) {
      this.#delay = 0;
      this.#turn = nextTurn(run, this.#ref());
    } else {
      this.#delay = Math.min(MAX_WAIT_MS, Math.max(1, this.#delay * 2));
      this.#timer = setTimeout(run, this.#delay).unref();
    }
  }

  #cancel(): void {
    this.#turn?.();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#turn = null;
    this.#timer = null;
  }
}
