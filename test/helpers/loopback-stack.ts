/**
 * A third-party stack for the tests, plugged in with registerStack(): UDP in memory between
 * sockets of this thread, on any addresses (10.0.0.1 is as good as any). It is lossless: a
 * datagram to a socket whose queue is full is refused (send() returns 0, EPOLLOUT follows when
 * the receiver read), so counting tests can expect every datagram. It records what the
 * framework asked of it (moduleInit, epCtl, recycle) for the tests to check.
 */
import { StackError } from '../../src/errors';
import { EPOLLIN, EPOLLOUT } from '../../src/nstack/constants';
import type { DatagramList, Family, Protocol, SockAddr, SockOpt, StackEvents, StackModule } from '../../src/nstack/stack';

export interface LoopbackOptions {
  name?: string;
  plane?: string;
  priority?: number;
  /** Datagrams a socket holds before senders are refused (default 256). */
  queueLimit?: number;
}

interface Datagram {
  data: Uint8Array;
  from: SockAddr;
}

export class LoopSocket {
  readonly family: Family;
  readonly events: StackEvents;
  local: SockAddr | null = null;
  peer: SockAddr | null = null;
  readonly queue: Datagram[] = [];
  head = 0;
  blocked = false;
  readonly waitingSenders = new Set<LoopSocket>();
  closed = false;

  constructor(family: Family, events: StackEvents) {
    this.family = family;
    this.events = events;
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  take(): Datagram | undefined {
    if (this.head === this.queue.length) return undefined;
    const d = this.queue[this.head++];
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    return d;
  }
}

export interface LoopbackStack extends StackModule<LoopSocket> {
  readonly initCalls: number;
  readonly epCtlCalls: Array<[op: string, events: number]>;
  readonly recycled: string | null;
  readonly openSockets: number;
  /** Datagrams to an address nobody bound. */
  readonly unroutable: number;
}

export function createLoopbackStack(options: LoopbackOptions = {}): LoopbackStack {
  const limit = options.queueLimit ?? 256;
  const bound = new Map<string, LoopSocket>();
  const open = new Set<LoopSocket>();
  const epCtlCalls: Array<[string, number]> = [];
  let initCalls = 0;
  let recycled: string | null = null;
  let unroutable = 0;
  let nextPort = 40000;

  const key = (a: { address: string; port: number }) => `${a.address}|${a.port}`;
  const lookup = (to: SockAddr) => bound.get(key(to)) ?? bound.get(key({ address: to.family === 4 ? '0.0.0.0' : '::', port: to.port }));
  const live = (s: LoopSocket, syscall: string) => {
    if (s.closed) throw new StackError('EBADF', syscall);
    return s;
  };
  const bindTo = (s: LoopSocket, addr: SockAddr) => {
    if (s.local !== null) throw new StackError('EINVAL', 'bind', addr);
    let port = addr.port;
    if (port === 0) while (bound.has(key({ address: addr.address, port: (port = nextPort++) })));
    const a = { address: addr.address, port, family: addr.family };
    if (bound.has(key(a))) throw new StackError('EADDRINUSE', 'bind', a);
    bound.set(key(a), s);
    s.local = a;
  };
  const afterRead = (s: LoopSocket) => {
    if (s.queued > limit / 2 || s.waitingSenders.size === 0) return;
    const senders = [...s.waitingSenders];
    s.waitingSenders.clear();
    for (const w of senders) {
      w.blocked = false;
      if (!w.closed) w.events.notify(EPOLLOUT);
    }
  };
  const noTcp = (syscall: string) => {
    throw new StackError('EOPNOTSUPP', syscall);
  };

  return {
    name: options.name ?? 'loopback',
    plane: options.plane ?? 'nstack-test',
    priority: options.priority ?? 0,
    protocols: ['udp'],
    get initCalls() {
      return initCalls;
    },
    epCtlCalls,
    get recycled() {
      return recycled;
    },
    get openSockets() {
      return open.size;
    },
    get unroutable() {
      return unroutable;
    },
    moduleInit() {
      initCalls++;
    },
    socket(protocol: Protocol, family: Family, events: StackEvents) {
      if (protocol !== 'udp') throw new StackError('EPROTONOSUPPORT', 'socket');
      if (recycled !== null) throw new StackError('ESHUTDOWN', 'socket');
      const s = new LoopSocket(family, events);
      open.add(s);
      return s;
    },
    bind: (s, addr) => bindTo(live(s, 'bind'), addr),
    connect(s, addr) {
      live(s, 'connect').peer = { ...addr };
    },
    listen: () => noTcp('listen'),
    accept: () => noTcp('accept'),
    send(s, data, to) {
      live(s, 'send');
      const dest = to ?? s.peer;
      if (dest === null) throw new StackError('EDESTADDRREQ', 'send');
      if (s.local === null) bindTo(s, { address: s.family === 4 ? '0.0.0.0' : '::', port: 0, family: s.family });
      const r = lookup(dest);
      if (r === undefined || r.closed) {
        unroutable++;
        return data.length;
      }
      if (r.queued >= limit) {
        s.blocked = true;
        r.waitingSenders.add(s);
        return 0;
      }
      r.queue.push({ data: data.slice(), from: { ...(s.local as SockAddr) } });
      r.events.notify(EPOLLIN);
      return data.length;
    },
    recv(s, into) {
      const d = live(s, 'recv').take();
      if (d === undefined) return null;
      const n = Math.min(d.data.length, into.length);
      into.set(d.data.subarray(0, n));
      afterRead(s);
      return { bytes: n, from: d.from };
    },
    recvBatch(s, list: DatagramList) {
      live(s, 'recvBatch');
      let n = 0;
      let off = 0;
      while (n < list.offsets.length) {
        const d = s.queue[s.head];
        if (d === undefined || off + d.data.length > list.data.length) break;
        s.take();
        list.data.set(d.data, off);
        list.offsets[n] = off;
        list.lengths[n] = d.data.length;
        const a = list.addresses[n];
        if (a === undefined) list.addresses[n] = { ...d.from };
        else Object.assign(a, d.from);
        off += d.data.length;
        n++;
      }
      list.count = n;
      list.pending = s.queued;
      afterRead(s);
      return n;
    },
    shutdown: () => noTcp('shutdown'),
    close(s) {
      if (s.closed) return;
      s.closed = true;
      open.delete(s);
      if (s.local !== null && bound.get(key(s.local)) === s) bound.delete(key(s.local));
      s.queue.length = 0;
      s.head = 0;
    },
    getsockname: (s) => ({ ...(s.local ?? { address: s.family === 4 ? '0.0.0.0' : '::', port: 0, family: s.family }) }),
    getpeername(s) {
      if (s.peer === null) throw new StackError('ENOTCONN', 'getpeername');
      return { ...s.peer };
    },
    getsockopt(_s, name: SockOpt | 'error') {
      if (name === 'error') return 0;
      throw new StackError('ENOPROTOOPT', 'getsockopt');
    },
    setsockopt() {
      throw new StackError('ENOPROTOOPT', 'setsockopt');
    },
    epCtl(_s, op, events) {
      epCtlCalls.push([op, events >>> 0]);
    },
    epGetEvt: (s) => (s.closed ? 0 : (s.queued > 0 ? EPOLLIN : 0) | (s.blocked ? 0 : EPOLLOUT)),
    recycle(reason) {
      if (recycled !== null) return;
      recycled = reason;
      for (const s of open) s.closed = true;
      open.clear();
      bound.clear();
    },
  };
}
