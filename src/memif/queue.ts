/**
 * MemifQueue: one memif queue pair (rx queue q and tx queue q), the data path of the library.
 *
 * In the interface's own thread:  const q = iface.queue(0);
 * In a worker_thread:             main: worker.postMessage(iface.transferQueue(1));
 *                                 worker: const q = attachQueue(handle);
 * Either way: q.on('rx', () => { const n = q.rx(batch); ...; q.refill(batch); }), and
 * alloc/tx to transmit in place, swap to forward without copying (slave), send to copy.
 * Events: 'rx' (packets may be waiting; by default again while some are: see RxTrigger),
 * 'drain' (room in the tx ring after a call came up short: room-watch.ts), 'connect',
 * 'disconnect' (reason), 'close'.
 *
 * What burst calls throw (rx, refill, alloc, tx, swap, send) -- the one rule:
 *  - The link is down: NotConnectedError (code ERR_NMEMIF_NOT_CONNECTED) with `reason` saying
 *    why, the peer's DISCONNECT string or ours. That includes the call that finds the peer
 *    breaking the protocol (a counter out of range, a descriptor outside its region, a chain
 *    that never ends): the link is taken down at once with that reason (the peer gets it in a
 *    DISCONNECT), `connected` is false and 'disconnect' has been emitted with it before the
 *    call throws, and every later call throws the same NotConnectedError until the link is
 *    back. Nothing a peer sends makes a burst call throw anything else.
 *  - Anything else is a programming error: InvalidArgumentError (bad arguments, buffers not
 *    from the last alloc/swap), ClosedError (the queue or its interface is closed),
 *    InvalidStateError (the queue is lent to another thread).
 * Interfaces created with `errorOnViolation: true` also emit 'error' (a ProtocolError) when
 * the peer's violation takes the link down; by default a violation is a 'disconnect' like any
 * other, with its reason.
 *
 * rx() delivers any legal packet whole: a chain longer than the batch makes the batch grow
 * (once, up to the ring size) and the call retry.
 */
import { EventEmitter } from 'node:events';
import { ERRORS, MAX_RING_SIZE, errnoName } from '../abi';
import { ClosedError, InvalidArgumentError, InvalidStateError, NmemifError, NotConnectedError } from '../errors';
import { native, type NativeMemifQueue } from '../native';
import { EPOLLIN } from '../nstack/constants';
import { defaultEngine, type Engine } from '../nstack/engine';
import { PacketBatch, growBatch } from './batch';
import type { RxTrigger } from './options';
import { createStream, packets, type PacketsOptions, type StreamOptions } from './packet-stream';
import { RoomWatch } from './room-watch';
import { RxRefire } from './rx-scheduler';
import { whenConnected, type WaitOptions } from './waits';

/** Events of a {@link MemifQueue}, as `name: [listener arguments]`. */
export interface QueueEvents {
  /** Packets may be waiting: call rx(). With the 'level' trigger (the default) it fires again
   * at the loop's next turn while the queue still holds packets after the listeners returned. */
  rx: [];
  /** The tx ring has room again after a send(), alloc() or swap() took fewer than asked. */
  drain: [];
  /** The link is up. */
  connect: [];
  /** The link went down; `reason` is the peer's DISCONNECT string or ours. */
  disconnect: [reason: string];
  /** The queue was closed (a worker's close(), or its interface closed). */
  close: [];
}

/** What transferQueue() returns: plain data, safe to postMessage to a worker. */
export interface QueueHandle {
  /** Tells attachQueue() what it was given. */
  readonly kind: 'nmemif-queue';
  /** Names the lease in this process (meaningless anywhere else). */
  readonly key: number;
  /** The queue pair's number. */
  readonly queue: number;
  /** The memif id of its interface. */
  readonly interfaceId: number;
  /** The interface's rxTrigger, which the attached queue follows. */
  readonly rxTrigger: RxTrigger;
}

/** @internal what a queue in the interface's own thread needs from its interface. */
export interface QueueHost {
  readonly id: number;
  readonly lastDisconnectReason: string;
  /** The interface's regions for the current connection. */
  regions(): readonly Uint8Array[];
  /** Delivers link events the native side queued during the last call. */
  flushEvents(): void;
  /** The rx ring's size on the current connection. */
  ringSize(): number;
  /** Set to 1 by rx() when it found packets (adaptive rx mode polls while they come). */
  readonly busy: Uint8Array;
  /** The queue's tx ring has room again ('drain' on the interface). */
  drained(queue: number): void;
  /** Whether the socket keeps the process alive (see MemifSocket.unref()). */
  ref(): boolean;
}

/** Why a queue's calls are refused before they reach the native side. */
const enum Block {
  None = 0,
  Closed = 1,
  InterfaceClosed = 2,
  Lent = 3,
}

const kLink = Symbol('link');
const kRx = Symbol('rx');
const kBlock = Symbol('block');
const kPending = Symbol('pending');

/** @internal the interface reports a link change to its queue. */
export function queueLink(q: MemifQueue, up: boolean, reason: string): void {
  q[kLink](up, reason);
}

/** @internal the interface lent the queue to another thread (or took it back), or closed. */
export function queueBlock(q: MemifQueue, lent: boolean, closed: boolean): void {
  q[kBlock](closed ? Block.InterfaceClosed : lent ? Block.Lent : Block.None);
}

/** @internal the interface reports an 'rx' for the queue. */
export function queueRx(q: MemifQueue): void {
  q[kRx]();
}

/** @internal packets the peer published that rx() has not taken (0 when none or down). */
export function queuePending(q: MemifQueue): number {
  return q[kPending]();
}

/**
 * One queue pair (rx queue and tx queue of the same number) of a {@link MemifInterface}: the
 * data path. From iface.queue(q) in the interface's thread, or attachQueue(handle) in a worker.
 * Events: {@link QueueEvents}.
 */
export class MemifQueue extends EventEmitter<QueueEvents> {
  /** The queue pair's number on its interface. */
  readonly queue: number;
  /** The memif id of its interface. */
  readonly interfaceId: number;
  #nat: NativeMemifQueue | null;
  readonly #host: QueueHost | null;
  #connected = false;
  #block = Block.None;
  /** Region views of the current connection (null: fetch on first use). */
  #regions: readonly Uint8Array[] | null = null;
  // Through a lease (another thread):
  #engine: Engine | null = null;
  #gen = 0;
  #announced = 0;
  #rxFd = -1;
  #eventFd = -1;
  /** Lessee, level trigger: 'rx' again while packets wait. */
  #refire: RxRefire | null = null;
  readonly #room: RoomWatch;

  /** @internal use iface.queue(q), or attachQueue(handle) in a worker. */
  constructor(nat: NativeMemifQueue, queue: number, interfaceId: number, host: QueueHost | null, engine: Engine | null, rxTrigger: RxTrigger = 'level') {
    super();
    this.#nat = nat;
    this.queue = queue;
    this.interfaceId = interfaceId;
    this.#host = host;
    this.#room = new RoomWatch(
      () => this.#peek('txRoom'),
      () => {
        this.#host?.drained(this.queue);
        this.emit('drain');
      },
      () => this.#host?.ref() ?? true,
    );
    if (host === null) {
      if (rxTrigger === 'level') {
        this.#refire = new RxRefire(
          () => (this.#connected ? this.#peek('rxPending') : 0),
          () => this.#emitRx(),
          () => true, // the queue's own fds keep a worker alive anyway
        );
      }
      this.#engine = engine;
      this.#eventFd = nat.eventFd;
      engine!.watch(this.#eventFd, EPOLLIN, () => {
        this.#nat?.ackEvents();
        this.#follow();
      });
      setImmediate(() => this.#follow()); // after the caller has attached its listeners
    }
  }

  /** Up, with no violation found; false from the moment a burst call finds the link down. */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Resolves once the link is up (at once if it is). Rejects with a TimeoutError
   * (ERR_NMEMIF_TIMEOUT) after `timeout` ms, an AbortError (ABORT_ERR) when `signal` aborts, or a
   * ClosedError when the queue closes first.
   */
  whenConnected(options?: WaitOptions): Promise<void> {
    const reason = (): string => (this.#host?.lastDisconnectReason ?? this.#nat?.reason()) || '';
    return whenConnected(this, options, `queue ${this.queue} of interface ${this.interfaceId}`, () => (reason() ? `last reason: ${reason()}` : ''));
  }

  /** Whether the queue (or its interface) was closed. */
  get closed(): boolean {
    return this.#block === Block.Closed || this.#block === Block.InterfaceClosed;
  }

  // ---- data path -----------------------------------------------------------------------------

  /** Receives whole packets into `batch` (growing it for a chain longer than it); returns the
   * number of buffers. They are yours until refill(). */
  rx(batch: PacketBatch): number {
    const nat = this.#ready('rx');
    let n = nat.rxBurst(batch.words, batch.capacity);
    if (n < 0) n = this.#retry(n, 'rx', () => this.#rxGrow(nat, batch));
    batch.count = n;
    if (n > 0) {
      batch.bindRegions(this.#regions ?? this.#loadRegions());
      if (this.#host !== null) this.#host.busy[this.queue] = 1;
    }
    return n;
  }

  /** Hands received buffers back to the peer: a whole batch (batch.count) or a count. */
  refill(what: PacketBatch | number): number {
    const nat = this.#ready('refill');
    const count = typeof what === 'number' ? what : what.count;
    let n = nat.rxRelease(count);
    if (n < 0) n = this.#retry(n, 'refill', () => nat.rxRelease(count));
    if (typeof what !== 'number') what.count = 0;
    return n;
  }

  /** Reserves up to `max` tx buffers; each comes with its capacity as len(). */
  alloc(batch: PacketBatch, max = batch.capacity): number {
    const nat = this.#ready('alloc');
    const m = Math.min(max, batch.capacity);
    let n = nat.txAlloc(batch.words, m);
    if (n < 0) n = this.#retry(n, 'alloc', () => nat.txAlloc(batch.words, m));
    if (n < m) this.#room.full();
    batch.count = n;
    if (n > 0) batch.bindRegions(this.#regions ?? this.#loadRegions());
    return n;
  }

  /** Publishes the first `count` buffers of the last alloc()/swap(); returns buffers sent. */
  tx(batch: PacketBatch, count = batch.count): number {
    const nat = this.#ready('tx');
    const n = nat.txBurst(batch.words, count);
    return n < 0 ? this.#retry(n, 'tx', () => nat.txBurst(batch.words, count)) : n;
  }

  /**
   * Slave only, zero-copy forward: moves the received buffers in `batch` into tx slots by
   * swapping descriptors, no bytes copied. The batch then describes the tx buffers: send them
   * with tx(batch, moved), and refill() the received count as usual. Returns how many buffers
   * were moved (whole packets; fewer if the ring is full). `txQueue`: another tx queue of the
   * same interface (in the interface's own thread only).
   */
  swap(batch: PacketBatch, count = batch.count, txQueue = this.queue): number {
    const nat = this.#ready('swap');
    let n = txQueue === this.queue ? nat.txSwap(batch.words, count) : nat.txSwap(batch.words, count, txQueue);
    if (n < 0) n = this.#retry(n, 'swap', () => nat.txSwap(batch.words, count, txQueue));
    // Room on another tx queue is that queue's to watch.
    if (n < count && txQueue === this.queue) this.#room.full();
    return n;
  }

  /** Copies packets into the tx ring; returns how many were taken (sent, or dropped as too big). */
  send(data: Uint8Array | Uint8Array[]): number {
    const nat = this.#ready('send');
    const pkts = data instanceof Uint8Array ? [data] : data;
    if (!Array.isArray(pkts)) throw new InvalidArgumentError('send() takes a Uint8Array or an array of them');
    for (let k = 0; k < pkts.length; k++) {
      if (!(pkts[k] instanceof Uint8Array)) throw new InvalidArgumentError(`send(): packet ${k} is not a Uint8Array`);
    }
    let done = 0;
    while (done < pkts.length) {
      const chunk = done === 0 && pkts.length <= 256 ? pkts : pkts.slice(done, done + 256);
      let n = nat.txCopy(chunk);
      if (n < 0) n = this.#retry(n, 'send', () => nat.txCopy(chunk));
      done += n;
      if (n < chunk.length) {
        this.#room.full(); // 'drain' when the peer makes room
        break;
      }
    }
    return done;
  }

  /**
   * Async iterator of received packets. Each is a zero-copy view of the shared memory, valid
   * only until the iterator is resumed: its buffer goes back to the peer and is written again
   * once the ring wraps. Keep packets with `copy: true` (each one a Buffer of its own). A chain
   * is always yielded as a copy. Iteration waits across disconnects, ends when the queue closes,
   * and throws an AbortError when `signal` aborts; leaving it early hands every buffer back.
   */
  packets(options?: PacketsOptions): AsyncGenerator<Uint8Array, void, undefined> {
    return packets(this, options);
  }

  /** A Duplex with backpressure in both directions (see packet-stream.ts). */
  createStream(options?: StreamOptions): import('node:stream').Duplex {
    return createStream(this, options);
  }

  /** In a worker: lets the queue go (the owner can reclaim it). In the interface's thread: a
   * no-op for the queue object itself (close the interface instead). */
  close(): void {
    const nat = this.#nat;
    if (nat === null || this.#host !== null) return;
    this.#unwatchRx();
    this.#engine?.unwatch(this.#eventFd);
    this.#refire?.clear();
    this.#room.stop();
    nat.close();
    this.#nat = null;
    this.#block = Block.Closed;
    this.#connected = false;
    this.emit('close');
  }

  /** close(), for `using` (TypeScript 5.2+). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** close(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  // ---- link state ------------------------------------------------------------------------------

  /** @internal see queueLink(). */
  [kLink](up: boolean, reason: string): void {
    this.#regions = null; // a new connection, or none: its memory is another
    if (up === this.#connected) return;
    this.#setConnected(up);
    if (up) {
      this.emit('connect');
    } else {
      this.emit('disconnect', reason);
    }
  }

  /** @internal see queueRx(). */
  [kRx](): void {
    this.emit('rx');
    this.#room.nudge();
  }

  /** @internal see queueBlock(). */
  [kBlock](block: Block): void {
    this.#block = block;
    if (block === Block.InterfaceClosed) {
      this.#setConnected(false);
      this.#room.stop();
    }
  }

  /** @internal see queuePending(). */
  [kPending](): number {
    return this.#peek('rxPending');
  }

  #setConnected(up: boolean): void {
    this.#connected = up;
    this.#room.link(up);
    if (!up) this.#refire?.clear();
  }

  /** A look that takes nothing (rxPending, txRoom): the count, or 0 when there is nothing to
   * look at; a violation it finds takes the link down as a burst's would. */
  #peek(what: 'rxPending' | 'txRoom'): number {
    const nat = this.#nat;
    if (nat === null || this.#block !== Block.None) return 0;
    const n = nat[what]();
    if (n >= 0) return n;
    if (n === ERRORS.EPROTO) this.#down(n);
    return 0;
  }

  /** Lessee: 'rx', then (level trigger) the look whether another is due. */
  #emitRx(): void {
    if (!this.#connected) return;
    this.emit('rx');
    this.#room.nudge();
    this.#refire?.after(this.queue);
  }

  /** Lessee: follows the lease after a link event (maps a new connection, announces it). */
  #follow(): void {
    const nat = this.#nat;
    if (nat === null) return;
    const gen = this.#map(nat);
    if (gen > 0 && gen !== this.#announced) {
      if (this.#connected) {
        this.#setConnected(false);
        this.emit('disconnect', nat.reason() || 'the link went down and came back');
      }
      this.#announced = gen;
      this.#setConnected(true);
      this.emit('connect');
      this.#emitRx(); // look once: packets may be waiting
    } else if (gen <= 0 && this.#connected) {
      this.#setConnected(false);
      this.emit('disconnect', nat.reason());
    }
  }

  /** Lessee: maps the current connection if it is new; the generation, or a negative errno. */
  #map(nat: NativeMemifQueue): number {
    const gen = nat.sync();
    if (gen > 0 && gen !== this.#gen) {
      this.#unwatchRx();
      this.#gen = gen;
      this.#regions = nat.regions().map((ab) => new Uint8Array(ab));
      this.#rxFd = nat.rxFd;
      if (this.#rxFd >= 0) {
        this.#engine!.watch(this.#rxFd, EPOLLIN, () => {
          this.#nat?.ackRx();
          this.#emitRx();
        });
      }
    } else if (gen <= 0) {
      this.#unwatchRx();
      this.#gen = 0;
      this.#regions = null;
    }
    return gen;
  }

  #unwatchRx(): void {
    if (this.#rxFd >= 0) this.#engine?.unwatch(this.#rxFd);
    this.#rxFd = -1;
  }

  // ---- internals ---------------------------------------------------------------------------------

  #ready(what: string): NativeMemifQueue {
    if (this.#block !== Block.None) throw this.#blocked(what);
    return this.#nat!;
  }

  #blocked(what: string): Error {
    if (this.#block === Block.Lent) {
      return new InvalidStateError(`${what}: queue ${this.queue} is owned by another thread; reclaimQueue(${this.queue}) first`);
    }
    if (this.#block === Block.InterfaceClosed) return new ClosedError(`${what}: interface ${this.interfaceId} is closed`);
    return new ClosedError(`${what}: queue ${this.queue} is closed`);
  }

  #loadRegions(): readonly Uint8Array[] {
    // Lessee: mapped by #map() (empty until then); here: the interface's, per connection.
    const r = this.#host !== null ? this.#host.regions() : [];
    this.#regions = r;
    return r;
  }

  /** rx found a chain longer than the batch: grow it to the ring size (no chain is longer). */
  #rxGrow(nat: NativeMemifQueue, batch: PacketBatch): number {
    const ring = this.#host !== null ? this.#host.ringSize() : MAX_RING_SIZE;
    growBatch(batch, Math.max(batch.capacity, Math.min(ring, MAX_RING_SIZE)));
    return nat.rxBurst(batch.words, batch.capacity);
  }

  /**
   * A burst call returned `ret` < 0: follows a new connection or grows the batch and calls
   * again once (`again`), and otherwise throws by the rule in the file comment.
   */
  #retry(ret: number, what: string, again: () => number): number {
    if (ret === ERRORS.ESTALE && this.#nat !== null) {
      // Lessee: a new connection since we last mapped. Map it; announced by the link event.
      this.#map(this.#nat);
      ret = again();
    } else if (ret === ERRORS.ENOBUFS && what === 'rx') {
      ret = again();
    }
    if (ret >= 0) return ret;
    throw this.#error(ret, what);
  }

  #error(ret: number, what: string): Error {
    if (ret === ERRORS.ENOTCONN || ret === ERRORS.EPROTO || ret === ERRORS.ESTALE) {
      const reason = this.#down(ret);
      return new NotConnectedError(`${what}: queue ${this.queue} is not connected${reason ? ` (${reason})` : ''}`, reason);
    }
    if (ret === ERRORS.EINVAL) {
      return new InvalidArgumentError(`${what}: buffers must be the ones the last alloc/swap returned, in order, with lengths within their capacity`);
    }
    if (ret === ERRORS.ERANGE) return new InvalidArgumentError(`${what}: queue ${this.queue} out of range for this connection`);
    if (ret === ERRORS.ENOTSUP) return new InvalidArgumentError(`${what}: only a slave can swap buffers (zero-copy forwarding)`);
    if (ret === ERRORS.ENOBUFS) return new NmemifError(`${what}: a chain longer than the ring (should never happen)`);
    return new NmemifError(`${what} failed: ${errnoName(ret)}`);
  }

  /** The link is down (or a violation was just found): settles the state, returns the reason. */
  #down(ret: number): string {
    const host = this.#host;
    const nat = this.#nat!;
    if (host !== null) {
      // The binding has taken the link down already (on EPROTO): deliver its events now.
      host.flushEvents();
      this.#setConnected(false);
      return ret === ERRORS.EPROTO ? nat.reason() : host.lastDisconnectReason;
    }
    const reason = nat.reason();
    if (this.#connected) {
      this.#setConnected(false);
      this.emit('disconnect', reason);
    }
    return reason;
  }
}

/** Worker side: takes the queue pair described by `handle` (from iface.transferQueue()). */
export function attachQueue(handle: QueueHandle, engine: Engine = defaultEngine()): MemifQueue {
  if (handle?.kind !== 'nmemif-queue' || typeof handle.key !== 'number') {
    throw new InvalidArgumentError('attachQueue() takes the object transferQueue() returned');
  }
  let nat: NativeMemifQueue;
  try {
    nat = new native.MemifQueue(handle.key);
  } catch (err) {
    throw new InvalidStateError(`attachQueue(): ${(err as Error).message}`, { cause: err });
  }
  return new MemifQueue(nat, handle.queue, handle.interfaceId, null, engine, handle.rxTrigger === 'edge' ? 'edge' : 'level');
}

export { PacketBatch };
