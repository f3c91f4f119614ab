/**
 * MemifInterface: one memif interface (either role) on a MemifSocket.
 *
 * Events: 'connect', 'disconnect' (reason: the peer's DISCONNECT string or ours), 'rx' (queue),
 * 'error'. Data path, all zero-copy and batched (one native call per burst):
 *   rx(queue, batch)          fill `batch` with received buffers (views over shared memory)
 *   refill(queue, batch|n)    hand them back to the peer (until then they are yours)
 *   alloc(queue, batch)       reserve tx buffers; write in place, setLen()/setNext()
 *   tx(queue, batch, count)   publish them
 *   swap(rxQ, txQ, batch)     slave only: forward received buffers without copying
 *   send(queue, data)         copy one packet or an array of packets
 *
 * rx modes: 'interrupt' (the peer signals; 'rx' fires), 'polling' (the peer never signals;
 * 'rx' fires on every turn of the event loop, busy-polling), 'adaptive' (interrupt while idle;
 * after an interrupt the queue is polled each turn until it is empty twice in a row, then
 * interrupts are re-enabled and the queue is checked once more so nothing is missed).
 */
import { EventEmitter } from 'eventemitter3';
import { ClosedError, InvalidArgumentError, InvalidStateError, NotConnectedError } from '../errors';
import type { NativeDetails, NativeMemifInterface, NativeMemifSocket, NativeQueueStats, NativeRingDetails } from '../native';
import { native } from '../native';
import { logger } from '../nstack/log';
import { PacketBatch } from './batch';
import { createStream, packets, type PacketsOptions, type StreamOptions } from './packet-stream';
import { burstError } from './native-errors';
import { MODES, type ResolvedInterfaceOptions, type Role, type RxMode } from './options';
import type { QueueHandle } from './worker-queue';
import type { MemifSocket } from './socket';

const log = logger('memif');

/** Events of a {@link MemifInterface}, as `name: [listener arguments]`. */
export interface InterfaceEvents {
  /** The link is up: the handshake completed and the shared memory is mapped. */
  connect: [];
  /** The link went down; `reason` is the peer's DISCONNECT string or ours. A slave reconnects by itself. */
  disconnect: [reason: string];
  /** Packets may be waiting on `queue` (interrupt, or each loop turn while polled): call rx(). */
  rx: [queue: number];
  /** A failure outside any call of yours (e.g. the peer broke the protocol: a {@link ProtocolError}). */
  error: [err: Error];
  /** The interface was closed (by close(), or with its socket). */
  close: [];
}

const EV_CONNECT = 1;
const EV_DISCONNECT = 2;
const EV_RX = 3;
const RX_INTERRUPT = 0;
const RX_POLLING = 1;
/** Adaptive: consecutive empty polls before going back to interrupts. */
const ADAPTIVE_IDLE_POLLS = 2;

/** One ring of {@link InterfaceDetails.rings}. */
export interface QueueDetails extends NativeRingDetails {
  /** The queue's index. */
  queue: number;
  /** Whether it is a receive or a transmit ring. */
  direction: 'rx' | 'tx';
}

/** What {@link MemifInterface.stats} returns. */
export interface InterfaceStats {
  /** Receive queues, by index. */
  rx: NativeQueueStats[];
  /** Transmit queues, by index. */
  tx: NativeQueueStats[];
}

/** What {@link MemifInterface.details} returns. */
export interface InterfaceDetails extends Omit<NativeDetails, 'mode'> {
  /** The {@link Mode} agreed with the peer. */
  mode: string;
  /** Every ring of the current connection (none while the link is down). */
  rings: QueueDetails[];
}

/** @hidden called by the socket when the C library reports a link event. */
export function linkEvent(iface: MemifInterface, kind: number, qid: number, reason: string): void {
  iface[kLinkEvent](kind, qid, reason);
}
const kLinkEvent = Symbol('linkEvent');

/**
 * One memif interface (either role) on a {@link MemifSocket}, from
 * {@link MemifSocket.createInterface}. Its data path is batched and zero-copy: one native call
 * per burst fills a {@link PacketBatch} whose views are the shared memory itself. Events:
 * {@link InterfaceEvents}.
 */
export class MemifInterface extends EventEmitter<InterfaceEvents> {
  /** The socket the interface lives on. */
  readonly socket: MemifSocket;
  /** The options in effect, defaults applied. */
  readonly options: ResolvedInterfaceOptions;
  /** 'master' or 'slave'. */
  readonly role: Role;
  /** The memif interface id. */
  readonly id: number;
  #native: NativeMemifInterface | null;
  readonly #handle: number;
  #onClose: (iface: MemifInterface) => void;
  #regions: Uint8Array[] | null = null;
  #connected = false;
  #lastReason = '';
  #lastAttemptReason = '';
  /** rx queues of the current connection (a master may get fewer than configured). */
  #rxConnected = 0;
  #rxModes: RxMode[];
  /** Queues currently polled on each loop turn (polling mode, or adaptive while busy). */
  #polled = new Set<number>();
  #idle: number[];
  /** rx() returned packets since the last poll tick (adaptive: busy). */
  #busy: boolean[];
  #pollTimer: NodeJS.Immediate | null = null;
  /** Queue pairs handed to worker threads. */
  #transferred = new Set<number>();

  /** @internal use socket.createInterface() */
  constructor(socket: MemifSocket, nsock: NativeMemifSocket, options: ResolvedInterfaceOptions, onClose: (iface: MemifInterface) => void) {
    super();
    this.socket = socket;
    this.options = options;
    this.role = options.role;
    this.id = options.id;
    this.#onClose = onClose;
    this.#rxModes = new Array(options.rxQueues).fill(options.rxMode);
    this.#idle = new Array(options.rxQueues).fill(0);
    this.#busy = new Array(options.rxQueues).fill(false);
    this.#native = new native.MemifInterface(nsock, {
      id: options.id,
      isMaster: options.role === 'master',
      mode: MODES[options.mode],
      name: options.name,
      secret: options.secret,
      rxQueues: options.rxQueues,
      txQueues: options.txQueues,
      log2RingSize: options.log2RingSize,
      bufferSize: options.bufferSize,
      interrupts: true,
    });
    this.#handle = this.#native.handle;
  }

  /** @internal handle of the native object, unique per socket */
  get handle(): number {
    return this.#handle;
  }

  /** Whether the link is up. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Whether the interface was closed. */
  get closed(): boolean {
    return this.#native === null;
  }

  /** Why the link last went down or the last connection attempt failed ('' if neither happened). */
  get lastDisconnectReason(): string {
    return this.#lastReason;
  }

  // ---- data path ---------------------------------------------------------------------------

  /** Receives up to batch.capacity buffers (whole packets) on `queue`; returns the count. */
  rx(queue: number, batch: PacketBatch): number {
    const nat = this.#live('rx', queue, this.options.rxQueues);
    const n = nat.rxBurst(queue, batch.words, batch.capacity);
    if (n < 0) throw this.#burstError(n, 'rx');
    batch.count = n;
    if (n > 0) batch.bindRegions(this.#regionViews(nat));
    if (n > 0) this.#busy[queue] = true;
    return n;
  }

  /** Releases received buffers to the peer: a whole batch (batch.count) or a count. */
  refill(queue: number, what: PacketBatch | number): number {
    const nat = this.#live('refill', queue, this.options.rxQueues);
    const count = typeof what === 'number' ? what : what.count;
    const n = nat.rxRelease(queue, count);
    if (n < 0) throw this.#burstError(n, 'refill');
    if (typeof what !== 'number') what.count = 0;
    return n;
  }

  /** Reserves up to `max` tx buffers; each comes with its capacity as len(). */
  alloc(queue: number, batch: PacketBatch, max = batch.capacity): number {
    const nat = this.#live('alloc', queue, this.options.txQueues);
    const n = nat.txAlloc(queue, batch.words, Math.min(max, batch.capacity));
    if (n < 0) throw this.#burstError(n, 'alloc');
    batch.count = n;
    if (n > 0) batch.bindRegions(this.#regionViews(nat));
    return n;
  }

  /** Publishes the first `count` buffers of the last alloc()/swap(); returns buffers sent. */
  tx(queue: number, batch: PacketBatch, count = batch.count): number {
    const nat = this.#live('tx', queue, this.options.txQueues);
    const n = nat.txBurst(queue, batch.words, count);
    if (n < 0) throw this.#burstError(n, 'tx');
    return n;
  }

  /**
   * Slave only, zero-copy forward: moves the received buffers in `batch` (from rx on rxQueue)
   * into tx slots of txQueue by swapping descriptors, no bytes copied. The batch then
   * describes the tx buffers: send them with tx(txQueue, batch, moved), and refill(rxQueue, n)
   * as usual. Returns how many buffers were moved (whole packets; fewer if the ring is full).
   */
  swap(rxQueue: number, txQueue: number, batch: PacketBatch, count = batch.count): number {
    const nat = this.#live('swap', rxQueue, this.options.rxQueues);
    this.#live('swap', txQueue, this.options.txQueues);
    const n = nat.txSwap(rxQueue, txQueue, batch.words, count);
    if (n < 0) throw this.#burstError(n, 'swap');
    return n;
  }

  /** Copies packets into the tx ring; returns how many were taken (sent, or dropped as too big). */
  send(queue: number, data: Uint8Array | Uint8Array[]): number {
    const nat = this.#live('send', queue, this.options.txQueues);
    const pkts = data instanceof Uint8Array ? [data] : data;
    if (!Array.isArray(pkts)) throw new InvalidArgumentError('send() takes a Uint8Array or an array of them');
    for (let k = 0; k < pkts.length; k++) {
      if (!(pkts[k] instanceof Uint8Array)) throw new InvalidArgumentError(`send(): packet ${k} is not a Uint8Array`);
    }
    let done = 0;
    while (done < pkts.length) {
      const chunk = done === 0 && pkts.length <= 256 ? pkts : pkts.slice(done, done + 256);
      const n = nat.txCopy(queue, chunk);
      if (n < 0) throw this.#burstError(n, 'send');
      done += n;
      if (n < chunk.length) break; // ring full
    }
    return done;
  }

  /** Async iterator of received packets on `queue` (see packet-stream.ts for view lifetimes). */
  packets(queue = 0, options?: PacketsOptions): AsyncGenerator<Uint8Array, void, undefined> {
    return packets(this, queue, options);
  }

  /** A Duplex over `queue` with backpressure in both directions (see packet-stream.ts). */
  createStream(queue = 0, options?: StreamOptions): import('node:stream').Duplex {
    return createStream(this, queue, options);
  }

  /**
   * Hands queue pair `queue` (rx and tx) to another thread: post the returned handle to a
   * worker, which calls attachQueue(handle). Until reclaimQueue(), only that worker may burst
   * on it, and 'rx' events for it are the worker's (see worker-queue.ts).
   */
  transferQueue(queue: number): QueueHandle {
    const nat = this.#live('transferQueue', queue);
    if (!Number.isInteger(queue) || queue < 0 || queue >= Math.min(this.options.rxQueues, this.options.txQueues)) {
      throw new InvalidArgumentError(`queue must be an integer from 0 to ${Math.min(this.options.rxQueues, this.options.txQueues) - 1}`);
    }
    const id = nat.shareQueue(queue);
    this.#transferred.add(queue);
    this.#polled.delete(queue);
    return { kind: 'nmemif-queue', id, queue, interfaceId: this.id };
  }

  /** Takes a transferred queue back; the worker's calls fail from now on. */
  reclaimQueue(queue: number): void {
    if (!this.#transferred.has(queue)) return;
    this.#live('reclaimQueue').unshareQueue(queue);
    this.#transferred.delete(queue);
    if (this.#connected) this.#applyRxMode(queue);
  }

  // ---- control -----------------------------------------------------------------------------

  /** Changes a queue's rx mode at run time (kept across reconnects). */
  setRxMode(queue: number, mode: RxMode): void {
    if (!Number.isInteger(queue) || queue < 0 || queue >= this.options.rxQueues) {
      throw new InvalidArgumentError(`queue must be an integer from 0 to ${this.options.rxQueues - 1}, got ${queue}`);
    }
    if (mode !== 'interrupt' && mode !== 'polling' && mode !== 'adaptive') {
      throw new InvalidArgumentError(`rx mode must be "interrupt", "polling" or "adaptive", got ${JSON.stringify(mode)}`);
    }
    this.#rxModes[queue] = mode;
    if (this.#connected) this.#applyRxMode(queue);
  }

  /** The rx mode of `queue`. */
  rxMode(queue: number): RxMode {
    return this.#rxModes[queue];
  }

  /** Interface and ring details (sizes, head/tail, regions, peer names). */
  details(): InterfaceDetails {
    const nat = this.#live('details');
    const d = nat.details();
    const rings: QueueDetails[] = [];
    if (d.connected) {
      for (const [dir, count] of [['rx', d.rxQueues], ['tx', d.txQueues]] as const) {
        for (let q = 0; q < count; q++) rings.push({ queue: q, direction: dir, ...nat.ringDetails(dir === 'tx', q) });
      }
    }
    const mode = Object.keys(MODES).find((k) => MODES[k as keyof typeof MODES] === d.mode) ?? String(d.mode);
    return { ...d, mode, rings };
  }

  /** Per-queue counters (packets, bytes, drops by reason, interrupts), one entry per queue. */
  stats(): InterfaceStats {
    return this.#live('stats').stats();
  }

  /** Takes the link down with a DISCONNECT carrying `reason`; a slave reconnects afterwards. */
  disconnect(reason = 'disconnected by application'): void {
    const nat = this.#live('disconnect');
    nat.disconnect(reason);
    this.socket.flushEvents();
  }

  /** Closes the interface (the peer gets DISCONNECT "interface deleted"). */
  close(): void {
    const nat = this.#native;
    if (nat === null) return;
    nat.destroy();
    this.socket.flushEvents(); // delivers our own 'disconnect' while we are still registered
    this.orphan();
  }

  /** @internal the C object is gone (closed, or its socket was closed). */
  orphan(): void {
    if (this.#native === null) return;
    this.#native = null;
    this.#regions = null;
    this.#connected = false;
    this.#stopPolling();
    this.#onClose(this);
    this.emit('close');
  }

  // ---- internals -----------------------------------------------------------------------------

  /** @internal link events from the socket (see linkEvent()). */
  [kLinkEvent](kind: number, qid: number, reason: string): void {
    if (kind === EV_CONNECT) {
      this.#connected = true;
      this.#regions = null;
      this.#rxConnected = this.#native?.details().rxQueues ?? 0;
      for (let q = 0; q < this.options.rxQueues; q++) this.#applyRxMode(q);
      log.info('interface %d (%s) on %s: link up', this.id, this.role, this.socket.path);
      this.emit('connect');
    } else if (kind === EV_DISCONNECT) {
      const was = this.#connected;
      this.#connected = false;
      this.#regions = null;
      this.#lastReason = reason;
      this.#stopPolling();
      if (was) {
        log.info('interface %d (%s) on %s: link down: %s', this.id, this.role, this.socket.path, reason);
        this.emit('disconnect', reason);
      } else if (reason !== this.#lastAttemptReason) {
        // A refused attempt (a slave retries with backoff): say why once, not on every retry.
        log.warn('interface %d (%s) on %s: connection attempt failed: %s', this.id, this.role, this.socket.path, reason);
      }
      this.#lastAttemptReason = was ? '' : reason;
    } else if (kind === EV_RX) {
      if (this.#transferred.has(qid)) return;
      if (this.#rxModes[qid] === 'adaptive' && !this.#polled.has(qid)) this.#startPolling(qid);
      this.emit('rx', qid);
    }
  }

  #applyRxMode(queue: number): void {
    const nat = this.#native;
    if (nat === null || queue >= this.#rxConnected) return;
    const mode = this.#rxModes[queue];
    if (this.#transferred.has(queue)) {
      // The worker waits on the eventfd itself; the peer must keep signalling it.
      nat.setRxMode(queue, RX_INTERRUPT);
      return;
    }
    if (mode === 'polling') {
      nat.setRxMode(queue, RX_POLLING);
      this.#startPolling(queue);
    } else {
      this.#polled.delete(queue);
      nat.setRxMode(queue, RX_INTERRUPT);
      // Packets may have arrived while masked: look once.
      this.#emitSoon(queue);
    }
  }

  #startPolling(queue: number): void {
    const nat = this.#native;
    if (nat === null) return;
    if (this.#rxModes[queue] === 'adaptive') nat.setRxMode(queue, RX_POLLING);
    this.#polled.add(queue);
    this.#idle[queue] = 0;
    this.#schedulePoll();
  }

  #schedulePoll(): void {
    if (this.#pollTimer === null && this.#polled.size > 0) this.#pollTimer = setImmediate(() => this.#pollTick());
  }

  #pollTick(): void {
    this.#pollTimer = null;
    if (!this.#connected) return;
    for (const q of this.#polled) {
      this.#idle[q] = this.#busy[q] ? 0 : this.#idle[q] + 1;
      this.#busy[q] = false;
      if (this.#rxModes[q] === 'adaptive' && this.#idle[q] >= ADAPTIVE_IDLE_POLLS) {
        this.#polled.delete(q);
        this.#native?.setRxMode(q, RX_INTERRUPT);
        this.emit('rx', q); // the re-check after unmasking
        continue;
      }
      this.emit('rx', q);
    }
    this.#schedulePoll();
  }

  #emitSoon(queue: number): void {
    setImmediate(() => {
      if (this.#connected) this.emit('rx', queue);
    });
  }

  #stopPolling(): void {
    this.#polled.clear();
    if (this.#pollTimer !== null) clearImmediate(this.#pollTimer);
    this.#pollTimer = null;
  }

  #regionViews(nat: NativeMemifInterface): Uint8Array[] {
    if (this.#regions === null) this.#regions = nat.regions().map((ab) => new Uint8Array(ab));
    return this.#regions;
  }

  #live(what: string, queue = -1, count = 0): NativeMemifInterface {
    if (this.#native === null) throw new ClosedError(`${what}: interface ${this.id} is closed`);
    if (count > 0 && !(Number.isInteger(queue) && queue >= 0 && queue < count)) {
      throw new InvalidArgumentError(`${what}: queue must be an integer from 0 to ${count - 1}, got ${String(queue)}`);
    }
    if (this.#transferred.has(queue)) throw this.#ownedError(what, queue);
    return this.#native;
  }

  #ownedError(what: string, queue: number): Error {
    return new InvalidStateError(`${what}: queue ${queue} is owned by a worker thread; reclaimQueue(${queue}) first`);
  }

  #burstError(ret: number, what: string): Error {
    if (ret === -71) this.socket.flushEvents();
    return burstError(ret, what, this.#lastReason);
  }
}

export { PacketBatch, NotConnectedError };
