/**
 * A UDP socket of the kernel stack: a node:dgram socket behind the non-blocking stack
 * operations. Received datagrams wait in a bounded queue (the newest is dropped when it is full,
 * as the kernel drops when a receive buffer is); sends are copied and handed to dgram, at most
 * MAX_INFLIGHT at a time (then send() returns 0 and EPOLLOUT follows). Internal.
 */
import * as dgram from 'node:dgram';
import { StackError } from '../../errors';
import { EPOLLERR, EPOLLIN, EPOLLOUT } from '../constants';
import { Fifo } from '../fifo';
import type { DatagramList, Family, SockAddr, SockOpt, StackEvents } from '../stack';
import { anyAddr, errnoName, literalLookup, sockAddr, stackErrorOf } from './kernel-util';

/** Datagrams handed to dgram whose callback has not run yet. */
const MAX_INFLIGHT = 512;
/** Received datagrams held until read. */
const MAX_QUEUED = 8192;
const MAX_PAYLOAD: Record<Family, number> = { 4: 65507, 6: 65527 };

interface Received {
  data: Buffer;
  from: SockAddr;
}

export class KernelUdp {
  readonly protocol = 'udp' as const;
  readonly family: Family;
  readonly #events: StackEvents;
  #sock: dgram.Socket | null = null;
  readonly #queue = new Fifo<Received>(64);
  #inflight = 0;
  #wantOut = false;
  #error: string | null = null;
  #capturing = false;
  #captured: unknown = null;
  #peer: SockAddr | null = null;
  #closed = false;
  /** Datagrams dropped because the queue was full. */
  drops = 0;
  readonly #opts = { reuseAddr: false, broadcast: false, ttl: 64, recvBufferSize: 0, sendBufferSize: 0 };

  constructor(family: Family, events: StackEvents) {
    this.family = family;
    this.#events = events;
  }

  bind(addr: SockAddr): void {
    this.#checkFamily(addr, 'bind');
    const sock = this.#ensure();
    this.#synchronously('bind', addr, () => sock.bind({ port: addr.port, address: addr.address, exclusive: true }));
  }

  connect(addr: SockAddr): void {
    this.#checkFamily(addr, 'connect');
    const sock = this.#ensure();
    if (this.#peer !== null) sock.disconnect();
    this.#synchronously('connect', addr, () => sock.connect(addr.port, addr.address));
    this.#peer = { ...addr };
  }

  send(data: Uint8Array, to?: SockAddr): number {
    if (this.#closed) throw new StackError('EBADF', 'send');
    if (to !== undefined) {
      if (this.#peer !== null) throw new StackError('EISCONN', 'send', to);
      this.#checkFamily(to, 'send');
    } else if (this.#peer === null) throw new StackError('EDESTADDRREQ', 'send');
    if (data.length > MAX_PAYLOAD[this.family]) throw new StackError('EMSGSIZE', 'send', to);
    if (this.#inflight >= MAX_INFLIGHT) {
      this.#wantOut = true;
      return 0;
    }
    const sock = this.#ensure();
    const copy = Buffer.from(data); // the caller may reuse its buffer at once
    this.#inflight++;
    try {
      if (to === undefined) sock.send(copy, this.#onSent);
      else sock.send(copy, to.port, to.address, this.#onSent);
    } catch (err) {
      this.#inflight--;
      throw stackErrorOf(err, 'send', to);
    }
    return data.length;
  }

  recv(into: Uint8Array): { bytes: number; from: SockAddr } | null {
    const m = this.#queue.shift();
    if (m === undefined) return null;
    const n = Math.min(m.data.length, into.length);
    into.set(n === m.data.length ? m.data : m.data.subarray(0, n));
    return { bytes: n, from: m.from };
  }

  recvBatch(list: DatagramList): number {
    const q = this.#queue;
    const cap = list.offsets.length;
    const room = list.data.length;
    let n = 0;
    let off = 0;
    while (n < cap) {
      const m = q.peek();
      if (m === undefined) break;
      let len = m.data.length;
      if (off + len > room) {
        if (n > 0) break; // the next batch takes it
        len = room; // bigger than the whole list: truncated, like recv()
      }
      list.data.set(len === m.data.length ? m.data : m.data.subarray(0, len), off);
      list.offsets[n] = off;
      list.lengths[n] = len;
      const a = list.addresses[n];
      if (a === undefined) list.addresses[n] = { ...m.from };
      else {
        a.address = m.from.address;
        a.port = m.from.port;
        a.family = m.from.family;
      }
      off += len;
      n++;
      q.shift();
    }
    list.count = n;
    list.pending = q.length;
    return n;
  }

  shutdown(): void {
    throw new StackError('EOPNOTSUPP', 'shutdown');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    const sock = this.#sock;
    this.#sock = null;
    if (sock === null) return;
    sock.removeAllListeners('message');
    sock.removeAllListeners('listening');
    sock.on('error', () => undefined); // a late send error of a closed socket is nobody's business
    try {
      sock.close();
    } catch {
      // already closed
    }
  }

  getsockname(): SockAddr {
    if (this.#sock === null) return anyAddr(this.family);
    try {
      const a = this.#sock.address();
      return sockAddr(a.address, a.port, a.family);
    } catch {
      return anyAddr(this.family); // not bound yet: Linux says 0.0.0.0:0 too
    }
  }

  getpeername(): SockAddr {
    if (this.#peer === null) throw new StackError('ENOTCONN', 'getpeername');
    return { ...this.#peer };
  }

  getsockopt(name: SockOpt | 'error'): number | string | boolean {
    switch (name) {
      case 'error': {
        const e = this.#error;
        this.#error = null;
        return e ?? 0;
      }
      case 'reuseAddr':
      case 'broadcast':
      case 'ttl':
        return this.#opts[name];
      case 'recvBufferSize':
      case 'sendBufferSize':
        if (this.#sock !== null && this.#bound()) {
          return name === 'recvBufferSize' ? this.#sock.getRecvBufferSize() : this.#sock.getSendBufferSize();
        }
        return this.#opts[name];
      default:
        throw new StackError('ENOPROTOOPT', 'getsockopt');
    }
  }

  setsockopt(name: SockOpt, value: number | boolean): void {
    switch (name) {
      case 'reuseAddr':
        if (this.#sock !== null) throw new StackError('EISCONN', 'setsockopt'); // dgram takes it at creation
        this.#opts.reuseAddr = value === true;
        return;
      case 'broadcast':
        this.#opts.broadcast = value === true;
        break;
      case 'ttl':
      case 'recvBufferSize':
      case 'sendBufferSize':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new StackError('EINVAL', 'setsockopt');
        this.#opts[name] = value;
        break;
      default:
        throw new StackError('ENOPROTOOPT', 'setsockopt');
    }
    if (this.#sock !== null && this.#bound()) this.#applyOptions(this.#sock);
  }

  epGetEvt(): number {
    if (this.#closed) return 0;
    let ev = 0;
    if (this.#queue.length > 0) ev |= EPOLLIN;
    if (this.#inflight < MAX_INFLIGHT) ev |= EPOLLOUT;
    if (this.#error !== null) ev |= EPOLLERR;
    return ev;
  }

  #bound(): boolean {
    try {
      this.#sock?.address();
      return true;
    } catch {
      return false;
    }
  }

  #checkFamily(addr: SockAddr, syscall: string): void {
    if (addr.family !== this.family) throw new StackError('EAFNOSUPPORT', syscall, addr);
  }

  /** Runs a dgram call that completes synchronously (literal lookup); its 'error' is thrown. */
  #synchronously(syscall: string, addr: SockAddr, call: () => void): void {
    this.#capturing = true;
    this.#captured = null;
    try {
      call();
    } catch (err) {
      throw stackErrorOf(err, syscall, addr);
    } finally {
      this.#capturing = false;
    }
    if (this.#captured !== null) {
      const err = this.#captured;
      this.#captured = null;
      throw stackErrorOf(err, syscall, addr);
    }
  }

  #ensure(): dgram.Socket {
    if (this.#closed) throw new StackError('EBADF', 'socket');
    if (this.#sock !== null) return this.#sock;
    const o = this.#opts;
    const sock = dgram.createSocket({
      type: this.family === 4 ? 'udp4' : 'udp6',
      reuseAddr: o.reuseAddr,
      lookup: literalLookup as unknown as dgram.SocketOptions['lookup'],
    });
    sock.unref(); // nSockets decide what keeps the process alive
    sock.on('message', (data, rinfo) => this.#onMessage(data, rinfo));
    sock.on('error', (err) => this.#onError(err));
    sock.on('listening', () => this.#applyOptions(sock));
    this.#sock = sock;
    return sock;
  }

  #applyOptions(sock: dgram.Socket): void {
    const o = this.#opts;
    sock.setBroadcast(o.broadcast);
    sock.setTTL(o.ttl);
    if (o.recvBufferSize > 0) sock.setRecvBufferSize(o.recvBufferSize);
    if (o.sendBufferSize > 0) sock.setSendBufferSize(o.sendBufferSize);
  }

  #onMessage(data: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#queue.length >= MAX_QUEUED) {
      this.drops++;
      return;
    }
    this.#queue.push({ data, from: sockAddr(rinfo.address, rinfo.port, rinfo.family) });
    this.#events.notify(EPOLLIN); // each arrival, as the kernel wakes on each datagram
  }

  #onError(err: unknown): void {
    if (this.#capturing) {
      this.#captured = err;
      return;
    }
    this.#error = errnoName(err);
    this.#events.notify(EPOLLERR);
  }

  readonly #onSent = (err: Error | null): void => {
    this.#inflight--;
    if (this.#closed) return;
    if (err) {
      this.#error = errnoName(err);
      this.#events.notify(EPOLLERR);
    } else if (this.#wantOut && this.#inflight <= MAX_INFLIGHT / 2) {
      this.#wantOut = false;
      this.#events.notify(EPOLLOUT);
    }
  };
}
