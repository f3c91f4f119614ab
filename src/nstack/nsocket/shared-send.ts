/**
 * The owning thread's side of an nSocket's cross-thread send queue: the ring, the eventfd that
 * producers write (an EventPoll wake channel, watched by this thread's loop) and the drain loop
 * that hands queued messages to the socket. The socket says how to deliver one message and
 * calls resume() when it can take more after refusing one.
 */
import { threadId } from 'node:worker_threads';
import { logger } from '../log';
import type { Family, Protocol } from '../stack';
import { WakeChannel } from '../wake-channel';
import { SendRing, type RingRecord } from './send-ring';

const log = logger('nstack');

/** Messages handed over per pass before the loop gets a turn. */
const PASS_LIMIT = 1024;
/** Default queue size. */
export const DEFAULT_QUEUE_BYTES = 1 << 20;

/** What shareSend() returns: plain data, safe to postMessage to a worker_thread. */
export interface SendQueueHandle {
  /** Tells attachSocket() what it was given. */
  readonly kind: 'nstack-send-queue';
  /** The queue's shared memory. */
  readonly buffer: SharedArrayBuffer;
  /** The eventfd that wakes the owning thread (meaningful in this process only). */
  readonly wakeFd: number;
  /** The socket's protocol. */
  readonly protocol: Protocol;
  /** The socket's IP version. */
  readonly family: Family;
  /** threadId of the owning thread. */
  readonly owner: number;
}

/** Delivers one message: true = taken (or dropped with an error reported), false = no room now. */
export type Deliver = (record: RingRecord) => boolean;

export class SharedSend {
  readonly #ring: SendRing;
  readonly #wake: WakeChannel;
  readonly #deliver: Deliver;
  readonly handle: SendQueueHandle;
  #blocked = false;
  #scheduled: NodeJS.Immediate | null = null;
  #closed = false;

  constructor(bytes: number, protocol: Protocol, family: Family, deliver: Deliver) {
    this.#deliver = deliver;
    this.#wake = new WakeChannel(() => this.#drain());
    try {
      this.#ring = SendRing.create(bytes, this.#wake.fd);
    } catch (err) {
      this.#wake.close();
      throw err;
    }
    this.handle = Object.freeze({ kind: 'nstack-send-queue', buffer: this.#ring.buffer, wakeFd: this.#wake.fd, protocol, family, owner: threadId });
  }

  /** The socket can take messages again after deliver() returned false. */
  resume(): void {
    if (!this.#blocked || this.#closed) return;
    this.#blocked = false;
    this.#drain();
  }

  /** Refuses further messages (producers then get ClosedError); what is queued is dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    if (this.#ring.close()) this.#wake.close();
    else log.error('a thread is still inside send() on a closed socket queue; its wake fd %d stays open', this.#wake.fd);
  }

  #drain(): void {
    this.#scheduled = null;
    if (this.#closed || this.#blocked) return;
    const ring = this.#ring;
    let n = 0;
    for (;;) {
      for (let rec = ring.peek(); rec !== null; rec = ring.peek()) {
        if (!this.#deliver(rec)) {
          this.#blocked = true;
          ring.endPass();
          return;
        }
        ring.consume();
        if (this.#closed) return;
        if (++n === PASS_LIMIT) {
          ring.endPass();
          this.#scheduled = setImmediate(() => this.#drain()); // the loop's turn; no eventfd needed
          return;
        }
      }
      ring.endPass();
      if (ring.sleep()) return;
    }
  }
}
