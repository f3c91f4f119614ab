/**
 * The `kernel` stack (plane `nstack-linux`): the Linux stack through Node's own node:dgram
 * and node:net, under the stack plug-in interface (DMM's kernel adapter). Every thread's
 * registry starts with one.
 */
import { StackError } from '../../errors';
import type { DatagramList, Family, Protocol, ShutdownHow, SockAddr, SockOpt, StackEvents, StackModule } from '../stack';
import { KernelTcp } from './kernel-tcp';
import { KernelUdp } from './kernel-udp';

/** The kernel stack's own socket handle. */
export type KernelSocket = KernelUdp | KernelTcp;

/** The kernel stack's name in the registry. */
export const KERNEL_STACK = 'kernel';
/** The plane nRD rules use for the kernel stack. */
export const KERNEL_PLANE = 'nstack-linux';

/** Options of {@link createKernelStack}. */
export interface KernelStackOptions {
  /** nRD priority (0 = highest); default 1, so a user-space stack registered with priority 0
   * becomes the default for sockets no rule places. */
  priority?: number;
}

/** The kernel stack module (its socket handles are its own business: `unknown` to others). */
export interface KernelStack extends StackModule<unknown> {
  /** Sockets open now. */
  readonly openSockets: number;
}

/** A new kernel stack. Each thread's registry starts with one; to give it another priority, unregisterStack(KERNEL_STACK) and register one made here. */
export function createKernelStack(options: KernelStackOptions = {}): KernelStack {
  const open = new Set<KernelSocket>();
  let recycled: string | null = null;

  const track = <T extends KernelSocket>(s: T): T => {
    if (recycled !== null) {
      s.close();
      throw new StackError('ESHUTDOWN', 'socket');
    }
    open.add(s);
    return s;
  };
  const udp = (s: KernelSocket, syscall: string): KernelUdp => {
    if (s.protocol !== 'udp') throw new StackError('EOPNOTSUPP', syscall);
    return s;
  };
  const tcp = (s: KernelSocket, syscall: string): KernelTcp => {
    if (s.protocol !== 'tcp') throw new StackError('EOPNOTSUPP', syscall);
    return s;
  };

  return {
    name: KERNEL_STACK,
    plane: KERNEL_PLANE,
    priority: options.priority ?? 1,
    protocols: ['udp', 'tcp'],
    get openSockets() {
      return open.size;
    },

    socket(protocol: Protocol, family: Family, events: StackEvents): KernelSocket {
      if (family !== 4 && family !== 6) throw new StackError('EAFNOSUPPORT', 'socket');
      if (protocol === 'udp') return track(new KernelUdp(family, events));
      if (protocol === 'tcp') return track(new KernelTcp(family, events));
      throw new StackError('EPROTONOSUPPORT', 'socket');
    },
    bind: (s: KernelSocket, addr: SockAddr) => s.bind(addr),
    connect: (s: KernelSocket, addr: SockAddr) => s.connect(addr),
    listen: (s: KernelSocket, backlog: number) => tcp(s, 'listen').listen(backlog),
    accept(s: KernelSocket, events: StackEvents) {
      const r = tcp(s, 'accept').accept(events);
      if (r !== null) track(r.socket);
      return r;
    },
    send: (s: KernelSocket, data: Uint8Array, to?: SockAddr) => (s.protocol === 'udp' ? s.send(data, to) : s.send(data)),
    sendOwned: (s: KernelSocket, data: Uint8Array) => tcp(s, 'send').send(data, true),
    recv: (s: KernelSocket, into: Uint8Array) => s.recv(into),
    recvOwned: (s: KernelSocket, max: number) => tcp(s, 'recv').recvOwned(max),
    recvBatch: (s: KernelSocket, list: DatagramList) => udp(s, 'recvBatch').recvBatch(list),
    shutdown: (s: KernelSocket, how: ShutdownHow) => (s.protocol === 'udp' ? s.shutdown() : s.shutdown(how)),
    close(s: KernelSocket) {
      open.delete(s);
      s.close();
    },
    getsockname: (s: KernelSocket) => s.getsockname(),
    getpeername: (s: KernelSocket) => s.getpeername(),
    getsockopt: (s: KernelSocket, name: SockOpt | 'error') => s.getsockopt(name),
    setsockopt: (s: KernelSocket, name: SockOpt, value: number | boolean) => s.setsockopt(name, value),
    epGetEvt: (s: KernelSocket) => s.epGetEvt(),
    recycle(reason: string) {
      if (recycled !== null) return;
      recycled = reason;
      for (const s of open) s.close();
      open.clear();
    },
  };
}
