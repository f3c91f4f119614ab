/**
 * Runs one sequence of operations on three pollers at once and compares what they report:
 *   - the kernel's own epoll (native probe, sys.epoll*), on real fds;
 *   - an EventPoll with the same real fds as members;
 *   - an EventPoll whose members are virtual sources mirroring those fds: poll() reads the
 *     fd's state with poll(2), and the harness notifies them exactly where the kernel wakes
 *     its waiters (eventfd write -> IN, eventfd read -> OUT, data from the peer -> IN, peer
 *     closed or shut down -> any).
 */
import { readdirSync } from 'node:fs';
import { EventPoll } from '../../src/nstack/event-poll';
import { sys } from '../../src/native';
import { EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP, formatEvents } from '../../src/nstack/constants';
import { VirtualSourceBase } from '../../src/nstack/virtual-source';

export class FdMirror extends VirtualSourceBase {
  constructor(readonly fd: number) {
    super();
  }
  poll(): number {
    return sys.poll(this.fd, EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP);
  }
  kick(events: number): void {
    this.wakeUp(events);
  }
}

interface Member {
  name: string;
  fd: number;
  peer: number; // -1 for an eventfd
  mirror: FdMirror;
}

/** What a poller reported: [name, 'IN|HUP'] pairs. */
export type Seen = Array<[string, string]>;

export class Trio {
  readonly kernel = sys.epollCreate();
  readonly real = new EventPoll<string>();
  readonly virtual = new EventPoll<string>();
  readonly members = new Map<string, Member>();
  #byFd = new Map<number, string>();

  eventfd(name: string): void {
    const fd = sys.eventfd();
    this.#track({ name, fd, peer: -1, mirror: new FdMirror(fd) });
  }

  socketpair(name: string, type: 'stream' | 'seqpacket' = 'stream'): void {
    const [fd, peer] = sys.socketpair(type);
    this.#track({ name, fd, peer, mirror: new FdMirror(fd) });
  }

  #track(m: Member): void {
    this.members.set(m.name, m);
    this.#byFd.set(m.fd, m.name);
  }

  #m(name: string): Member {
    const m = this.members.get(name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  ctl(op: 'add' | 'mod' | 'del', name: string, events = 0): void {
    const m = this.#m(name);
    sys.epollCtl(this.kernel, op, m.fd, events >>> 0, m.fd);
    if (op === 'del') {
      this.real.del(m.fd);
      this.virtual.del(m.mirror);
    } else {
      this.real.ctl(op, m.fd, events, name);
      this.virtual.ctl(op, m.mirror, events, name);
    }
  }

  /** Makes `name` readable: eventfd += 1, or one message from its peer. */
  write(name: string, bytes = 1): void {
    const m = this.#m(name);
    if (m.peer < 0) sys.eventfdWrite(m.fd, 1);
    else if (sys.write(m.peer, new Uint8Array(bytes)) !== bytes) throw new Error('short write');
    m.mirror.kick(EPOLLIN);
  }

  /** Consumes what `name` holds (eventfd counter, or all pending bytes). */
  drain(name: string): void {
    const m = this.#m(name);
    if (m.peer < 0) {
      if (sys.eventfdRead(m.fd) > 0n) m.mirror.kick(EPOLLOUT);
      return;
    }
    const buf = new Uint8Array(65536);
    for (let i = 0; i < 64 && sys.read(m.fd, buf) > 0; i++);
    // Reading frees room on the peer's side: only the peer's writers are woken.
  }

  shutdownPeer(name: string, how: 'wr' | 'rdwr'): void {
    const m = this.#m(name);
    sys.shutdown(m.peer, how);
    m.mirror.kick(0);
  }

  closePeer(name: string): void {
    const m = this.#m(name);
    sys.close(m.peer);
    m.peer = -2;
    m.mirror.kick(0);
  }

  /** One epoll_wait(maxEvents, 0) on each of the three, in the order reported. */
  async check(maxEvents = 16): Promise<{ kernel: Seen; real: Seen; virtual: Seen }> {
    const kernel: Seen = sys
      .epollWait(this.kernel, maxEvents, 0)
      .map(([fd, ev]) => [this.#byFd.get(fd) ?? `fd${fd}`, formatEvents(ev)]);
    const real: Seen = (await this.real.wait(maxEvents, 0)).map((e) => [e.data, formatEvents(e.events)]);
    const virtual: Seen = (await this.virtual.wait(maxEvents, 0)).map((e) => [e.data, formatEvents(e.events)]);
    return { kernel, real, virtual };
  }

  close(): void {
    this.real.close();
    this.virtual.close();
    sys.close(this.kernel);
    for (const m of this.members.values()) {
      sys.close(m.fd);
      if (m.peer >= 0) sys.close(m.peer);
    }
  }
}

export const sorted = (seen: Seen): Seen => [...seen].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

/** Number of open fds of this process (minus the one readdir itself opens). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length - 1;
}
