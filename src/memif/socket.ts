/**
 * MemifSocket: one memif socket path (filesystem or '@abstract') hosting any number of
 * interfaces of either role. Its listener, control connections, reconnect timer and the
 * interfaces' interrupt eventfds are members of the nStack engine's EventPoll: the C library
 * asks for them through its fd-update callback, and readiness goes back into it. Readiness bits
 * cross as epoll bits both ways (the binding maps them to the C library's, in C).
 */
import { FD_OPS, checkAbi } from '../abi';
import { ClosedError } from '../errors';
import { native, type NativeLinkEvent, type NativeMemifSocket } from '../native';
import { defaultEngine, type Engine } from '../nstack/engine';
import { logger } from '../nstack/log';
import { trackSocket, untrackSocket } from './cleanup';
import { MemifInterface, linkEvent, type InterfaceSocket } from './interface';
import { resolveInterfaceOptions, resolveSocketOptions, type InterfaceOptions, type ResolvedSocketOptions, type SocketOptions } from './options';
import { socketError } from './native-errors';

const log = logger('memif');

/**
 * One memif socket path (filesystem, or '@name' for an abstract socket) hosting any number of
 * interfaces of either role. The directory of a filesystem path must exist (SocketPathError
 * ERR_NMEMIF_SOCKET_DIR_MISSING otherwise, for either role).
 *
 * Like a net.Server, an open socket keeps the process alive; unref() lets the process exit while
 * it is open. Open sockets are closed at process exit; on SIGINT/SIGTERM too when the program
 * has no handler of its own (see {@link SocketOptions.handleSignals}). `using sock = new
 * MemifSocket(...)` closes it at the end of the scope.
 */
export class MemifSocket implements InterfaceSocket {
  /** The options in effect, defaults applied. */
  readonly options: ResolvedSocketOptions;
  /** The event engine the socket's file descriptors are watched by (one per thread by default). */
  readonly engine: Engine;
  #native: NativeMemifSocket | null;
  #interfaces = new Map<number, MemifInterface>();
  /** The fds the C library asked us to watch, and whether they keep the process alive. */
  readonly #fds = new Set<number>();
  #ref = true;

  constructor(options: SocketOptions | string = {}, engine: Engine = defaultEngine()) {
    this.options = resolveSocketOptions(options);
    this.engine = engine;
    checkAbi();
    try {
      this.#native = new native.MemifSocket(this.options, (fd, op, events, token) => this.#fdUpdate(fd, op, events, token));
    } catch (err) {
      throw socketError(err, this.options.path);
    }
    trackSocket(this, this.options.handleSignals);
    log.debug('socket %s open', this.options.path);
  }

  /** The socket path ('@name' for an abstract socket). */
  get path(): string {
    return this.options.path;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#native === null;
  }

  /** The interfaces currently on this socket. */
  get interfaces(): MemifInterface[] {
    return [...this.#interfaces.values()];
  }

  /** Creates an interface; a master makes the socket listen, a slave starts connecting. */
  createInterface(options: InterfaceOptions = {}): MemifInterface {
    const nat = this.#live('createInterface');
    const opts = resolveInterfaceOptions(options);
    let iface: MemifInterface;
    try {
      iface = new MemifInterface(this, nat, opts, (i) => this.#interfaces.delete(i.handle));
    } catch (err) {
      throw socketError(err, this.options.path);
    }
    this.#interfaces.set(iface.handle, iface);
    return iface;
  }

  /** Closes every interface (peers get a DISCONNECT), the listener, and removes the socket
   * file if this socket created it. */
  close(): void {
    const nat = this.#native;
    if (nat === null) return;
    this.#native = null;
    untrackSocket(this);
    const events = nat.close();
    this.#dispatch(events);
    for (const iface of this.#interfaces.values()) iface.orphan();
    this.#interfaces.clear();
    log.debug('socket %s closed', this.options.path);
  }

  /** Lets the socket keep the process alive again (the default). */
  ref(): this {
    this.#setRef(true);
    return this;
  }

  /** Lets the process exit while the socket is open (as net.Server's unref()); it keeps working
   * while something else keeps the process alive. */
  unref(): this {
    this.#setRef(false);
    return this;
  }

  /** Whether the socket keeps the process alive (see ref()/unref()). */
  hasRef(): boolean {
    return this.#ref;
  }

  /** close(), for `using` (TypeScript 5.2+). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** close(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** @internal re-dispatch events the native side queued during an interface call. */
  flushEvents(): void {
    if (this.#native) this.#dispatch(this.#native.takeEvents());
  }

  #live(what: string): NativeMemifSocket {
    if (this.#native === null) throw new ClosedError(`${what}: socket ${this.options.path} is closed`);
    return this.#native;
  }

  #fdUpdate(fd: number, op: number, events: number, token: number): void {
    if (op === FD_OPS.ADD) {
      this.engine.watch(fd, events, (revents) => this.#ready(token, revents), this.#ref);
      this.#fds.add(fd);
    } else if (op === FD_OPS.MOD) {
      this.engine.modify(fd, events);
    } else {
      this.engine.unwatch(fd);
      this.#fds.delete(fd);
    }
  }

  #setRef(ref: boolean): void {
    this.#ref = ref;
    for (const fd of this.#fds) this.engine.setRef(fd, ref);
  }

  #ready(token: number, revents: number): void {
    const nat = this.#native;
    if (nat === null) return;
    this.#dispatch(nat.fdReady(token, revents));
  }

  #dispatch(events: NativeLinkEvent[]): void {
    for (const [kind, handle, qid, reason, cause] of events) {
      const iface = this.#interfaces.get(handle);
      if (iface) linkEvent(iface, kind, qid, reason, cause);
    }
  }
}
