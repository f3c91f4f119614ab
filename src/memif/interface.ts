/**
 * MemifInterface: one memif interface (either role) on a MemifSocket: its configuration, link
 * events, rx-mode scheduling (rx-scheduler.ts) and the lending of its queue pairs to other
 * threads. The data path is MemifQueue's (queue.ts): iface.queue(q) in this thread.
 *
 * Events (InterfaceEvents): 'connect', 'disconnect' (reason), 'connectionError' (an attempt
 * failed: why), 'rx' (queue), 'drain' (queue), 'close', and 'error' (a ProtocolError) only with
 * the errorOnViolation option. The burst calls below are one-line shortcuts to iface.queue(q)
 * and follow MemifQueue's rule for what they throw:
 *   rx(queue, batch)          fill `batch` with received buffers (views over shared memory)
 *   refill(queue, batch|n)    hand them back to the peer (until then they are yours)
 *   alloc(queue, batch)       reserve tx buffers; write in place, setLen()/setNext()
 *   tx(queue, batch, count)   publish them
 *   swap(rxQ, txQ, batch)     slave only: forward received buffers without copying
 *   send(queue, data)         copy one packet or an array of packets
 */
import { EventEmitter } from 'node:events';
import { getSystemErrorName } from 'node:util';
import { DOWN_CAUSES, EVENTS, RX_MODES } from '../abi';
import { ClosedError, HandshakeError, InvalidArgumentError, InvalidStateError, NotConnectedError, ProtocolError, StackError } from '../errors';
import type { NativeDetails, NativeMemifInterface, NativeMemifLease, NativeMemifSocket, NativeQueueStats, NativeRingDetails } from '../native';
import { native } from '../native';
import { logger } from '../nstack/log';
import { PacketBatch } from './batch';
import type { PacketsOptions, StreamOptions } from './packet-stream';
import { MODES, type InterfaceOptions, type ResolvedInterfaceOptions, type Role, type RxMode, type RxTrigger } from './options';
import { MemifQueue, queueBlock, queueLink, queuePending, queueRx, type QueueHandle, type QueueHost } from './queue';
import { RxScheduler } from './rx-scheduler';
import { whenConnected, type WaitOptions } from './waits';

const log = logger('memif');

/** Events of a {@link MemifInterface}, as `name: [listener arguments]`. */
export interface InterfaceEvents {
  /** The link is up: the handshake completed and the shared memory is mapped. */
  connect: [];
  /** The link went down; `reason` is the peer's DISCONNECT string or ours. A slave reconnects by itself. */
  disconnect: [reason: string];
  /**
   * A connection attempt failed; the interface keeps trying (a slave retries with backoff, a
   * master keeps listening). `err` says why: a {@link StackError} when a slave cannot reach its
   * socket (`code` the errno name: 'ENOENT' no socket file, 'ECONNREFUSED' nobody listening,
   * 'EACCES'; `errno`, `syscall` 'connect', `address` the path), or a {@link HandshakeError}
   * when the handshake failed (the peer refused: 'incorrect secret'; a timeout). Emitted on every
   * failed attempt; `lastDisconnectReason` holds the last one's message.
   */
  connectionError: [err: StackError | HandshakeError];
  /**
   * Packets may be waiting on `queue` (the peer's interrupt, or each loop turn while polled):
   * call rx(). With the 'level' {@link RxTrigger} (the default) it fires again at the loop's next
   * turn while the queue still holds packets after the listeners returned.
   */
  rx: [queue: number];
  /** Queue `queue`'s tx ring has room again after a send(), alloc() or swap() took fewer than asked. */
  drain: [queue: number];
  /** Only with errorOnViolation: the peer broke the protocol (a {@link ProtocolError}), after 'disconnect'. */
  error: [err: Error];
  /** The interface was closed (by close(), or with its socket). */
  close: [];
}

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

/** The socket an interface lives on, as the interface sees it (MemifSocket). */
export interface InterfaceSocket {
  /** The socket's path ('@name' when abstract). */
  readonly path: string;
  /** Whether the socket was closed. */
  readonly closed: boolean;
  /** The interfaces currently on the socket. */
  readonly interfaces: MemifInterface[];
  /** Creates another interface on the socket. */
  createInterface(options?: InterfaceOptions): MemifInterface;
  /** Closes the socket and every interface on it. */
  close(): void;
  /** Whether the socket keeps the process alive (see MemifSocket.unref()). */
  hasRef(): boolean;
  /** @internal delivers link events the native side queued during an interface call. */
  flushEvents(): void;
}

/** @internal called by the socket when the C library reports a link event. */
export function linkEvent(iface: MemifInterface, kind: number, qid: number, reason: string, cause: number): void {
  iface[kLinkEvent](kind, qid, reason, cause);
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
  readonly socket: InterfaceSocket;
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
  /** The last failed connection attempt, for whenConnected()'s TimeoutError. */
  #lastAttemptError: Error | undefined;
  /** rx queues and ring size of the current connection (a master may get fewer queues). */
  #rxConnected = 0;
  #ringSize = 0;
  #rx: RxScheduler;
  #queues: (MemifQueue | undefined)[];
  /** Queue pairs lent to other threads, by queue; those lent to worker_threads. */
  #leases = new Map<number, NativeMemifLease>();
  #transferred = new Set<number>();
  readonly #host: QueueHost;

  /** @internal use socket.createInterface() */
  constructor(socket: InterfaceSocket, nsock: NativeMemifSocket, options: ResolvedInterfaceOptions, onClose: (iface: MemifInterface) => void) {
    super();
    this.socket = socket;
    this.options = options;
    this.role = options.role;
    this.id = options.id;
    this.#onClose = onClose;
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
    this.#queues = new Array(Math.max(options.rxQueues, options.txQueues)).fill(undefined);
    this.#rx = new RxScheduler(options.rxQueues, options.rxMode, options.rxTrigger, {
      active: () => this.#connected,
      connectedQueues: () => this.#rxConnected,
      lent: (q) => this.#leases.has(q),
      pending: (q) => queuePending(this.#queues[q] ?? this.#queue('rx', q, this.options.rxQueues)),
      ref: () => this.socket.hasRef(),
      mask: (q, polling) => this.#native?.setRxMode(q, polling ? RX_MODES.POLLING : RX_MODES.INTERRUPT),
      emitRx: (q) => this.#emitRx(q),
    });
    const self = this;
    this.#host = {
      id: this.id,
      get lastDisconnectReason() {
        return self.#lastReason;
      },
      regions: () => this.#regionViews(),
      flushEvents: () => this.socket.flushEvents(),
      ringSize: () => this.#ringSize,
      busy: this.#rx.busy,
      drained: (q) => this.emit('drain', q),
      ref: () => this.socket.hasRef(),
    };
  }

  /** @internal handle of the native object, unique per socket */
  get handle(): number {
    return this.#handle;
  }

  /** Up, and no burst call has found the peer breaking the protocol since. */
  get connected(): boolean {
    return this.#connected && this.#native !== null && this.#native.connected;
  }

  /** Whether the interface was closed. */
  get closed(): boolean {
    return this.#native === null;
  }

  /** Why the link last went down or the last connection attempt failed ('' if neither happened),
   * e.g. 'connect ENOENT /run/vpp/memif.sock' for a slave whose peer is not listening yet. */
  get lastDisconnectReason(): string {
    return this.#lastReason;
  }

  /**
   * Resolves once the link is up (at once if it is): `await iface.whenConnected({ timeout: 5000 })`.
   * Rejects with a TimeoutError (ERR_NMEMIF_TIMEOUT, its message with the last reason the link
   * is not up and its `cause` the last connection error) after `timeout` ms, an AbortError
   * (ABORT_ERR) when `signal` aborts, or a ClosedError when the interface closes first.
   */
  whenConnected(options?: WaitOptions): Promise<void> {
    return whenConnected(
      this,
      options,
      `interface ${this.id} (${this.role}) on ${this.socket.path}`,
      () => (this.#lastReason ? `last: ${this.#lastReason}` : this.role === 'master' ? 'no slave connected' : 'no attempt finished yet'),
      () => this.#lastAttemptError,
    );
  }

  // ---- data path -------------------------------------------------------------------------------

  /** Queue pair `queue` (rx queue and tx queue), for this thread's bursts and events. */
  queue(queue: number): MemifQueue {
    return this.#queue('queue', queue, Math.min(this.options.rxQueues, this.options.txQueues));
  }

  /** {@link MemifQueue.rx} on queue pair `queue`. */
  rx(queue: number, batch: PacketBatch): number {
    return (this.#queues[queue] ?? this.#queue('rx', queue, this.options.rxQueues)).rx(batch);
  }

  /** {@link MemifQueue.refill} on queue pair `queue`. */
  refill(queue: number, what: PacketBatch | number): number {
    return (this.#queues[queue] ?? this.#queue('refill', queue, this.options.rxQueues)).refill(what);
  }

  /** {@link MemifQueue.alloc} on queue pair `queue`. */
  alloc(queue: number, batch: PacketBatch, max = batch.capacity): number {
    return (this.#queues[queue] ?? this.#queue('alloc', queue, this.options.txQueues)).alloc(batch, max);
  }

  /** {@link MemifQueue.tx} on queue pair `queue`. */
  tx(queue: number, batch: PacketBatch, count = batch.count): number {
    return (this.#queues[queue] ?? this.#queue('tx', queue, this.options.txQueues)).tx(batch, count);
  }

  /** {@link MemifQueue.swap} from rx queue `rxQueue` into tx queue `txQueue` (slave only). */
  swap(rxQueue: number, txQueue: number, batch: PacketBatch, count = batch.count): number {
    if (txQueue !== rxQueue) this.#queue('swap', txQueue, this.options.txQueues);
    return (this.#queues[rxQueue] ?? this.#queue('swap', rxQueue, this.options.rxQueues)).swap(batch, count, txQueue);
  }

  /** {@link MemifQueue.send} on queue pair `queue`. */
  send(queue: number, data: Uint8Array | Uint8Array[]): number {
    return (this.#queues[queue] ?? this.#queue('send', queue, this.options.txQueues)).send(data);
  }

  /** {@link MemifQueue.packets} on queue pair `queue`: received packets as zero-copy views valid
   * until the iterator is resumed, or copies with `copy: true`; `signal` stops it. */
  packets(queue = 0, options?: PacketsOptions): AsyncGenerator<Uint8Array, void, undefined> {
    return this.queue(queue).packets(options);
  }

  /** A Duplex over `queue` with backpressure in both directions (see packet-stream.ts). */
  createStream(queue = 0, options?: StreamOptions): import('node:stream').Duplex {
    return this.queue(queue).createStream(options);
  }

  // ---- lending queues to other threads ---------------------------------------------------------

  /**
   * Hands queue pair `queue` (rx and tx) to another thread: post the returned handle to a
   * worker, which calls attachQueue(handle). Until reclaimQueue(), only that thread bursts on
   * it (this thread's calls on it throw InvalidStateError) and 'rx' for it is the worker's; the
   * peer signals the worker directly, and link changes wake it through libmemif's lease.
   */
  transferQueue(queue: number): QueueHandle {
    const lent = this.#leases.get(queue);
    // Again for a queue already transferred: the same handle (e.g. for a worker started anew).
    const lease = lent !== undefined && this.#transferred.has(queue) ? lent : this.leaseQueue(queue, 'interrupt');
    this.#transferred.add(queue);
    return { kind: 'nmemif-queue', key: lease.handoff(), queue, interfaceId: this.id, rxTrigger: this.options.rxTrigger };
  }

  /**
   * @internal Lends queue pair `queue` to a native consumer (the bridge's ports): the lease a
   * HalPort takes directly. rxMode: how the lessee receives ('polling': it polls and arms
   * interrupts itself to sleep).
   */
  leaseQueue(queue: number, rxMode: 'interrupt' | 'polling'): NativeMemifLease {
    const nat = this.#live('transferQueue');
    const pairs = Math.min(this.options.rxQueues, this.options.txQueues);
    if (!Number.isInteger(queue) || queue < 0 || queue >= pairs) {
      throw new InvalidArgumentError(`queue must be an integer from 0 to ${pairs - 1}, got ${String(queue)}`);
    }
    if (this.#leases.has(queue)) throw new InvalidStateError(`queue ${queue} is already lent; reclaimQueue(${queue}) first`);
    const lease = new native.MemifLease(nat, queue, rxMode === 'polling' ? RX_MODES.POLLING : RX_MODES.INTERRUPT);
    this.#leases.set(queue, lease);
    this.#rx.release(queue);
    const q = this.#queues[queue];
    if (q !== undefined) queueBlock(q, true, false);
    return lease;
  }

  /** Takes a lent queue back; the other thread's calls fail from now on. */
  reclaimQueue(queue: number): void {
    const lease = this.#leases.get(queue);
    if (lease === undefined) return;
    this.#live('reclaimQueue');
    lease.end();
    this.#leases.delete(queue);
    this.#transferred.delete(queue);
    const q = this.#queues[queue];
    if (q !== undefined) queueBlock(q, false, false);
    if (this.#connected) this.#rx.apply(queue);
  }

  // ---- control ------------------------------------------------------------------------------

  /** Changes a queue's rx mode at run time (kept across reconnects). */
  setRxMode(queue: number, mode: RxMode): void {
    if (!Number.isInteger(queue) || queue < 0 || queue >= this.options.rxQueues) {
      throw new InvalidArgumentError(`queue must be an integer from 0 to ${this.options.rxQueues - 1}, got ${queue}`);
    }
    if (mode !== 'interrupt' && mode !== 'polling' && mode !== 'adaptive') {
      throw new InvalidArgumentError(`rx mode must be "interrupt", "polling" or "adaptive", got ${JSON.stringify(mode)}`);
    }
    this.#rx.setMode(queue, mode);
  }

  /** The rx mode of `queue`. */
  rxMode(queue: number): RxMode {
    return this.#rx.mode(queue);
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

  /** close(), for `using` (TypeScript 5.2+). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** close(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** @internal the C object is gone (closed, or its socket was closed). */
  orphan(): void {
    if (this.#native === null) return;
    this.#native = null;
    this.#regions = null;
    this.#connected = false;
    this.#rx.stop();
    for (const lease of this.#leases.values()) lease.end(); // libmemif ended them: drop our references
    this.#leases.clear();
    this.#transferred.clear();
    this.#onClose(this);
    for (const q of this.#queues) {
      if (q === undefined) continue;
      queueBlock(q, false, true);
      q.emit('close');
    }
    this.emit('close');
  }

  // ---- internals -------------------------------------------------------------------------------

  /** @internal link events from the socket (see linkEvent()). */
  [kLinkEvent](kind: number, qid: number, reason: string, cause: number): void {
    if (kind === EVENTS.CONNECT) {
      this.#connected = true;
      this.#regions = null;
      const d = this.#native?.details();
      this.#rxConnected = d?.rxQueues ?? 0;
      this.#ringSize = 2 ** (d?.log2RingSize ?? 0);
      this.#lastAttemptReason = '';
      this.#rx.applyAll();
      log.info('interface %d (%s) on %s: link up', this.id, this.role, this.socket.path);
      this.emit('connect');
      for (const q of this.#queues) if (q !== undefined) queueLink(q, true, '');
    } else if (kind === EVENTS.DISCONNECT) {
      const was = this.#connected;
      this.#connected = false;
      this.#regions = null;
      this.#lastReason = reason;
      this.#rx.stop();
      if (was) {
        log.info('interface %d (%s) on %s: link down: %s', this.id, this.role, this.socket.path, reason);
        this.emit('disconnect', reason);
        for (const q of this.#queues) if (q !== undefined) queueLink(q, false, reason);
        if (cause === DOWN_CAUSES.VIOLATION && this.options.errorOnViolation) {
          const err = new ProtocolError(`interface ${this.id} (${this.role}): the peer broke the memif protocol: ${reason}`, reason);
          // Only to listeners: an unhandled 'error' would end the process, and a peer must not be able to.
          if (this.listenerCount('error') > 0) this.emit('error', err);
          else log.error('%s (no "error" listener)', err.message);
        }
      } else {
        // A refused attempt (a slave retries with backoff).
        const err = new HandshakeError(`interface ${this.id} (${this.role}) on ${this.socket.path}: connection attempt failed: ${reason}`, reason);
        this.#attemptFailed(err, reason, 'warn');
      }
    } else if (kind === EVENTS.RX) {
      if (!this.#leases.has(qid)) this.#rx.interrupt(qid);
    } else if (kind === EVENTS.CONNECT_ERROR) {
      // cause: the errno of the slave's connect(); the library retries after the backoff.
      const err = new StackError(getSystemErrorName(-cause), 'connect', { address: this.socket.path });
      this.#lastReason = err.message;
      this.#attemptFailed(err, err.message, 'info');
    }
  }

  /** A connection attempt failed: 'connectionError', and one log line per distinct reason. */
  #attemptFailed(err: StackError | HandshakeError, reason: string, level: 'warn' | 'info'): void {
    this.#lastAttemptError = err;
    if (reason !== this.#lastAttemptReason) log[level]('interface %d (%s) on %s: connection attempt failed: %s', this.id, this.role, this.socket.path, reason);
    this.#lastAttemptReason = reason;
    this.emit('connectionError', err);
  }

  #emitRx(queue: number): void {
    this.emit('rx', queue);
    const q = this.#queues[queue];
    if (q !== undefined) queueRx(q);
  }

  #regionViews(): Uint8Array[] {
    if (this.#regions === null) this.#regions = this.#native?.regions().map((ab) => new Uint8Array(ab)) ?? [];
    return this.#regions;
  }

  /** The queue object (created on first use), after the checks of a call on it. */
  #queue(what: string, queue: number, count: number): MemifQueue {
    const nat = this.#live(what);
    const q = this.#queues[queue];
    if (q !== undefined) return q;
    if (!(Number.isInteger(queue) && queue >= 0 && queue < count)) {
      throw new InvalidArgumentError(`${what}: queue must be an integer from 0 to ${count - 1}, got ${String(queue)}`);
    }
    const created = new MemifQueue(new native.MemifQueue(nat, queue), queue, this.id, this.#host, null);
    if (this.#connected) queueLink(created, true, '');
    if (this.#leases.has(queue)) queueBlock(created, true, false);
    this.#queues[queue] = created;
    return created;
  }

  #live(what: string): NativeMemifInterface {
    if (this.#native === null) throw new ClosedError(`${what}: interface ${this.id} is closed`);
    return this.#native;
  }
}

export { PacketBatch, NotConnectedError };
