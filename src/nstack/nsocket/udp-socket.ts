/**
 * A UDP nSocket with node:dgram's surface, over the stack nRD chooses when it is bound,
 * connected or first sends (DMM chooses at bind/connect/sendto; the socket then stays there).
 *
 *   const sock = createSocket('udp4');
 *   sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
 *   sock.bind(7, '10.0.0.1');
 *
 * Differences from dgram, all additions:
 * - recvBatch(list) fills a reusable DatagramList (no allocation per datagram). Datagrams are
 *   read by themselves only while someone listens to 'message'; otherwise they wait for
 *   recvBatch(), typically from an EventPoll loop.
 * - The socket is an EventPoll member (a virtual source): ep.add(sock, EPOLLIN | EPOLLET, data).
 *   Once closed (by close() or because its stack was recycled) it reports EPOLLHUP: del() it.
 * - send() copies what it has to keep: the data may be reused as soon as it returns.
 * - shareSend() lets other threads send through a multi-producer queue this thread drains.
 * - route / stackName tell which plane and stack carry it.
 * Errors: ClosedError after close(), InvalidStateError for calls in the wrong state,
 * InvalidArgumentError for bad arguments, StackError (Node-style, `code` = errno name) for what
 * the stack reports, emitted as 'error' or passed to the send callback as dgram does.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { ClosedError, InvalidArgumentError, InvalidStateError, StackError } from '../../errors';
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT } from '../constants';
import { createDatagramList } from '../datagram-list';
import { Fifo } from '../fifo';
import type { DatagramList, Family, SockAddr, SockOpt } from '../stack';
import type { VirtualSource } from '../virtual-source';
import { addressInfo, anyAddress, checkPort, familyName, loopbackAddress, resolveHost, type AddressInfo, type RemoteInfo } from './address';
import { defineSocketMember, kAlive, kBinding, kWatchers, openBinding, StackBinding, untrack, Watchers, type SocketMember } from './binding';
import { LoopRef } from './keep-alive';
import { toBytes, type MessageData } from './message';
import type { RingRecord } from './send-ring';
import { DEFAULT_QUEUE_BYTES, SharedSend, type SendQueueHandle } from './shared-send';

/** dgram's socket types: IPv4 or IPv6 UDP. */
export type UdpType = 'udp4' | 'udp6';

/** Options of {@link createSocket}, as node:dgram's createSocket() takes them. */
export interface UdpSocketOptions {
  /** 'udp4' or 'udp6'. */
  type: UdpType;
  /** SO_REUSEADDR when bound (default false). */
  reuseAddr?: boolean;
  /** SO_RCVBUF, bytes, set when the stack socket opens. */
  recvBufferSize?: number;
  /** SO_SNDBUF, bytes, set when the stack socket opens. */
  sendBufferSize?: number;
  /** Use this stack (by name) instead of asking nRD. */
  stack?: string;
}

/** bind()'s options object, as node:dgram takes it. */
export interface BindOptions {
  /** Local port (default 0: the stack picks one). */
  port?: number;
  /** Local address or host name (default: any address of the family). */
  address?: string;
  /** Accepted for dgram compatibility; sockets are never shared with a cluster here. */
  exclusive?: boolean;
}

/** Called once a datagram was handed to the stack (bytes sent) or failed (a StackError). */
export type SendCallback = (error: Error | null, bytes: number) => void;

/** Events of a {@link UdpSocket}, as `name: [listener arguments]` (dgram's). */
export interface UdpSocketEvents {
  /** A datagram arrived (read only while someone listens to this event). */
  message: [msg: Buffer, rinfo: RemoteInfo];
  /** The socket is bound. */
  listening: [];
  /** connect() completed: the socket has a default destination. */
  connect: [];
  /** The socket was closed (by close() or because its stack was recycled). */
  close: [];
  /** A bind/connect failure or an error the stack reported (a StackError). */
  error: [err: Error];
}

interface PendingSend {
  data: Uint8Array;
  to: SockAddr | undefined;
  callback: SendCallback | undefined;
}

/** Datagrams emitted as 'message' per pass before the loop gets a turn. */
const READ_PASS_LIMIT = 256;

export interface UdpSocket extends SocketMember {}

export class UdpSocket extends EventEmitter<UdpSocketEvents> implements VirtualSource {
  /** @internal for the shared members (defineSocketMember). */
  get [kBinding](): StackBinding | null {
    return this.#b;
  }

  /** 'udp4' or 'udp6'. */
  readonly type: UdpType;
  /** 4 or 6. */
  readonly family: Family;
  readonly #pinned: string | undefined;
  readonly #initialOpts: Array<[SockOpt, number | boolean]> = [];
  #b: StackBinding | null = null;
  #bound = false;
  #binding = false;
  #peer: SockAddr | null = null;
  #connecting = false;
  #closed = false;
  /** @internal */
  readonly [kWatchers] = new Watchers();
  readonly #pending = new Fifo<PendingSend>(8);
  #list: DatagramList | null = null;
  #serviceQueued = false;
  #readLater: NodeJS.Immediate | null = null;
  /** @internal */
  readonly [kAlive] = new LoopRef();
  #shared: SharedSend | null = null;
  /** Send callbacks due, and the immediate that calls them. */
  readonly #done: Array<{ cb: SendCallback; err: Error | null; bytes: number }> = [];
  #doneLater: NodeJS.Immediate | null = null;

  constructor(options: UdpSocketOptions | UdpType) {
    super();
    const o: UdpSocketOptions = typeof options === 'string' ? { type: options } : options;
    if (o?.type !== 'udp4' && o?.type !== 'udp6') throw new InvalidArgumentError(`type must be 'udp4' or 'udp6', got ${String(o?.type)}`);
    this.type = o.type;
    this.family = o.type === 'udp4' ? 4 : 6;
    if (o.stack !== undefined && (typeof o.stack !== 'string' || o.stack === '')) throw new InvalidArgumentError('options.stack must be a stack name');
    this.#pinned = o.stack;
    if (o.reuseAddr !== undefined) this.#initialOpts.push(['reuseAddr', o.reuseAddr === true]);
    if (o.recvBufferSize !== undefined) this.#initialOpts.push(['recvBufferSize', o.recvBufferSize]);
    if (o.sendBufferSize !== undefined) this.#initialOpts.push(['sendBufferSize', o.sendBufferSize]);
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'message') queueMicrotask(() => this.#scheduleService());
    });
  }

  // ---- dgram's surface -------------------------------------------------------------------

  /** Binds to `port` and `address` (dgram's forms); nRD chooses the stack here. 'listening' follows. */
  bind(port?: number | BindOptions | (() => void), address?: string | (() => void), callback?: () => void): this {
    this.#assertOpen('bind');
    if (this.#bound || this.#binding) throw new InvalidStateError('socket is already bound');
    let p: number;
    let addr: string | undefined;
    let cb: (() => void) | undefined;
    if (typeof port === 'object' && port !== null) {
      p = checkPort(port.port ?? 0, 'port', true);
      addr = port.address;
      cb = typeof address === 'function' ? address : undefined;
    } else if (typeof port === 'function') {
      p = 0;
      cb = port;
    } else {
      p = checkPort(port ?? 0, 'port', true);
      if (typeof address === 'function') cb = address;
      else {
        addr = address;
        cb = callback;
      }
    }
    if (cb !== undefined) this.once('listening', cb);
    this.#binding = true;
    resolveHost(addr ?? anyAddress(this.family), this.family, (err, ip) => {
      this.#binding = false;
      if (this.#closed) return;
      if (err) return this.#emitErrorSoon(err);
      try {
        this.#bindNow({ address: ip, port: p, family: this.family });
      } catch (e) {
        this.#emitErrorSoon(e as Error);
      }
    });
    return this;
  }

  /** Sends bytes offset..offset + length of `msg` as one datagram to `port`/`address`. */
  send(msg: MessageData, offset: number, length: number, port?: number, address?: string, callback?: SendCallback): void;
  /** Sends `msg` as one datagram to `port` at `address` (default: the loopback address). */
  send(msg: MessageData, port?: number, address?: string, callback?: SendCallback): void;
  /** Sends `msg` to `port` on the loopback address. */
  send(msg: MessageData, port?: number, callback?: SendCallback): void;
  /** Sends `msg` to the connected peer. */
  send(msg: MessageData, callback?: SendCallback): void;
  send(msg: MessageData, ...args: unknown[]): void {
    this.#assertOpen('send');
    let offset: unknown = args[0];
    let length: unknown = args[1];
    let port: unknown = args[2];
    let address: unknown = args[3];
    let callback: unknown = args[4];
    let data: Uint8Array;
    // The same argument shuffle as dgram's send().
    if (this.#peer === null) {
      if (address || (port && typeof port !== 'function')) {
        data = slice(toBytes(msg), offset, length);
      } else {
        data = toBytes(msg);
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === 'number') {
        data = slice(toBytes(msg), offset, length);
        if (typeof port === 'function') {
          callback = port;
          port = undefined;
        }
      } else {
        data = toBytes(msg);
        if ((offset !== undefined && typeof offset !== 'function') || length !== undefined) port = offset;
        callback = offset;
      }
      if (port || address) throw new InvalidStateError('socket is connected: send() takes no port or address');
    }
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    }
    if (callback !== undefined && typeof callback !== 'function') throw new InvalidArgumentError('callback must be a function');
    const cb = callback as SendCallback | undefined;
    if (this.#peer !== null) {
      this.#sendResolved(data, undefined, cb);
      return;
    }
    const to = checkPort(port, 'port', false);
    if (address !== undefined && typeof address !== 'string') throw new InvalidArgumentError('address must be a string');
    const host = (address as string | undefined) || loopbackAddress(this.family);
    // A copy only when the send waits for a name: the caller may reuse its buffer at once.
    const payload = isIP(host) !== 0 ? data : Uint8Array.prototype.slice.call(data);
    resolveHost(host, this.family, (err, ip) => {
      if (err) return this.#report(err, cb);
      this.#sendResolved(payload, { address: ip, port: to, family: this.family }, cb);
    });
  }

  /** Sets the default destination (binding to any address first if needed); 'connect' follows. */
  connect(port: number, address?: string | (() => void), callback?: () => void): void {
    this.#assertOpen('connect');
    if (this.#peer !== null || this.#connecting) throw new InvalidStateError('socket is already connected');
    const p = checkPort(port, 'port', false);
    if (typeof address === 'function') {
      callback = address;
      address = undefined;
    }
    if (callback !== undefined) this.once('connect', callback);
    this.#connecting = true;
    resolveHost(address || loopbackAddress(this.family), this.family, (err, ip) => {
      this.#connecting = false;
      if (this.#closed) return;
      if (err) return this.#emitErrorSoon(err);
      const to: SockAddr = { address: ip, port: p, family: this.family };
      try {
        const b = this.#open(ip);
        if (!this.#bound) this.#bindNow({ address: anyAddress(this.family), port: 0, family: this.family });
        b.stack.connect(b.handle, to);
        this.#peer = to;
        process.nextTick(() => this.emit('connect'));
      } catch (e) {
        this.#emitErrorSoon(e as Error);
      }
    });
  }

  /** Closes the socket; sends still waiting fail with ClosedError. 'close' follows. */
  close(callback?: () => void): this {
    if (callback !== undefined) this.once('close', callback);
    if (this.#closed) return this;
    this.#teardown(new ClosedError('socket was closed before the datagram was sent'));
    process.nextTick(() => this.emit('close'));
    return this;
  }

  /** The local address (InvalidStateError before bind()). */
  address(): AddressInfo {
    this.#assertOpen('address');
    if (!this.#bound || this.#b === null) throw new InvalidStateError('socket is not bound; call bind() first');
    return addressInfo(this.#b.stack.getsockname(this.#b.handle));
  }

  /** The connected peer (InvalidStateError when not connected). */
  remoteAddress(): AddressInfo {
    this.#assertOpen('remoteAddress');
    if (this.#peer === null) throw new InvalidStateError('socket is not connected');
    return addressInfo(this.#peer);
  }

  /** SO_BROADCAST. */
  setBroadcast(flag: boolean): void {
    this.#setOpt('broadcast', flag === true);
  }

  /** IP_TTL, 1..255; returns it. */
  setTTL(ttl: number): number {
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new InvalidArgumentError(`ttl must be an integer from 1 to 255, got ${String(ttl)}`);
    this.#setOpt('ttl', ttl);
    return ttl;
  }

  /** SO_RCVBUF, bytes. */
  setRecvBufferSize(size: number): void {
    this.#setOpt('recvBufferSize', size);
  }

  /** SO_SNDBUF, bytes. */
  setSendBufferSize(size: number): void {
    this.#setOpt('sendBufferSize', size);
  }

  /** SO_RCVBUF as the stack reports it. */
  getRecvBufferSize(): number {
    return Number(this.#boundStack('getRecvBufferSize').getsockopt(this.#b!.handle, 'recvBufferSize'));
  }

  /** SO_SNDBUF as the stack reports it. */
  getSendBufferSize(): number {
    return Number(this.#boundStack('getSendBufferSize').getsockopt(this.#b!.handle, 'sendBufferSize'));
  }

  // ---- additions -------------------------------------------------------------------------

  /**
   * Moves the datagrams waiting now (as many as fit) into `list`, from its start; returns
   * list.count (0 = none; list.pending says how many did not fit).
   */
  recvBatch(list: DatagramList): number {
    this.#assertOpen('recvBatch');
    if (this.#b === null) {
      list.count = 0;
      list.pending = 0;
      return 0;
    }
    return this.#b.stack.recvBatch(this.#b.handle, list);
  }

  /** Whether the socket was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * A handle other threads pass to attachSocket() to send through this socket: whole
   * datagrams, queued in a multi-producer ring of `bytes` (default 1 MiB) that this thread
   * drains, woken by an eventfd. The socket must be bound or connected.
   */
  shareSend(options: { bytes?: number } = {}): SendQueueHandle {
    this.#assertOpen('shareSend');
    if (this.#shared !== null) return this.#shared.handle;
    if (!this.#bound) throw new InvalidStateError('bind() or connect() the socket before sharing it');
    this.#shared = new SharedSend(options.bytes ?? DEFAULT_QUEUE_BYTES, 'udp', this.family, (rec) => this.#deliverShared(rec));
    return this.#shared.handle;
  }

  // ---- VirtualSource (EventPoll membership) ------------------------------------------------

  /** The socket's readiness now (EPOLL* bits), as EventPoll asks a member. */
  poll(): number {
    if (this.#closed) return EPOLLHUP; // closed (maybe by its stack's recycling): del() it
    if (this.#b === null) return EPOLLOUT; // an unbound UDP socket may send
    let ev = this.#b.poll();
    if (this.#pending.length > 0) ev &= ~EPOLLOUT;
    return ev;
  }

  // ---- registry ------------------------------------------------------------------------------

  /** Closes at once because its stack is going away; pending sends fail with ClosedError carrying `reason`. */
  abort(reason: string): void {
    if (this.#closed) return;
    this.#teardown(new ClosedError(`socket was closed: ${reason}`));
    process.nextTick(() => this.emit('close'));
  }

  // ---- internals -------------------------------------------------------------------------

  #assertOpen(what: string): void {
    if (this.#closed) throw new ClosedError(`socket is closed (${what})`);
  }

  /** The stack socket, choosing the stack for `address` the first time. */
  #open(address: string): StackBinding {
    if (this.#b !== null) return this.#b;
    const b = openBinding(this, 'udp', this.family, address, this.#pinned, (ev) => this.#onNotify(ev));
    this.#b = b;
    try {
      for (const [name, value] of this.#initialOpts) b.stack.setsockopt(b.handle, name, value);
    } catch (err) {
      this.#b = null;
      untrack(this);
      b.close();
      throw err;
    }
    this[kWatchers].replay(b);
    return b;
  }

  #bindNow(addr: SockAddr): void {
    const b = this.#open(addr.address);
    b.stack.bind(b.handle, addr);
    this.#bound = true;
    this.#updateAlive();
    process.nextTick(() => {
      if (!this.#closed) this.emit('listening');
    });
    this.#scheduleService();
  }

  #sendResolved(data: Uint8Array, to: SockAddr | undefined, cb: SendCallback | undefined): void {
    if (this.#closed) return this.#report(new ClosedError('socket is closed (send)'), cb);
    try {
      const b = this.#open(to?.address ?? (this.#peer as SockAddr).address);
      if (!this.#bound) this.#bindNow({ address: anyAddress(this.family), port: 0, family: this.family });
      if (this.#pending.length === 0) {
        const n = b.stack.send(b.handle, data, to);
        if (n > 0) {
          if (cb !== undefined) this.#complete(cb, null, n);
          return;
        }
      }
      this.#pending.push({ data: Uint8Array.prototype.slice.call(data), to, callback: cb });
    } catch (err) {
      this.#report(err as Error, cb);
    }
  }

  /** A message from another thread's queue. */
  #deliverShared(rec: RingRecord): boolean {
    const b = this.#b;
    if (b === null || this.#closed) return true;
    if (this.#pending.length > 0) return false;
    try {
      return b.stack.send(b.handle, rec.data, this.#peer === null ? (rec.to ?? undefined) : undefined) > 0;
    } catch (err) {
      this.#emitErrorSoon(err as Error);
      return true; // dropped, reported
    }
  }

  /** The stack's event callback (DMM's event_cb). */
  #onNotify(events: number): void {
    if (this.#closed) return;
    this.#scheduleService();
    this[kWatchers].wake(events);
  }

  #scheduleService(): void {
    if (this.#serviceQueued || this.#closed) return;
    this.#serviceQueued = true;
    queueMicrotask(() => this.#service());
  }

  /** Reads (while someone listens to 'message'), sends what waits, reports errors. */
  #service(): void {
    this.#serviceQueued = false;
    const b = this.#b;
    if (b === null || this.#closed) return;
    const ev = b.poll();
    if (ev & EPOLLERR) {
      const code = b.stack.getsockopt(b.handle, 'error');
      if (typeof code === 'string') this.emit('error', new StackError(code, 'send'));
      if (this.#closed) return;
    }
    if (ev & EPOLLOUT) {
      this.#flushPending(b);
      if (this.#pending.length === 0) this.#shared?.resume();
    }
    if (ev & EPOLLIN && this.#readLater === null && this.listenerCount('message') > 0 && this.#bound) this.#readPass();
  }

  #flushPending(b: StackBinding): void {
    const q = this.#pending;
    for (let p = q.peek(); p !== undefined && !this.#closed; p = q.peek()) {
      let n: number;
      try {
        n = b.stack.send(b.handle, p.data, p.to);
      } catch (err) {
        q.shift();
        this.#report(err as Error, p.callback);
        continue;
      }
      if (n === 0) return;
      q.shift();
      if (p.callback !== undefined) this.#complete(p.callback, null, n);
    }
  }

  #readPass(): void {
    this.#readLater = null;
    const b = this.#b;
    if (b === null || this.#closed) return;
    const list = (this.#list ??= createDatagramList({ count: 64, bytes: 256 * 1024 }));
    let total = 0;
    while (total < READ_PASS_LIMIT && this.listenerCount('message') > 0) {
      let n: number;
      try {
        n = b.stack.recvBatch(b.handle, list);
      } catch (err) {
        this.emit('error', err as Error);
        return;
      }
      for (let i = 0; i < n; i++) {
        const len = list.lengths[i];
        const msg = Buffer.allocUnsafe(len);
        msg.set(list.data.subarray(list.offsets[i], list.offsets[i] + len));
        const from = list.addresses[i];
        this.emit('message', msg, { address: from.address, family: familyName(from.family), port: from.port, size: len });
        if (this.#closed) return;
      }
      total += n;
      if (n === 0 || list.pending === 0) return;
    }
    if (!this.#closed) this.#readLater = setImmediate(() => this.#readPass()); // more waits: after I/O
  }

  #report(err: Error, cb: SendCallback | undefined): void {
    if (cb !== undefined) this.#complete(cb, err, 0);
    else this.#emitErrorSoon(err);
  }

  /**
   * A send callback, called with the others due after the loop's next I/O phase, as
   * node:dgram's are: a sender that sends again from its callbacks would otherwise run in
   * process.nextTick forever, and no frame (an ARP reply, say) would ever be read.
   */
  #complete(cb: SendCallback, err: Error | null, bytes: number): void {
    this.#done.push({ cb, err, bytes });
    this.#doneLater ??= setImmediate(this.#runDone);
  }

  readonly #runDone = (): void => {
    this.#doneLater = null;
    const due = this.#done.splice(0, this.#done.length);
    for (let i = 0; i < due.length; i++) {
      try {
        due[i].cb(due[i].err, due[i].bytes);
      } catch (err) {
        // As an uncaught exception in a callback, with the later callbacks still called.
        this.#done.unshift(...due.slice(i + 1));
        if (this.#done.length > 0) this.#doneLater ??= setImmediate(this.#runDone);
        throw err;
      }
    }
  };

  #emitErrorSoon(err: Error): void {
    process.nextTick(() => {
      if (!this.#closed) this.emit('error', err);
    });
  }

  #setOpt(name: SockOpt, value: number | boolean): void {
    const stack = this.#boundStack(`set ${name}`);
    stack.setsockopt(this.#b!.handle, name, value);
  }

  #boundStack(what: string) {
    this.#assertOpen(what);
    if (!this.#bound || this.#b === null) throw new InvalidStateError(`socket is not bound (${what}); call bind() first`);
    return this.#b.stack;
  }

  #updateAlive(): void {
    this[kAlive].setActive(this.#bound && !this.#closed);
  }

  #teardown(err: Error): void {
    this.#closed = true;
    this.#updateAlive();
    if (this.#readLater !== null) clearImmediate(this.#readLater);
    this.#shared?.close();
    this.#shared = null;
    for (let p = this.#pending.shift(); p !== undefined; p = this.#pending.shift()) {
      if (p.callback !== undefined) this.#complete(p.callback, err, 0);
    }
    if (this.#b !== null) {
      untrack(this);
      this.#b.close();
    }
    this[kWatchers].wake(EPOLLHUP);
  }
}
defineSocketMember(UdpSocket.prototype);

function slice(data: Uint8Array, offset: unknown, length: unknown): Uint8Array {
  const off = offset === undefined ? 0 : offset;
  const len = length === undefined ? data.length - (off as number) : length;
  if (typeof off !== 'number' || !Number.isInteger(off) || off < 0 || off > data.length) throw new InvalidArgumentError(`offset must be an integer within the message, got ${String(offset)}`);
  if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || off + len > data.length) throw new InvalidArgumentError(`length must be an integer with offset + length within the message, got ${String(length)}`);
  return off === 0 && len === data.length ? data : data.subarray(off, off + len);
}

/** A UDP nSocket (node:dgram's createSocket, over the stack nRD chooses). */
export function createSocket(options: UdpSocketOptions | UdpType, listener?: (msg: Buffer, rinfo: RemoteInfo) => void): UdpSocket {
  const sock = new UdpSocket(options);
  if (listener !== undefined) sock.on('message', listener);
  return sock;
}
