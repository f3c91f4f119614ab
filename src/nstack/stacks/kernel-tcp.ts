/**
 * A TCP socket of the kernel stack: a node:net Socket (connect/accept) or Server (listen)
 * behind the non-blocking stack operations.
 *
 * - Received data waits in a queue; above HIGH_WATER bytes the net socket is paused (the
 *   kernel's window then closes), below LOW_WATER it reads again.
 * - send() copies (sendOwned() does not) and writes while net's buffer is under its mark, then
 *   returns 0 until 'drain' (EPOLLOUT). recvOwned() hands over the received buffers themselves.
 * - listen() completes on a later tick (net resolves the host first): until then
 *   getsockname() fails with EINPROGRESS, and completion is notified (EPOLLERR on failure,
 *   with the errno in getsockopt('error')).
 * - close() after shutdown('write') lets queued data go out (then the socket is destroyed);
 *   otherwise it aborts, like destroy() in Node.
 * Internal.
 */
import * as net from 'node:net';
import { StackError } from '../../errors';
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP } from '../constants';
import { Fifo } from '../fifo';
import type { Family, ShutdownHow, SockAddr, SockOpt, StackEvents } from '../stack';
import { anyAddr, errnoName, literalLookup, sockAddr } from './kernel-util';

const HIGH_WATER = 1 << 20;
const LOW_WATER = HIGH_WATER >> 2;
/** How long a closed socket may still flush what was written before shutdown('write'). */
const LINGER_MS = 30_000;

type State = 'idle' | 'listening' | 'connecting' | 'connected' | 'closed';

export class KernelTcp {
  readonly protocol = 'tcp' as const;
  readonly family: Family;
  readonly #events: StackEvents;
  #state: State = 'idle';
  #local: SockAddr | null = null;
  #sock: net.Socket | null = null;
  #server: net.Server | null = null;
  #listening = false;
  readonly #accepts = new Fifo<net.Socket>(8);
  readonly #rx = new Fifo<Buffer>(16);
  #rxOffset = 0;
  #rxBytes = 0;
  #paused = false;
  #eof = false;
  #readShut = false;
  #writeShut = false;
  #needDrain = false;
  #reset = false;
  #error: string | null = null;
  #peer: SockAddr | null = null;
  readonly #opts = { noDelay: false, keepAlive: false, reuseAddr: true };

  constructor(family: Family, events: StackEvents, accepted?: net.Socket) {
    this.family = family;
    this.#events = events;
    if (accepted !== undefined) this.#attach(accepted, 'connected');
  }

  bind(addr: SockAddr): void {
    if (addr.family !== this.family) throw new StackError('EAFNOSUPPORT', 'bind', addr);
    if (this.#state !== 'idle' || this.#local !== null) throw new StackError('EINVAL', 'bind', addr);
    this.#local = { ...addr };
  }

  listen(backlog: number): void {
    if (this.#state === 'listening') return;
    if (this.#state !== 'idle') throw new StackError('EINVAL', 'listen');
    const local = this.#local ?? anyAddr(this.family);
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    server.on('connection', (s: net.Socket) => this.#onConnection(s));
    server.on('listening', () => {
      this.#listening = true;
      this.#events.notify(0);
    });
    server.on('error', (err) => this.#fail(err, EPOLLERR));
    this.#server = server;
    this.#state = 'listening';
    server.listen({ host: local.address, port: local.port, backlog, exclusive: true });
    server.unref(); // nSockets decide what keeps the process alive
  }

  accept(events: StackEvents): { socket: KernelTcp; peer: SockAddr } | null {
    const s = this.#accepts.shift();
    if (s === undefined) return null;
    s.removeAllListeners('error');
    const child = new KernelTcp(this.family, events, s);
    return { socket: child, peer: child.getpeername() };
  }

  connect(addr: SockAddr): void {
    if (addr.family !== this.family) throw new StackError('EAFNOSUPPORT', 'connect', addr);
    if (this.#state === 'connecting') throw new StackError('EALREADY', 'connect', addr);
    if (this.#state !== 'idle') throw new StackError('EISCONN', 'connect', addr);
    const sock = net.connect({
      host: addr.address,
      port: addr.port,
      family: addr.family,
      localAddress: this.#local?.address,
      localPort: this.#local?.port || undefined,
      allowHalfOpen: true,
      lookup: literalLookup as unknown as net.LookupFunction,
    });
    this.#peer = { ...addr };
    this.#attach(sock, 'connecting');
  }

  /** `owned`: the caller hands `data` over (no copy); otherwise it may reuse it at once. */
  send(data: Uint8Array, owned = false): number {
    if (this.#error !== null && this.#reset) throw new StackError(this.#error, 'send');
    if (this.#state === 'connecting') return 0;
    if (this.#state !== 'connected' || this.#sock === null) throw new StackError(this.#state === 'closed' ? 'EBADF' : 'ENOTCONN', 'send');
    if (this.#writeShut || this.#reset) throw new StackError('EPIPE', 'send');
    if (this.#needDrain) return 0;
    if (!this.#sock.write(owned ? data : Buffer.from(data))) this.#needDrain = true;
    return data.length;
  }

  recv(into: Uint8Array): { bytes: number; from: SockAddr } | null {
    if (!this.#readable('recv')) return null;
    let n = 0;
    const rx = this.#rx;
    while (n < into.length) {
      const b = rx.peek();
      if (b === undefined) break;
      const take = Math.min(b.length - this.#rxOffset, into.length - n);
      into.set(b.subarray(this.#rxOffset, this.#rxOffset + take), n);
      n += take;
      this.#rxOffset += take;
      if (this.#rxOffset === b.length) {
        rx.shift();
        this.#rxOffset = 0;
      }
    }
    this.#consumed(n);
    const from = this.#peer as SockAddr;
    if (n > 0) return { bytes: n, from };
    return this.#atEnd() ? { bytes: 0, from } : null;
  }

  /** The next received buffer itself (at most `max` bytes of it), without a copy. */
  recvOwned(max: number): Uint8Array | null {
    if (!this.#readable('recv')) return null;
    const b = this.#rx.peek();
    if (b === undefined) return this.#atEnd() ? new Uint8Array(0) : null;
    let out: Buffer;
    if (this.#rxOffset === 0 && b.length <= max) {
      this.#rx.shift();
      out = b;
    } else {
      const end = Math.min(b.length, this.#rxOffset + max);
      out = b.subarray(this.#rxOffset, end);
      this.#rxOffset = end;
      if (end === b.length) {
        this.#rx.shift();
        this.#rxOffset = 0;
      }
    }
    this.#consumed(out.length);
    return out;
  }

  /** Whether reading makes sense now (false: not yet); throws when it never will. */
  #readable(syscall: string): boolean {
    if (this.#state === 'connected') return true;
    if (this.#state === 'connecting' || this.#state === 'listening') return false;
    throw new StackError(this.#state === 'closed' ? 'EBADF' : 'ENOTCONN', syscall);
  }

  #consumed(n: number): void {
    this.#rxBytes -= n;
    if (this.#paused && this.#rxBytes < LOW_WATER && this.#sock !== null) {
      this.#paused = false;
      this.#sock.resume();
    }
  }

  /** Nothing queued: the end of the stream (true), a pending reset (throws), or not yet. */
  #atEnd(): boolean {
    if (this.#eof || this.#readShut) return true;
    if (this.#reset && this.#error !== null) throw new StackError(this.#error, 'recv');
    return false;
  }

  recvBatch(): number {
    throw new StackError('EOPNOTSUPP', 'recvBatch');
  }

  shutdown(how: ShutdownHow): void {
    if (this.#state !== 'connected' || this.#sock === null) throw new StackError('ENOTCONN', 'shutdown');
    if (how !== 'write' && !this.#readShut) {
      this.#readShut = true;
      this.#rx.clear();
      this.#rxBytes = 0;
      if (this.#paused) {
        this.#paused = false;
        this.#sock.resume();
      }
    }
    if (how !== 'read' && !this.#writeShut) {
      this.#writeShut = true;
      this.#sock.end();
    }
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#rx.clear();
    for (let s = this.#accepts.shift(); s !== undefined; s = this.#accepts.shift()) s.destroy();
    const server = this.#server;
    this.#server = null;
    if (server !== null) {
      server.removeAllListeners();
      server.on('error', () => undefined);
      server.close();
    }
    const sock = this.#sock;
    this.#sock = null;
    if (sock === null) return;
    sock.removeAllListeners();
    sock.on('error', () => undefined);
    if (this.#writeShut && !sock.writableFinished && !sock.destroyed) {
      // What was written before shutdown('write') still goes out, as after close(2).
      const linger = setTimeout(() => sock.destroy(), LINGER_MS);
      linger.unref();
      sock.resume(); // discard what still arrives
      sock.once('finish', () => {
        clearTimeout(linger);
        sock.destroy();
      });
    } else {
      sock.destroy();
    }
  }

  getsockname(): SockAddr {
    if (this.#server !== null) {
      const a = this.#server.address();
      if (a === null || typeof a === 'string') throw new StackError(this.#error ?? 'EINPROGRESS', 'getsockname');
      return sockAddr(a.address, a.port, a.family);
    }
    if (this.#sock !== null && this.#sock.localAddress !== undefined) {
      return sockAddr(this.#sock.localAddress, this.#sock.localPort ?? 0, this.#sock.localFamily ?? this.family);
    }
    return this.#local !== null ? { ...this.#local } : anyAddr(this.family);
  }

  getpeername(): SockAddr {
    if (this.#state !== 'connected' || this.#peer === null) throw new StackError('ENOTCONN', 'getpeername');
    return { ...this.#peer };
  }

  getsockopt(name: SockOpt | 'error'): number | string | boolean {
    if (name === 'error') {
      const e = this.#error;
      if (!this.#reset) this.#error = null; // a reset stays: every later call fails with it
      return e ?? 0;
    }
    if (name === 'noDelay' || name === 'keepAlive' || name === 'reuseAddr') return this.#opts[name];
    throw new StackError('ENOPROTOOPT', 'getsockopt');
  }

  setsockopt(name: SockOpt, value: number | boolean): void {
    if (name !== 'noDelay' && name !== 'keepAlive' && name !== 'reuseAddr') throw new StackError('ENOPROTOOPT', 'setsockopt');
    this.#opts[name] = value === true;
    this.#applyOptions();
  }

  epGetEvt(): number {
    switch (this.#state) {
      case 'listening':
        return (this.#accepts.length > 0 ? EPOLLIN : 0) | (this.#error !== null ? EPOLLERR : 0);
      case 'connecting':
        return this.#error !== null ? EPOLLERR | EPOLLHUP : 0;
      case 'connected': {
        let ev = 0;
        if (this.#rxBytes > 0 || this.#eof || this.#reset) ev |= EPOLLIN;
        if (this.#eof) ev |= EPOLLRDHUP;
        if (!this.#needDrain && !this.#writeShut && !this.#reset) ev |= EPOLLOUT;
        if (this.#reset || (this.#eof && this.#writeShut)) ev |= EPOLLHUP;
        if (this.#error !== null) ev |= EPOLLERR;
        return ev;
      }
      default:
        return 0;
    }
  }

  #attach(sock: net.Socket, state: 'connecting' | 'connected'): void {
    this.#sock = sock;
    this.#state = state;
    sock.unref(); // nSockets decide what keeps the process alive
    if (state === 'connected') this.#peer = sockAddr(sock.remoteAddress ?? '', sock.remotePort ?? 0, sock.remoteFamily ?? this.family);
    sock.on('connect', () => {
      this.#state = 'connected';
      this.#applyOptions();
      this.#events.notify(EPOLLOUT);
    });
    sock.on('data', (chunk: Buffer) => this.#onData(chunk));
    sock.on('end', () => {
      this.#eof = true;
      this.#events.notify(EPOLLIN | EPOLLRDHUP);
    });
    sock.on('drain', () => {
      this.#needDrain = false;
      this.#events.notify(EPOLLOUT);
    });
    sock.on('error', (err) => {
      this.#reset = true;
      this.#fail(err, EPOLLERR | EPOLLHUP);
    });
    sock.on('close', () => {
      if (this.#state === 'closed') return;
      if (!this.#eof || !this.#writeShut) this.#reset = true;
      this.#events.notify(EPOLLHUP);
    });
    if (state === 'connected') {
      this.#applyOptions();
      sock.resume(); // accepted paused (pauseOnConnect)
    }
  }

  #applyOptions(): void {
    const sock = this.#sock;
    if (sock === null || this.#state !== 'connected') return;
    sock.setNoDelay(this.#opts.noDelay);
    sock.setKeepAlive(this.#opts.keepAlive);
  }

  #onConnection(s: net.Socket): void {
    s.unref();
    s.on('error', () => s.destroy()); // reset before accept(): dropped, as the kernel would
    this.#accepts.push(s);
    this.#events.notify(EPOLLIN);
  }

  #onData(chunk: Buffer): void {
    if (this.#readShut) return;
    this.#rx.push(chunk);
    this.#rxBytes += chunk.length;
    if (!this.#paused && this.#rxBytes >= HIGH_WATER && this.#sock !== null) {
      this.#paused = true;
      this.#sock.pause();
    }
    this.#events.notify(EPOLLIN);
  }

  #fail(err: unknown, events: number): void {
    if (this.#state === 'closed') return;
    this.#error = errnoName(err);
    this.#events.notify(events);
  }
}
