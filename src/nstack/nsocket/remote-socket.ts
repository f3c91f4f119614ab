/**
 * An nSocket seen from another thread (worker_threads): only sending is allowed there, through
 * the socket's multi-producer queue that its owning thread drains (the reactor pattern).
 *
 *   owner:  const handle = sock.shareSend();  worker.postMessage(handle);
 *   worker: const remote = attachSocket(handle);
 *           if (!remote.send(msg, port, '10.0.0.2')) await remote.writable();   // udp
 *           if (!remote.write(chunk)) await remote.writable();                  // tcp
 *
 * Each message is queued whole (never cut or interleaved with another thread's). Everything
 * else (receiving, binding, closing...) throws WrongThreadError: it belongs to the owner.
 */
import { threadId } from 'node:worker_threads';
import { ClosedError, InvalidArgumentError, InvalidStateError, WrongThreadError } from '../../errors';
import type { Family, Protocol } from '../stack';
import { checkPort, loopbackAddress } from './address';
import { toBytes, type MessageData } from './message';
import { SendRing } from './send-ring';
import type { SendQueueHandle } from './shared-send';

/** The sending side of an nSocket owned by another thread, from {@link attachSocket}. */
export class RemoteSocket {
  /** The socket's protocol: send() for 'udp', write() for 'tcp'. */
  readonly protocol: Protocol;
  /** The socket's IP version. */
  readonly family: Family;
  /** threadId of the owning thread. */
  readonly owner: number;
  readonly #ring: SendRing;
  #spaceSeq = 0;

  constructor(handle: SendQueueHandle) {
    if (handle?.kind !== 'nstack-send-queue' || !(handle.buffer instanceof SharedArrayBuffer) || !Number.isInteger(handle.wakeFd)) {
      throw new InvalidArgumentError('attachSocket() takes the object shareSend() returned');
    }
    this.protocol = handle.protocol;
    this.family = handle.family;
    this.owner = handle.owner;
    this.#ring = SendRing.attach(handle.buffer, handle.wakeFd);
  }

  /** Whether the owner closed the socket (then send()/write() throw ClosedError). */
  get closed(): boolean {
    return this.#ring.closed;
  }

  /** Largest message the queue takes. */
  get maxMessage(): number {
    return this.#ring.maxMessage;
  }

  /**
   * UDP: queues one datagram to `port`/`address` (an IP; default the loopback address), or to
   * the connected peer when both are omitted. False = the queue is full (await writable()).
   */
  send(msg: MessageData, port?: number, address?: string): boolean {
    if (this.protocol !== 'udp') throw new InvalidStateError('send() is for UDP sockets; use write() on a TCP socket');
    const to = port === undefined && address === undefined ? null : { port: checkPort(port, 'port', false), address: address ?? loopbackAddress(this.family) };
    return this.#push(toBytes(msg), to);
  }

  /** TCP: queues `data` to be written whole, in order with this thread's other writes. */
  write(data: MessageData): boolean {
    if (this.protocol !== 'tcp') throw new InvalidStateError('write() is for TCP sockets; use send() on a UDP socket');
    return this.#push(toBytes(data), null);
  }

  /** Resolves when the owner made room in the queue (also when it closed it). */
  async writable(): Promise<void> {
    await this.#ring.waitForSpace(this.#spaceSeq);
  }

  /** Owner only: throws WrongThreadError. */
  recvBatch(): never {
    return this.#ownerOnly('recvBatch()');
  }

  /** Owner only: throws WrongThreadError. */
  bind(): never {
    return this.#ownerOnly('bind()');
  }

  /** Owner only: throws WrongThreadError. */
  connect(): never {
    return this.#ownerOnly('connect()');
  }

  /** Owner only: throws WrongThreadError. */
  close(): never {
    return this.#ownerOnly('close()');
  }

  /** Owner only: throws WrongThreadError. */
  address(): never {
    return this.#ownerOnly('address()');
  }

  /** Owner only (events are the owner's): throws WrongThreadError. */
  on(): never {
    return this.#ownerOnly('receiving events (on())');
  }

  /** Owner only: throws WrongThreadError. */
  read(): never {
    return this.#ownerOnly('read()');
  }

  #push(data: Uint8Array, to: { address: string; port: number } | null): boolean {
    this.#spaceSeq = this.#ring.spaceSeq; // before: room made after this wakes writable()
    const r = this.#ring.push(data, to);
    if (r === 'closed') throw new ClosedError('the socket was closed by its owning thread');
    return r === 'ok';
  }

  #ownerOnly(what: string): never {
    throw new WrongThreadError(
      `${what} runs on the socket's owning thread (thread ${this.owner}, this is thread ${threadId}); other threads may only send (send()/write())`,
    );
  }
}

/** The sending side of a socket owned by another thread (see shareSend()). */
export function attachSocket(handle: SendQueueHandle): RemoteSocket {
  return new RemoteSocket(handle);
}
