/**
 * A TCP nSocket with node:net Socket's surface: a Duplex stream with backpressure both ways,
 * over the stack nRD chooses at connect() (or the stack of the server that accepted it).
 *
 *   const sock = connect(7, '10.0.0.1', () => sock.end('hello'));
 *   sock.on('data', (d) => ...).on('end', () => ...);
 *
 * - write() returns false above the writable high-water mark and 'drain' follows once the
 *   stack took the data; the stack's own buffer limits how far ahead that runs.
 * - Reading pulls from the stack only as fast as the consumer reads ('data' listeners or
 *   read()), so a slow reader closes the peer's window.
 * - end() half-closes (shutdown of the write side after everything written went out); 'end'
 *   comes when the peer half-closed. With allowHalfOpen false (the default, as in net) the
 *   socket ends its side when the peer's ends.
 * - An EventPoll member: EPOLLIN while data (or the end) can be read, EPOLLOUT while write()
 *   would not need to wait, EPOLLRDHUP once the peer ended, EPOLLHUP/EPOLLERR as the stack says,
 *   and EPOLLHUP once destroyed. Loops that end sockets themselves use allowHalfOpen: true.
 * - shareSend() lets other threads write whole messages through a queue this thread drains.
 * Stack errors arrive as 'error' with a Node-style StackError (`connect ECONNREFUSED
 * 127.0.0.1:9`, code 'ECONNREFUSED').
 */
import { Duplex } from 'node:stream';
import { ClosedError, InvalidArgumentError, InvalidStateError, StackError } from '../../errors';
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP } from '../constants';
import type { Route } from '../registry';
import type { Family, SockAddr, StackModule } from '../stack';
import type { VirtualSource } from '../virtual-source';
import { addressInfo, checkPort, familyName, resolveHost, type AddressInfo } from './address';
import { adoptBinding, defineSocketMember, kAlive, kBinding, kWatchers, openBinding, StackBinding, untrack, Watchers, type SocketMember } from './binding';
import { LoopRef } from './keep-alive';
import type { RingRecord } from './send-ring';
import { DEFAULT_QUEUE_BYTES, SharedSend, type SendQueueHandle } from './shared-send';

/** Options of a {@link TcpSocket}. */
export interface TcpSocketOptions {
  /** Keep the writable side open after the peer ended (default false, as in net). */
  allowHalfOpen?: boolean;
  /** Use this stack (by name) instead of asking nRD. */
  stack?: string;
}

/** Options of {@link connect}, as node:net's connect() takes them. */
export interface TcpConnectOptions extends TcpSocketOptions {
  /** The peer's port. */
  port: number;
  /** Default 'localhost'. */
  host?: string;
  /** 4 or 6 when `host` is a name (default: what dns.lookup answers first). */
  family?: Family;
  /** Bind to this local address before connecting. */
  localAddress?: string;
  /** Bind to this local port before connecting. */
  localPort?: number;
  /** TCP_NODELAY once the stack socket opens (see setNoDelay()). */
  noDelay?: boolean;
  /** SO_KEEPALIVE once the stack socket opens (see setKeepAlive()). */
  keepAlive?: boolean;
}

/** Bytes read from the stack per call. */
const READ_CHUNK = 64 * 1024;

interface PendingWrite {
  chunk: Uint8Array;
  offset: number;
  callback: (err?: Error | null) => void;
}

export interface TcpSocket extends SocketMember {}

export class TcpSocket extends Duplex implements VirtualSource {
  /** @internal for the shared members (defineSocketMember). */
  get [kBinding](): StackBinding | null {
    return this.#b;
  }

  readonly #pinned: string | undefined;
  #b: StackBinding | null = null;
  #connecting = false;
  #connected = false;
  #peer: SockAddr | null = null;
  #reading = false;
  #eof = false;
  #write: PendingWrite | null = null;
  #final: ((err?: Error | null) => void) | null = null;
  #scratch: Uint8Array | null = null;
  #serviceQueued = false;
  /** @internal */
  readonly [kWatchers] = new Watchers();
  /** @internal */
  readonly [kAlive] = new LoopRef();
  #shared: SharedSend | null = null;
  #opts: { noDelay?: boolean; keepAlive?: boolean } = {};
  /** Bytes received so far. */
  bytesRead = 0;
  /** Bytes the stack took so far. */
  bytesWritten = 0;

  constructor(options: TcpSocketOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen === true, emitClose: true, autoDestroy: true });
    if (options.stack !== undefined && (typeof options.stack !== 'string' || options.stack === '')) throw new InvalidArgumentError('options.stack must be a stack name');
    this.#pinned = options.stack;
    this.on('drain', () => {
      this.#shared?.resume();
      if (this.#write === null) this[kWatchers].wake(EPOLLOUT);
    });
  }

  /** A socket for a connection a stack accepted (used by TcpServer). */
  static adopt(stack: StackModule<unknown>, handle: unknown, route: Route, allowHalfOpen: boolean, bind: (notify: (ev: number) => void) => void): TcpSocket {
    const sock = new TcpSocket({ allowHalfOpen });
    sock.#b = adoptBinding(sock, stack, handle, route);
    bind((ev) => sock.#onNotify(ev));
    sock.#connected = true;
    sock.#peer = stack.getpeername(handle);
    sock.#updateAlive();
    sock.#scheduleService(); // data may have arrived before we listened
    queueMicrotask(() => sock.read(0)); // start reading as net does (after 'connection' listeners ran)
    return sock;
  }

  // ---- net.Socket's surface ------------------------------------------------------------------

  /** Connects to `port` on `host` (net's forms); nRD chooses the stack here. 'connect' follows, or 'error'. */
  connect(options: TcpConnectOptions | number, host?: string | (() => void), listener?: () => void): this {
    if (this.destroyed) throw new ClosedError('socket is destroyed (connect)');
    if (this.#b !== null || this.#connecting) throw new InvalidStateError('socket is already connected or connecting');
    const o: TcpConnectOptions = typeof options === 'object' ? options : { port: options, host: typeof host === 'string' ? host : undefined };
    const cb = typeof host === 'function' ? host : listener;
    const port = checkPort(o.port, 'port', false);
    if (o.localPort !== undefined) checkPort(o.localPort, 'localPort', true);
    if (cb !== undefined) this.once('connect', cb);
    this.#opts = { noDelay: o.noDelay, keepAlive: o.keepAlive };
    this.#connecting = true;
    this.#updateAlive();
    resolveHost(o.host ?? 'localhost', o.family ?? 0, (err, ip, family) => {
      if (this.destroyed) return;
      if (err) return this.#fail(err);
      const to: SockAddr = { address: ip, port, family };
      this.#peer = to;
      try {
        const b = openBinding(this, 'tcp', family, ip, this.#pinned, (ev) => this.#onNotify(ev));
        this.#b = b;
        this[kWatchers].replay(b);
        if (o.localAddress !== undefined || o.localPort !== undefined) {
          b.stack.bind(b.handle, { address: o.localAddress ?? (family === 4 ? '0.0.0.0' : '::'), port: o.localPort ?? 0, family });
        }
        this.#applyOpts();
        b.stack.connect(b.handle, to);
      } catch (e) {
        return this.#fail(e instanceof StackError ? e : (e as Error));
      }
      this.#scheduleService(); // a stack may connect at once
    });
    return this;
  }

  /** True while connect() is in progress. */
  get connecting(): boolean {
    return this.#connecting;
  }

  /** True until connected (as net's `pending`). */
  get pending(): boolean {
    return !this.#connected;
  }

  /** net's readyState: 'opening', 'open', 'readOnly', 'writeOnly' or 'closed'. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.#connecting) return 'opening';
    if (!this.#connected || this.destroyed) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** The peer's IP address, while connected. */
  get remoteAddress(): string | undefined {
    return this.#connected ? this.#peer?.address : undefined;
  }

  /** The peer's port, while connected. */
  get remotePort(): number | undefined {
    return this.#connected ? this.#peer?.port : undefined;
  }

  /** The peer's address family, while connected. */
  get remoteFamily(): 'IPv4' | 'IPv6' | undefined {
    return this.#connected && this.#peer !== null ? familyName(this.#peer.family) : undefined;
  }

  /** The local IP address, once the stack socket is bound. */
  get localAddress(): string | undefined {
    return this.#local()?.address;
  }

  /** The local port, once the stack socket is bound. */
  get localPort(): number | undefined {
    return this.#local()?.port;
  }

  /** The local address family, once the stack socket is bound. */
  get localFamily(): 'IPv4' | 'IPv6' | undefined {
    const l = this.#local();
    return l === undefined ? undefined : familyName(l.family);
  }

  /** The local address, or `{}` before the stack socket is bound (as net). */
  address(): AddressInfo | Record<string, never> {
    const l = this.#local();
    return l === undefined ? {} : addressInfo(l);
  }

  /** TCP_NODELAY (Nagle off); applied when the stack socket opens if called before. */
  setNoDelay(noDelay = true): this {
    this.#opts.noDelay = noDelay;
    this.#applyOpts();
    return this;
  }

  /** SO_KEEPALIVE; applied when the stack socket opens if called before. */
  setKeepAlive(enable = false): this {
    this.#opts.keepAlive = enable;
    this.#applyOpts();
    return this;
  }

  // ---- additions -------------------------------------------------------------------------

  /**
   * A handle other threads pass to attachSocket() to write through this socket: each message
   * is written whole, in the order it was queued, by this thread (a multi-producer queue of
   * `bytes`, default 1 MiB, drained here, woken by an eventfd).
   */
  shareSend(options: { bytes?: number } = {}): SendQueueHandle {
    if (this.destroyed || this.writableEnded) throw new ClosedError('socket is closed for writing (shareSend)');
    if (this.#shared !== null) return this.#shared.handle;
    const family = this.#peer?.family ?? 4;
    this.#shared = new SharedSend(options.bytes ?? DEFAULT_QUEUE_BYTES, 'tcp', family, (rec) => this.#deliverShared(rec));
    return this.#shared.handle;
  }

  // ---- VirtualSource ---------------------------------------------------------------------------

  /** The socket's readiness now (EPOLL* bits), as EventPoll asks a member. */
  poll(): number {
    if (this.destroyed) return EPOLLHUP; // closed (by the app, the stream's own end, or its stack): del() it
    let ev = this.#b === null ? 0 : this.#b.poll();
    if (!this.#connected) return ev & (EPOLLERR | EPOLLHUP);
    if (this.readableLength > 0 || this.#eof) ev |= EPOLLIN;
    if (this.#eof) ev |= EPOLLRDHUP;
    if (this.writableNeedDrain || this.#write !== null || this.writableEnded) ev &= ~EPOLLOUT;
    return ev;
  }

  // ---- registry ------------------------------------------------------------------------------

  /** Destroys the socket at once because its stack is going away (a ClosedError carrying `reason`). */
  abort(reason: string): void {
    if (!this.destroyed) this.destroy(new ClosedError(`socket was closed: ${reason}`));
  }

  // ---- stream implementation -------------------------------------------------------------

  /** @internal */
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#write = { chunk, offset: 0, callback };
    if (this.#connected) this.#flush();
  }

  /** @internal */
  override _final(callback: (err?: Error | null) => void): void {
    this.#final = callback;
    if (this.#connected && this.#write === null) this.#shutdownWrite();
  }

  /** @internal */
  override _read(): void {
    this.#reading = true;
    if (this.#connected) this.#pull();
  }

  /** @internal */
  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#connecting = false;
    this.#updateAlive();
    this.#shared?.close();
    this.#shared = null;
    if (this.#b !== null) {
      untrack(this);
      try {
        this.#b.close();
      } catch (e) {
        err ??= e as Error;
      }
    }
    callback(err);
    this[kWatchers].wake(EPOLLHUP);
  }

  // ---- internals -------------------------------------------------------------------------

  #local(): SockAddr | undefined {
    if (this.#b === null || !this.#connected || this.#b.closed) return undefined;
    try {
      return this.#b.stack.getsockname(this.#b.handle);
    } catch {
      return undefined;
    }
  }

  #applyOpts(): void {
    const b = this.#b;
    if (b === null || b.closed) return;
    if (this.#opts.noDelay !== undefined) b.stack.setsockopt(b.handle, 'noDelay', this.#opts.noDelay);
    if (this.#opts.keepAlive !== undefined) b.stack.setsockopt(b.handle, 'keepAlive', this.#opts.keepAlive);
  }

  #updateAlive(): void {
    this[kAlive].setActive(!this.destroyed && (this.#connecting || this.#connected));
  }

  /** The stack's event callback (DMM's event_cb). */
  #onNotify(events: number): void {
    if (this.destroyed) return;
    this.#scheduleService();
    this[kWatchers].wake(events);
  }

  #scheduleService(): void {
    if (this.#serviceQueued) return;
    this.#serviceQueued = true;
    queueMicrotask(() => this.#service());
  }

  #service(): void {
    this.#serviceQueued = false;
    const b = this.#b;
    if (b === null || this.destroyed) return;
    const ev = b.poll();
    if (this.#connecting) {
      if (ev & (EPOLLERR | EPOLLHUP)) {
        const code = b.stack.getsockopt(b.handle, 'error');
        return this.#fail(new StackError(typeof code === 'string' ? code : 'ECONNREFUSED', 'connect', this.#peer ?? undefined));
      }
      if ((ev & EPOLLOUT) === 0) return;
      this.#connecting = false;
      this.#connected = true;
      this.#updateAlive();
      this.emit('connect');
      this.emit('ready');
      if (this.destroyed) return;
      this.read(0); // start reading as net does (up to the high-water mark), so the end is seen
    }
    if (ev & EPOLLERR && (ev & EPOLLIN) === 0) {
      const code = b.stack.getsockopt(b.handle, 'error');
      if (typeof code === 'string') return this.#fail(new StackError(code, 'read', this.#peer ?? undefined));
    }
    if (this.#write !== null && ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) this.#flush();
    else if (this.#write === null && this.#final !== null) this.#shutdownWrite();
    if (this.#reading && ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) this.#pull();
  }

  /** Hands the current chunk to the stack, as far as it takes it. */
  #flush(): void {
    const w = this.#write;
    const b = this.#b;
    if (w === null || b === null || this.destroyed) return;
    const stack = b.stack;
    while (w.offset < w.chunk.length) {
      let n: number;
      try {
        const rest = w.offset === 0 ? w.chunk : w.chunk.subarray(w.offset);
        // Like net, the stream keeps written buffers as they are: a stack may take them as is.
        n = stack.sendOwned !== undefined ? stack.sendOwned(b.handle, rest) : stack.send(b.handle, rest);
      } catch (err) {
        this.#write = null;
        w.callback(err as Error);
        return;
      }
      if (n === 0) return; // EPOLLOUT resumes
      w.offset += n;
      this.bytesWritten += n;
    }
    this.#write = null;
    w.callback();
    if (this.#final !== null && this.#write === null) this.#shutdownWrite();
  }

  #shutdownWrite(): void {
    const cb = this.#final;
    const b = this.#b;
    if (cb === null || b === null) return;
    this.#final = null;
    try {
      b.stack.shutdown(b.handle, 'write');
    } catch (err) {
      return cb(err as Error);
    }
    cb();
  }

  /** Reads from the stack while the consumer wants more. */
  #pull(): void {
    const b = this.#b;
    if (b === null) return;
    while (this.#reading && !this.destroyed) {
      let chunk: Uint8Array | null;
      try {
        chunk = this.#recvChunk(b);
      } catch (err) {
        const e = err as StackError;
        return this.#fail(e instanceof StackError ? new StackError(e.code, 'read', this.#peer ?? undefined) : e);
      }
      if (chunk === null) return; // EPOLLIN resumes
      if (chunk.length === 0) {
        this.#reading = false;
        this.#eof = true;
        this.push(null);
        // As net does: with nothing left to read, 'end' comes even if nobody reads.
        queueMicrotask(() => this.read(0));
        this[kWatchers].wake(EPOLLIN | EPOLLRDHUP);
        return;
      }
      this.bytesRead += chunk.length;
      this.#reading = this.push(chunk);
    }
  }

  /** The next chunk from the stack as a Buffer of our own (empty = end, null = nothing now). */
  #recvChunk(b: StackBinding): Buffer | null {
    if (b.stack.recvOwned !== undefined) {
      const owned = b.stack.recvOwned(b.handle, READ_CHUNK);
      return owned === null ? null : Buffer.from(owned.buffer, owned.byteOffset, owned.length);
    }
    const scratch = (this.#scratch ??= new Uint8Array(READ_CHUNK));
    const r = b.stack.recv(b.handle, scratch);
    return r === null ? null : Buffer.from(scratch.subarray(0, r.bytes));
  }

  /** A message from another thread's queue. */
  #deliverShared(rec: RingRecord): boolean {
    if (this.destroyed || this.writableEnded) return true; // dropped: the queue is closed with the socket
    if (this.writableNeedDrain) return false;
    this.write(Buffer.from(rec.data));
    return true;
  }

  #fail(err: Error): void {
    this.#connecting = false;
    this.#updateAlive();
    if (!this.destroyed) this.destroy(err);
  }
}
defineSocketMember(TcpSocket.prototype);

/** A TCP nSocket connected to `port` on `host` (node:net's connect, over the stack nRD chooses). */
export function connect(options: TcpConnectOptions | number, host?: string | (() => void), listener?: () => void): TcpSocket {
  const o = typeof options === 'object' ? options : undefined;
  const sock = new TcpSocket({ allowHalfOpen: o?.allowHalfOpen, stack: o?.stack });
  return sock.connect(options, host, listener);
}

/** The same as {@link connect} (net's alias). */
export const createConnection = connect;
