/**
 * The lwIP stack as a StackModule (name 'lwip', plane 'nstack-memif'): lwIP 2.1 in this
 * process (DMM's deploy type 1), one netif per memif interface (netif.ts).
 *
 * Threads. This thread owns the stack: it takes frames into lwIP when a queue's interrupt
 * fires, and makes every socket call, each one native call under lwIP's core lock. lwIP's
 * own thread only runs timers; when it changes a socket (a retransmission timeout, a reset,
 * an ACK that frees room) it wakes this thread through an eventfd in the engine.
 *
 * Readiness. The native side keeps each socket's EPOLL* bits in a word this side reads
 * without a call (epGetEvt), and lists the sockets whose bits rose; after every native call,
 * if the list is not empty, each listed socket's StackEvents.notify() is called with them.
 *
 * Transmission. Frames lwIP emits during a socket call wait in the netif's burst; a
 * microtask sends them once this turn of the loop has made its calls (poll() sends its own).
 */
import { InvalidArgumentError, InvalidStateError, NmemifError, StackError } from '../../../errors';
import { MemifSocket } from '../../../memif/socket';
import { EXIT_ORDER_NSTACK, addExitHook, removeExitHook } from '../../../exit-hooks';
import { defaultEngine, type Engine } from '../../engine';
import { EPOLLIN } from '../../constants';
import { logger } from '../../log';
import type { DatagramList, Family, Protocol, ShutdownHow, SockAddr, SockOpt, StackEvents, StackModule } from '../../stack';
import { AddrReader } from './addr';
import { LwipNetifDriver, type LwipNetif, type NetifHost } from './netif';
import {
  ADDR_BYTES,
  COUNTER_NAMES,
  EAGAIN_RET,
  OPTIONS,
  PROTO_TCP,
  PROTO_UDP,
  SHARED_CHANGED,
  SHARED_TX_QUEUED,
  lwipNative,
  nativeUnavailableReason,
  type NativeLwipStack,
} from './native';
import { resolveInterface, type LwipInterfaceOptions } from './options';
import { LwipSocket } from './socket';

const log = logger('lwip');

/** Changed sockets taken per native call. */
const CHANGED_BATCH = 256;
const SHUT: Record<ShutdownHow, number> = { read: 1, write: 2, both: 3 };
const BOOLEAN_OPTS = new Set<SockOpt>(['reuseAddr', 'noDelay', 'keepAlive', 'broadcast']);

/** Options of createLwipStack(). */
export interface LwipStackOptions {
  /** Netifs to add at once (more with addInterface()). */
  interfaces?: LwipInterfaceOptions[];
  /** After the last frame, keep polling the interfaces this long (µs) before sleeping on
   * their interrupts: lower latency for a peer that answers soon, at the price of CPU.
   * 0 = sleep at once. Default BUSY_POLL_US. */
  busyPollUs?: number;
}

export const BUSY_POLL_US = 0;

export interface LwipStack extends StackModule<unknown> {
  /** Adds a netif over a memif interface; throws InvalidArgumentError naming a bad field. */
  addInterface(options: LwipInterfaceOptions): LwipNetif;
  /** The netifs of the stack, in the order they were added. */
  readonly interfaces: readonly LwipNetif[];
  /** = recycle('closed'): every PCB, netif, memif interface it opened, fd. */
  close(): void;
  /** A socket (StackModule's close). */
  close(s: unknown): void;
}

/** Native errors (code = errno name) become StackErrors; argument errors InvalidArgumentErrors. */
function stackError(err: unknown, syscall: string): Error {
  if (err instanceof NmemifError) return err;
  const e = err as { code?: unknown; message?: string };
  if (typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return new StackError(e.code, syscall, undefined, { cause: err });
  if (err instanceof TypeError || err instanceof RangeError) return new InvalidArgumentError(`${syscall}: ${err.message}`, { cause: err });
  return err as Error;
}

export class LwipStackImpl implements LwipStack, NetifHost {
  readonly name = 'lwip';
  readonly plane = 'nstack-memif';
  readonly priority = 1;
  readonly protocols: readonly Protocol[] = ['udp', 'tcp'];
  readonly engine: Engine;
  readonly busyPollMs: number;
  #native: NativeLwipStack | null;
  readonly #readiness: Uint32Array;
  readonly #shared: Uint32Array;
  readonly #wakeFd: number;
  /** Sockets by native id. */
  readonly #sockets: Array<LwipSocket | undefined> = [];
  readonly #changed = new Uint32Array(2 * CHANGED_BATCH);
  #draining = false;
  #flushQueued = false;
  readonly #netifs: LwipNetifDriver[] = [];
  readonly #memifSockets = new Map<string, MemifSocket>();
  readonly #addrOut = new Uint8Array(ADDR_BYTES);
  #batchAddrs = new Uint8Array(ADDR_BYTES * 64);
  readonly #pending = new Uint32Array(1);
  readonly #reader = new AddrReader();
  readonly #onExit = (): void => this.close();
  readonly #flushTask = (): void => {
    this.#flushQueued = false;
    if (this.#native !== null && this.#shared[SHARED_TX_QUEUED] !== 0) this.#native.flush();
  };

  constructor(options: LwipStackOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object');
    if (options.interfaces !== undefined && !Array.isArray(options.interfaces)) throw new InvalidArgumentError('interfaces: expected an array');
    const reason = nativeUnavailableReason();
    if (reason !== '') throw new InvalidStateError(`the lwIP stack is not available: ${reason}`);
    const busy = options.busyPollUs ?? BUSY_POLL_US;
    if (!Number.isInteger(busy) || busy < 0 || busy > 1_000_000) throw new InvalidArgumentError(`busyPollUs: expected an integer from 0 to 1000000, got ${String(options.busyPollUs)}`);
    this.busyPollMs = busy / 1000;
    const resolved = (options.interfaces ?? []).map((o, i) => resolveInterface(o, `interfaces[${i}]`));
    try {
      this.#native = new lwipNative.LwipStack!();
    } catch (err) {
      if ((err as { code?: string }).code === 'EBUSY') {
        throw new InvalidStateError('an lwIP stack is already open in this process (lwIP keeps global state: one per process); close() it first', { cause: err });
      }
      throw err;
    }
    this.#readiness = this.#native.readiness;
    this.#shared = this.#native.shared;
    this.#wakeFd = this.#native.wakeFd;
    this.engine = defaultEngine();
    this.engine.watch(this.#wakeFd, EPOLLIN, () => this.#drain());
    // Closed at exit and on signals with the nStack layer, before the memif sockets it runs
    // over: connections are reset while the links are still up.
    addExitHook(this.#onExit, EXIT_ORDER_NSTACK);
    try {
      for (const r of resolved) this.#netifs.push(new LwipNetifDriver(this, r));
    } catch (err) {
      this.close();
      throw err;
    }
    log.debug('lwIP stack open with %d interface(s)', this.#netifs.length);
  }

  get native(): NativeLwipStack {
    if (this.#native === null) throw new InvalidStateError('the lwIP stack is closed');
    return this.#native;
  }

  get closed(): boolean {
    return this.#native === null;
  }

  get interfaces(): readonly LwipNetif[] {
    return [...this.#netifs];
  }

  addInterface(options: LwipInterfaceOptions): LwipNetif {
    void this.native; // closed: InvalidStateError, before a memif socket is opened
    const r = resolveInterface(options);
    const n = new LwipNetifDriver(this, r);
    this.#netifs.push(n);
    return n;
  }

  /** Counters of the stack (frames in and out, drops, wake-ups), for diagnostics and tests. */
  counters(): Record<(typeof COUNTER_NAMES)[number], number> {
    const c = this.native.counters();
    return Object.fromEntries(COUNTER_NAMES.map((k, i) => [k, c[i]])) as Record<(typeof COUNTER_NAMES)[number], number>;
  }

  memifSocket(path: string): MemifSocket {
    let s = this.#memifSockets.get(path);
    if (s === undefined || s.closed) {
      s = new MemifSocket(path, this.engine);
      this.#memifSockets.set(path, s);
    }
    return s;
  }

  // ---- module hooks ---------------------------------------------------------------------

  moduleInit(): void {
    void this.native; // throws if closed: nothing else to start, lwIP runs from construction
  }

  /** Every socket, netif, port, memif interface and socket this stack opened, and its fds. */
  recycle(reason: string): void {
    const nat = this.#native;
    if (nat === null) return;
    log.debug('lwIP stack recycled: %s', reason);
    removeExitHook(this.#onExit);
    this.engine.unwatch(this.#wakeFd);
    for (const n of this.#netifs) n.detach();
    // Connections are reset and the resets sent while the links are still up.
    nat.close();
    this.#native = null;
    for (const n of this.#netifs) n.release();
    this.#netifs.length = 0;
    for (const s of this.#memifSockets.values()) s.close();
    this.#memifSockets.clear();
    for (const s of this.#sockets) if (s !== undefined) s.closed = true;
    this.#sockets.length = 0;
  }

  // ---- NetifHost -------------------------------------------------------------------------

  after(): void {
    if (this.#shared[SHARED_CHANGED] !== 0) this.#drain();
    if (this.#shared[SHARED_TX_QUEUED] !== 0 && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Tells every changed socket; a notify that calls back into the stack is fine (the loop
   * goes on until the list is empty). */
  #drain(): void {
    if (this.#draining) return;
    const nat = this.#native;
    if (nat === null) return;
    this.#draining = true;
    let errors: unknown[] | null = null;
    try {
      const out = this.#changed;
      let n: number;
      do {
        n = nat.takeChanged(out);
        for (let i = 0; i < n; i++) {
          const s = this.#sockets[out[2 * i]];
          if (s === undefined || s.closed) continue;
          try {
            s.events.notify(out[2 * i + 1]);
          } catch (err) {
            (errors ??= []).push(err);
          }
        }
      } while (this.#native !== null && (n === CHANGED_BATCH || this.#shared[SHARED_CHANGED] !== 0));
    } finally {
      this.#draining = false;
    }
    if (errors !== null) {
      for (let i = 1; i < errors.length; i++) queueMicrotask(() => { throw errors![i]; });
      throw errors[0];
    }
  }

  // ---- socket operations ------------------------------------------------------------------

  #sock(s: unknown, what: string): LwipSocket {
    if (!(s instanceof LwipSocket) || s.owner !== this) throw new InvalidArgumentError(`${what}: not a socket of this lwIP stack`);
    if (s.closed) throw new StackError('EBADF', what);
    return s;
  }

  socket(protocol: Protocol, family: Family, events: StackEvents): LwipSocket {
    void this.native; // closed: InvalidStateError before anything else
    if (protocol !== 'udp' && protocol !== 'tcp') throw new InvalidArgumentError(`socket: protocol must be 'udp' or 'tcp', got ${String(protocol)}`);
    if (family !== 4 && family !== 6) throw new InvalidArgumentError(`socket: family must be 4 or 6, got ${String(family)}`);
    if (typeof events?.notify !== 'function') throw new InvalidArgumentError('socket: events must have a notify() function');
    const id = this.#call('socket', (nat) => nat.socket(protocol === 'udp' ? PROTO_UDP : PROTO_TCP, family));
    const s = new LwipSocket(this, id, protocol, family, events);
    this.#sockets[id] = s;
    return s;
  }

  /** A call off the hot path: native errors become StackErrors, changes are reported after. */
  #call<T>(what: string, fn: (nat: NativeLwipStack) => T): T {
    try {
      return fn(this.native);
    } catch (err) {
      throw stackError(err, what);
    } finally {
      this.after();
    }
  }

  bind(handle: unknown, addr: SockAddr): void {
    const s = this.#sock(handle, 'bind');
    this.#call('bind', (nat) => nat.bind(s.id, addr.address, addr.port));
  }

  connect(handle: unknown, addr: SockAddr): void {
    const s = this.#sock(handle, 'connect');
    this.#call('connect', (nat) => nat.connect(s.id, addr.address, addr.port));
  }

  listen(handle: unknown, backlog: number): void {
    const s = this.#sock(handle, 'listen');
    if (!Number.isInteger(backlog) || backlog < 0) throw new InvalidArgumentError(`listen: backlog must be an integer >= 0, got ${String(backlog)}`);
    this.#call('listen', (nat) => nat.listen(s.id, backlog));
  }

  accept(handle: unknown, events: StackEvents): { socket: LwipSocket; peer: SockAddr } | null {
    const s = this.#sock(handle, 'accept');
    if (typeof events?.notify !== 'function') throw new InvalidArgumentError('accept: events must have a notify() function');
    let id: number;
    try {
      id = this.native.accept(s.id, this.#addrOut);
    } catch (err) {
      throw stackError(err, 'accept');
    }
    this.after();
    if (id === EAGAIN_RET) return null;
    const child = new LwipSocket(this, id, 'tcp', s.family, events);
    this.#sockets[id] = child;
    return { socket: child, peer: this.#reader.read(this.#addrOut, 0) };
  }

  send(handle: unknown, data: Uint8Array, to?: SockAddr): number {
    const s = this.#sock(handle, 'send');
    let r: number;
    try {
      r = to === undefined ? this.native.send(s.id, data) : this.native.send(s.id, data, to.address, to.port);
    } catch (err) {
      throw stackError(err, 'send');
    } finally {
      this.after();
    }
    return r;
  }

  recv(handle: unknown, into: Uint8Array): { bytes: number; from: SockAddr } | null {
    const s = this.#sock(handle, 'recv');
    let r: number;
    try {
      r = this.native.recv(s.id, into, this.#addrOut);
    } catch (err) {
      throw stackError(err, 'recv');
    } finally {
      this.after();
    }
    if (r === EAGAIN_RET) return null;
    return { bytes: r, from: this.#reader.read(this.#addrOut, 0) };
  }

  recvBatch(handle: unknown, list: DatagramList): number {
    const s = this.#sock(handle, 'recvBatch');
    if (s.protocol !== 'udp') throw new StackError('EOPNOTSUPP', 'recvBatch');
    const max = Math.min(list.offsets.length, list.lengths.length);
    if (this.#batchAddrs.length < max * ADDR_BYTES) this.#batchAddrs = new Uint8Array(max * ADDR_BYTES);
    const raw = this.#batchAddrs;
    let n: number;
    try {
      n = this.native.recvBatch(s.id, list.data, list.offsets, list.lengths, raw, max, this.#pending);
    } catch (err) {
      throw stackError(err, 'recvBatch');
    } finally {
      this.after();
    }
    const addrs = list.addresses;
    for (let i = 0; i < n; i++) addrs[i] = this.#reader.read(raw, i * ADDR_BYTES, addrs[i]);
    list.count = n;
    list.pending = this.#pending[0];
    return n;
  }

  shutdown(handle: unknown, how: ShutdownHow): void {
    const s = this.#sock(handle, 'shutdown');
    const h = SHUT[how];
    if (h === undefined) throw new InvalidArgumentError(`shutdown: how must be 'read', 'write' or 'both', got ${String(how)}`);
    this.#call('shutdown', (nat) => nat.shutdown(s.id, h));
  }

  /** close(): the whole stack (recycle). close(socket): that socket. */
  close(handle?: unknown): void {
    if (handle === undefined) {
      this.recycle('closed');
      return;
    }
    // Released already by recycle(), which may run first (its own exit hook, or close()):
    // the nSocket over it closes without an error, as on the kernel stack.
    if (handle instanceof LwipSocket && handle.owner === this && handle.closed && this.#native === null) return;
    const s = this.#sock(handle, 'close');
    s.closed = true;
    this.#sockets[s.id] = undefined;
    this.#call('close', (nat) => nat.closeSocket(s.id));
  }

  getsockname(handle: unknown): SockAddr {
    return this.#name(handle, false);
  }

  getpeername(handle: unknown): SockAddr {
    return this.#name(handle, true);
  }

  #name(handle: unknown, peer: boolean): SockAddr {
    const what = peer ? 'getpeername' : 'getsockname';
    const s = this.#sock(handle, what);
    this.#call(what, (nat) => nat.sockname(s.id, peer, this.#addrOut));
    return this.#reader.read(this.#addrOut, 0);
  }

  getsockopt(handle: unknown, name: SockOpt | 'error'): number | string | boolean {
    const s = this.#sock(handle, 'getsockopt');
    if (name === 'error') return this.#call('getsockopt', (nat) => nat.sockError(s.id));
    const opt = OPTIONS[name];
    if (opt === undefined) throw new InvalidArgumentError(`getsockopt: unknown option ${String(name)}`);
    const v = this.#call('getsockopt', (nat) => nat.getopt(s.id, opt));
    return BOOLEAN_OPTS.has(name) ? v !== 0 : v;
  }

  setsockopt(handle: unknown, name: SockOpt, value: number | boolean): void {
    const s = this.#sock(handle, 'setsockopt');
    const opt = OPTIONS[name];
    if (opt === undefined) throw new InvalidArgumentError(`setsockopt: unknown option ${String(name)}`);
    if (typeof value !== 'boolean' && !Number.isInteger(value)) throw new InvalidArgumentError(`setsockopt: ${name} takes a boolean or an integer, got ${String(value)}`);
    this.#call('setsockopt', (nat) => nat.setopt(s.id, opt, typeof value === 'boolean' ? Number(value) : value));
  }

  // ---- readiness hooks ----------------------------------------------------------------------

  /** Readiness is always tracked; nothing to start or stop. */
  epCtl(handle: unknown): void {
    this.#sock(handle, 'epCtl');
  }

  epGetEvt(handle: unknown): number {
    if (!(handle instanceof LwipSocket) || handle.owner !== this || handle.closed || this.#native === null) return 0;
    return this.#readiness[handle.id];
  }
}
