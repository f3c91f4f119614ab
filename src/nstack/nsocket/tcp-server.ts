/**
 * A TCP listening nSocket with node:net Server's surface, over the stack nRD chooses for the
 * address it listens on (or the stack named in the options).
 *
 *   const server = createServer((sock) => sock.pipe(sock));
 *   server.listen(7, '10.0.0.1', () => console.log(server.address()));
 *
 * Connections are accepted by themselves while someone listens to 'connection'; otherwise
 * they wait for accept(), typically from an EventPoll loop (the server is a member: EPOLLIN
 * while a connection waits). listen() without a host listens on 0.0.0.0 (IPv4); give '::' for
 * IPv6. close() stops listening at once; 'close' follows when every accepted connection closed.
 */
import { EventEmitter } from 'node:events';
import { ClosedError, InvalidArgumentError, InvalidStateError, StackError } from '../../errors';
import { EPOLLERR, EPOLLHUP, EPOLLIN } from '../constants';
import type { SockAddr } from '../stack';
import type { VirtualSource } from '../virtual-source';
import { addressInfo, anyAddress, checkPort, resolveHost, type AddressInfo } from './address';
import { defineSocketMember, kAlive, kBinding, kWatchers, openBinding, StackBinding, untrack, Watchers, type SocketMember } from './binding';
import { LoopRef } from './keep-alive';
import { TcpSocket } from './tcp-socket';

/** Options of {@link createServer}. */
export interface TcpServerOptions {
  /** Accepted sockets keep their writable side open after the peer ended (default false). */
  allowHalfOpen?: boolean;
  /** Use this stack (by name) instead of asking nRD. */
  stack?: string;
}

/** listen()'s options object, as node:net takes it. */
export interface ListenOptions {
  /** Local port (default 0: the stack picks one). */
  port?: number;
  /** Local address or host name (default '0.0.0.0'). */
  host?: string;
  /** Most connections waiting for accept (default 511). */
  backlog?: number;
}

/** Events of a {@link TcpServer}, as `name: [listener arguments]` (net.Server's). */
export interface TcpServerEvents {
  /** A connection was accepted (accepted by themselves only while someone listens to this event). */
  connection: [socket: TcpSocket];
  /** The server is listening. */
  listening: [];
  /** close() was called and every accepted connection has closed. */
  close: [];
  /** listen() failed or the stack reported an error (a StackError). */
  error: [err: Error];
}

const DEFAULT_BACKLOG = 511;
/** Connections accepted per pass before the loop gets a turn. */
const ACCEPT_PASS_LIMIT = 64;

export interface TcpServer extends SocketMember {}

export class TcpServer extends EventEmitter<TcpServerEvents> implements VirtualSource {
  /** @internal for the shared members (defineSocketMember). */
  get [kBinding](): StackBinding | null {
    return this.#b;
  }

  readonly #allowHalfOpen: boolean;
  readonly #pinned: string | undefined;
  #b: StackBinding | null = null;
  #where: SockAddr | null = null;
  #listening = false;
  #starting = false;
  #closing = false;
  #stopped = false;
  readonly #connections = new Set<TcpSocket>();
  /** @internal */
  readonly [kWatchers] = new Watchers();
  #serviceQueued = false;
  #acceptLater: NodeJS.Immediate | null = null;
  /** @internal */
  readonly [kAlive] = new LoopRef();

  constructor(options: TcpServerOptions = {}) {
    super();
    if (options.stack !== undefined && (typeof options.stack !== 'string' || options.stack === '')) throw new InvalidArgumentError('options.stack must be a stack name');
    this.#allowHalfOpen = options.allowHalfOpen === true;
    this.#pinned = options.stack;
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'connection') queueMicrotask(() => this.#scheduleService());
    });
  }

  /** Starts listening (net's forms); nRD chooses the stack for the address here. 'listening' follows, or 'error'. */
  listen(port?: number | ListenOptions | (() => void), host?: string | number | (() => void), backlog?: number | (() => void), callback?: () => void): this {
    if (this.#listening || this.#starting) throw new InvalidStateError('server is already listening');
    let o: ListenOptions;
    let cb: (() => void) | undefined;
    if (typeof port === 'object' && port !== null) {
      o = port;
      cb = typeof host === 'function' ? host : undefined;
    } else if (typeof port === 'function') {
      o = {};
      cb = port;
    } else {
      const rest = [host, backlog, callback];
      cb = rest.find((a) => typeof a === 'function') as (() => void) | undefined;
      o = { port, host: typeof host === 'string' ? host : undefined, backlog: typeof host === 'number' ? host : typeof backlog === 'number' ? backlog : undefined };
    }
    const p = checkPort(o.port ?? 0, 'port', true);
    const bl = o.backlog ?? DEFAULT_BACKLOG;
    if (!Number.isInteger(bl) || bl < 0) throw new InvalidArgumentError(`backlog must be an integer >= 0, got ${String(o.backlog)}`);
    if (cb !== undefined) this.once('listening', cb);
    this.#starting = true;
    this.#closing = false;
    this.#stopped = false;
    resolveHost(o.host ?? anyAddress(4), 0, (err, ip, family) => {
      if (!this.#starting) return; // closed meanwhile
      if (err) return this.#failListen(err);
      const where: SockAddr = { address: ip, port: p, family };
      this.#where = where;
      try {
        const b = openBinding(this, 'tcp', family, ip, this.#pinned, (ev) => this.#onNotify(ev));
        this.#b = b;
        this[kWatchers].replay(b);
        b.stack.bind(b.handle, where);
        b.stack.listen(b.handle, bl);
      } catch (e) {
        return this.#failListen(e as Error);
      }
      this.#updateAlive();
      this.#scheduleService(); // a stack may be listening at once
    });
    return this;
  }

  /** The next waiting connection, or null. */
  accept(): TcpSocket | null {
    const b = this.#b;
    if (b === null || !this.#listening) throw new InvalidStateError('server is not listening');
    // The stack reports through `events` from now on; it is pointed at the socket once the
    // socket exists (what came before is re-checked when the socket starts).
    let target: ((ev: number) => void) | null = null;
    const events = { notify: (ev: number) => target?.(ev) };
    const r = b.stack.accept(b.handle, events);
    if (r === null) return null;
    const sock = TcpSocket.adopt(b.stack, r.socket, b.route, this.#allowHalfOpen, (notify) => {
      target = notify;
    });
    this.#track(sock);
    return sock;
  }

  /** Stops listening at once; 'close' follows once every accepted connection closed. */
  close(callback?: (err?: Error) => void): this {
    if (!this.#listening && !this.#starting) {
      if (callback !== undefined) process.nextTick(callback, new InvalidStateError('server is not running'));
      return this;
    }
    if (callback !== undefined) this.once('close', callback);
    this.#stop();
    this.#closing = true;
    this.#maybeEmitClose();
    return this;
  }

  /** The address it listens on, or null when not listening. */
  address(): AddressInfo | null {
    if (!this.#listening || this.#b === null) return null;
    return addressInfo(this.#b.stack.getsockname(this.#b.handle));
  }

  /** Whether the server is listening. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Calls back (asynchronously) with the number of accepted connections still open. */
  getConnections(callback: (err: Error | null, count: number) => void): this {
    process.nextTick(callback, null, this.#connections.size);
    return this;
  }

  // ---- VirtualSource -------------------------------------------------------------------------

  /** The server's readiness now (EPOLLIN while a connection waits), as EventPoll asks a member. */
  poll(): number {
    if (this.#stopped) return EPOLLHUP; // closed (maybe by its stack's recycling): del() it
    return this.#listening && this.#b !== null ? this.#b.poll() : 0;
  }

  // ---- registry ------------------------------------------------------------------------------

  /** Stops at once because its stack is going away: accepted connections are destroyed with a ClosedError carrying `reason`. */
  abort(reason: string): void {
    if (!this.#listening && !this.#starting) return;
    for (const c of this.#connections) c.destroy(new ClosedError(`socket was closed: ${reason}`));
    this.close();
  }

  // ---- internals -------------------------------------------------------------------------

  #track(sock: TcpSocket): void {
    this.#connections.add(sock);
    sock.once('close', () => {
      this.#connections.delete(sock);
      this.#maybeEmitClose();
    });
  }

  #maybeEmitClose(): void {
    if (this.#closing && this.#connections.size === 0) {
      this.#closing = false;
      process.nextTick(() => this.emit('close'));
    }
  }

  #onNotify(events: number): void {
    if (this.#b === null) return;
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
    if (b === null) return;
    const ev = b.poll();
    if (ev & EPOLLERR) {
      const code = b.stack.getsockopt(b.handle, 'error');
      if (typeof code === 'string') return this.#failListen(new StackError(code, 'listen', this.#where ?? undefined));
    }
    if (this.#starting) {
      try {
        b.stack.getsockname(b.handle);
      } catch (err) {
        if ((err as StackError).code === 'EINPROGRESS') return; // the stack notifies when it listens
        return this.#failListen(err as Error);
      }
      this.#starting = false;
      this.#listening = true;
      this.#updateAlive();
      this.emit('listening');
      if (!this.#listening) return;
    }
    if (ev & EPOLLIN && this.#acceptLater === null) this.#acceptPass();
  }

  #acceptPass(): void {
    this.#acceptLater = null;
    for (let n = 0; n < ACCEPT_PASS_LIMIT; n++) {
      if (!this.#listening || this.listenerCount('connection') === 0) return;
      let sock: TcpSocket | null;
      try {
        sock = this.accept();
      } catch (err) {
        this.emit('error', err as Error);
        return;
      }
      if (sock === null) return;
      this.emit('connection', sock);
    }
    this.#acceptLater = setImmediate(() => this.#acceptPass());
  }

  #failListen(err: Error): void {
    this.#stop();
    process.nextTick(() => this.emit('error', err));
  }

  #stop(): void {
    this.#starting = false;
    this.#listening = false;
    if (this.#acceptLater !== null) {
      clearImmediate(this.#acceptLater);
      this.#acceptLater = null;
    }
    const b = this.#b;
    this.#b = null;
    if (b !== null) {
      untrack(this);
      b.close();
      this.#stopped = true;
      this[kWatchers].wake(EPOLLHUP);
    }
    this.#updateAlive();
  }

  #updateAlive(): void {
    this[kAlive].setActive(this.#listening || this.#starting);
  }
}
defineSocketMember(TcpServer.prototype);

/** A TCP listening nSocket (node:net's createServer, over the stack nRD chooses). */
export function createServer(options?: TcpServerOptions | ((socket: TcpSocket) => void), connectionListener?: (socket: TcpSocket) => void): TcpServer {
  const o = typeof options === 'object' ? options : {};
  const listener = typeof options === 'function' ? options : connectionListener;
  const server = new TcpServer(o);
  if (listener !== undefined) server.on('connection', listener);
  return server;
}
