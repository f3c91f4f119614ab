/**
 * The stack plug-in interface of the nStack socket layer (after FD.io DMM's
 * `nstack_stack_register_fn`): what a protocol stack gives the framework so that nSockets can
 * run over it. Two stacks ship with nmemif: `kernel` (plane `nstack-linux`, Node's own
 * dgram/net) and `lwip` (plane `nstack-memif`, lwIP in this process over memif); a third party
 * plugs its own in with `registerStack()`.
 *
 * The framework calls the socket operations with the stack's own socket handle `S` (what the
 * stack returned from `socket()`/`accept()`), like DMM calls a stack with its own fd. Every
 * operation is non-blocking: what cannot be done now fails with a StackError whose `code` is
 * the errno name (`'EAGAIN'`, `'ECONNREFUSED'`, ...), and the stack later reports readiness
 * through the socket's `StackEvents.notify` (DMM's `event_cb`). The framework re-checks with
 * `epGetEvt()` before it delivers an event (DMM's `ep_getevt`), so a stale notify is harmless.
 *
 * Threads: a stack instance and its sockets belong to the thread that registered it (the
 * owner). Other threads send through the framework's multi-producer send queue, which the
 * owner drains by calling send(); a stack never sees a call from another thread.
 */

/** Transport protocols nRD rules and stacks know. */
export type Protocol = 'udp' | 'tcp';
/** IP version of a socket: 4 (IPv4) or 6 (IPv6). */
export type Family = 4 | 6;

/** An address as Node spells it ('10.0.0.1', '::1'), with a port. */
export interface SockAddr {
  /** The IP address as text ('10.0.0.1', '::1'). */
  address: string;
  /** The port, 0..65535 (0 = any, when binding). */
  port: number;
  /** 4 or 6. */
  family: Family;
}

/** Which way(s) shutdown() closes. */
export type ShutdownHow = 'read' | 'write' | 'both';

/** Socket options every stack understands (others may be stack-specific). */
export type SockOpt = 'reuseAddr' | 'noDelay' | 'keepAlive' | 'broadcast' | 'recvBufferSize' | 'sendBufferSize' | 'ttl';

/**
 * Reusable receive storage for recvBatch(): datagrams are copied back to back into `data`,
 * datagram i being data[offsets[i] .. offsets[i] + lengths[i]) from addresses[i]. Allocated
 * once by the application; a batch receive allocates nothing per datagram.
 */
export interface DatagramList {
  /** The bytes of every datagram held, back to back. */
  readonly data: Uint8Array;
  /** Where datagram i starts in `data`. */
  readonly offsets: Uint32Array;
  /** How long datagram i is. */
  readonly lengths: Uint32Array;
  /** Sender of each datagram (objects are reused between batches). */
  readonly addresses: SockAddr[];
  /** Datagrams held after the last recvBatch(). */
  count: number;
  /** Datagrams that did not fit the list since the last call stay queued: how many wait. */
  pending: number;
}

/** Given to a stack per socket: how the stack reports readiness (DMM's event_cb). */
export interface StackEvents {
  /** EPOLL* bits that changed (0 = unknown); call it whenever a waiter may care. */
  notify(events: number): void;
}

/** The socket operations of a stack (DMM's socket ops); `S` is the stack's own socket handle. */
export interface StackSocketOps<S> {
  /** A new socket of this protocol and family; `events` is how it reports readiness. */
  socket(protocol: Protocol, family: Family, events: StackEvents): S;
  /** Binds the socket to a local address (port 0: the stack picks one). */
  bind(s: S, addr: SockAddr): void;
  /** UDP: sets the default destination. TCP: starts connecting; completion is EPOLLOUT
   * (then getsockopt(s, 'error') is 0) or EPOLLERR/EPOLLHUP with the error in getsockopt. */
  connect(s: S, addr: SockAddr): void;
  /** TCP: starts accepting connections, at most `backlog` waiting. */
  listen(s: S, backlog: number): void;
  /** A pending connection, or null (EAGAIN). The new socket reports through `events`. */
  accept(
    s: S,
    events: StackEvents,
  ): {
    /** The stack's handle of the accepted connection. */
    socket: S;
    /** The address it came from. */
    peer: SockAddr;
  } | null;
  /** UDP: one whole datagram to `to` (or the connected peer); returns its length, or 0 when
   * the stack has no room now (EPOLLOUT follows). TCP: bytes accepted (0..data.length). */
  send(s: S, data: Uint8Array, to?: SockAddr): number;
  /** UDP: one datagram (truncated to `into`), null if none. TCP: bytes read, 0 = end of stream,
   * null = nothing now. */
  recv(
    s: S,
    into: Uint8Array,
  ): {
    /** Bytes written at the start of `into`. */
    bytes: number;
    /** The sender (UDP) or the connected peer (TCP). */
    from: SockAddr;
  } | null;
  /** UDP only: fills `list` from the start; returns list.count. */
  recvBatch(s: S, list: DatagramList): number;
  /** TCP: ends reading, writing (a FIN after what is queued) or both. */
  shutdown(s: S, how: ShutdownHow): void;
  /** Releases the socket and everything it holds; no notify after this returns. */
  close(s: S): void;
  /** The local address the socket is bound to. */
  getsockname(s: S): SockAddr;
  /** The address of the connected peer (throws a StackError 'ENOTCONN' when there is none). */
  getpeername(s: S): SockAddr;
  /** 'error' reads (and clears) the pending error as an errno name, or 0. */
  getsockopt(s: S, name: SockOpt | 'error'): number | string | boolean;
  /** Sets one option; an option the stack does not support throws a StackError 'ENOPROTOOPT'. */
  setsockopt(s: S, name: SockOpt, value: number | boolean): void;
  /** Optional fast path (TCP): like send(), but the stack may keep `data` instead of copying
   * it; the caller never changes it afterwards (as with a Buffer written to a node:net socket). */
  sendOwned?(s: S, data: Uint8Array): number;
  /** Optional fast path (TCP): like recv(), but hands over a buffer of at most `max` bytes that
   * the stack never touches again; null = nothing now, an empty buffer = end of stream. For
   * stacks whose data already sits in buffers of their own (the kernel stack's). */
  recvOwned?(s: S, max: number): Uint8Array | null;
}

/** Readiness hooks (DMM's ep_ctl / ep_getevt). */
export interface StackEpollOps<S> {
  /** The socket joined ('add'), changed ('mod') or left ('del') an EventPoll with `events`:
   * a stack may start or stop producing notifications accordingly. Optional. */
  epCtl?(s: S, op: 'add' | 'mod' | 'del', events: number): void;
  /** The socket's current readiness (EPOLL* bits); called before each delivery. */
  epGetEvt(s: S): number;
}

/** What registerStack() takes. */
export interface StackModule<S = unknown> extends StackSocketOps<S>, StackEpollOps<S> {
  /** Unique stack name ('kernel', 'lwip'). */
  readonly name: string;
  /** The plane nRD rules refer to ('nstack-linux', 'nstack-memif'). */
  readonly plane: string;
  /** 0 = highest. Without a matching rule the highest-priority stack carries the socket
   * (ties: the first registered), as in DMM. */
  readonly priority: number;
  /** Protocols this stack carries. */
  readonly protocols: readonly Protocol[];
  /** Called once when registered, before any socket (DMM's module_init). */
  moduleInit?(): void;
  /** Releases every socket and resource of the stack (close(), process exit, signals): DMM's
   * recycle function. Idempotent. */
  recycle(reason: string): void;
}
