/**
 * Every error class of nmemif, in one place, each with a stable `code`.
 *
 * Match errors by `code` (stable across versions) or with `instanceof`, which also works
 * across several copies of the library thanks to a `Symbol.for` brand per class.
 *
 * Failed system calls made by the native addon are not listed here: like Node's own
 * (`fs`, `net`), they are plain `Error`s with `code` = the errno name (`'EBADF'`),
 * `errno` = the negative errno number and `syscall`.
 */

import { constants as osConstants } from 'node:os';

const kNmemifError = Symbol.for('nmemif.error');

/** Base class: `code` is a stable string starting with `ERR_NMEMIF_`. */
export class NmemifError extends Error {
  /** Stable across versions: match errors by it. Each subclass narrows it to its own codes. */
  readonly code: string;

  constructor(message: string, code = 'ERR_NMEMIF', options?: ErrorOptions) {
    super(message, options);
    this.name = 'NmemifError';
    this.code = code;
  }

  /** @internal `instanceof` by brand, so it works across copies of the library. */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kNmemifError] === true;
  }

  /** @internal the brand `instanceof` checks. */
  get [kNmemifError](): boolean {
    return true;
  }
}

/** Defines `instanceof` for a subclass through its own brand (see the file comment). */
function brand(cls: { prototype: object }, key: symbol): void {
  Object.defineProperty(cls.prototype, key, { value: true, enumerable: false });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (value: unknown) =>
      typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[key] === true,
  });
}

/** An argument has the wrong type or an out-of-range value. */
export class InvalidArgumentError extends NmemifError {
  /** Always `'ERR_NMEMIF_INVALID_ARG'`. */
  declare readonly code: 'ERR_NMEMIF_INVALID_ARG';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_INVALID_ARG', options);
    this.name = 'InvalidArgumentError';
  }
}
brand(InvalidArgumentError, Symbol.for('nmemif.error.InvalidArgumentError'));

/** The call is valid, but not in the object's current state. */
export class InvalidStateError extends NmemifError {
  /** Always `'ERR_NMEMIF_INVALID_STATE'`. */
  declare readonly code: 'ERR_NMEMIF_INVALID_STATE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_INVALID_STATE', options);
    this.name = 'InvalidStateError';
  }
}
brand(InvalidStateError, Symbol.for('nmemif.error.InvalidStateError'));

/** The object was closed; pending operations reject with this too. */
export class ClosedError extends NmemifError {
  /** Always `'ERR_NMEMIF_CLOSED'`. */
  declare readonly code: 'ERR_NMEMIF_CLOSED';
  constructor(message = 'closed', options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_CLOSED', options);
    this.name = 'ClosedError';
  }
}
brand(ClosedError, Symbol.for('nmemif.error.ClosedError'));

/** Adding something that is already registered (epoll_ctl's EEXIST). */
export class AlreadyRegisteredError extends NmemifError {
  /** Always `'ERR_NMEMIF_ALREADY_REGISTERED'`. */
  declare readonly code: 'ERR_NMEMIF_ALREADY_REGISTERED';
  /** The errno a kernel call would have failed with. */
  readonly errno = 'EEXIST';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_ALREADY_REGISTERED', options);
    this.name = 'AlreadyRegisteredError';
  }
}
brand(AlreadyRegisteredError, Symbol.for('nmemif.error.AlreadyRegisteredError'));

/** Modifying or removing something that is not registered (epoll_ctl's ENOENT). */
export class NotRegisteredError extends NmemifError {
  /** Always `'ERR_NMEMIF_NOT_REGISTERED'`. */
  declare readonly code: 'ERR_NMEMIF_NOT_REGISTERED';
  /** The errno a kernel call would have failed with. */
  readonly errno = 'ENOENT';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_NOT_REGISTERED', options);
    this.name = 'NotRegisteredError';
  }
}
brand(NotRegisteredError, Symbol.for('nmemif.error.NotRegisteredError'));

/** The native addon (nmemif.node) could not be found or loaded. */
export class NativeLoadError extends NmemifError {
  /** Always `'ERR_NMEMIF_NATIVE_LOAD'`. */
  declare readonly code: 'ERR_NMEMIF_NATIVE_LOAD';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_NATIVE_LOAD', options);
    this.name = 'NativeLoadError';
  }
}
brand(NativeLoadError, Symbol.for('nmemif.error.NativeLoadError'));

/** A memif socket cannot be used at its path (missing directory, live listener, not a socket, ...). */
export class SocketPathError extends NmemifError {
  /**
   * `'ERR_NMEMIF_SOCKET_DIR_MISSING'` (the socket's directory does not exist),
   * `'ERR_NMEMIF_ADDRESS_IN_USE'` (a live listener owns the path), `'ERR_NMEMIF_NOT_A_SOCKET'`
   * (a file that is not a socket is in the way), `'ERR_NMEMIF_PATH_TOO_LONG'` (longer than
   * sockaddr_un allows), `'ERR_NMEMIF_ACCESS_DENIED'` (no permission on the path).
   */
  declare readonly code:
    | 'ERR_NMEMIF_SOCKET_DIR_MISSING'
    | 'ERR_NMEMIF_ADDRESS_IN_USE'
    | 'ERR_NMEMIF_NOT_A_SOCKET'
    | 'ERR_NMEMIF_PATH_TOO_LONG'
    | 'ERR_NMEMIF_ACCESS_DENIED';
  /** The socket path that failed. */
  readonly path: string;
  constructor(message: string, code: SocketPathError['code'], path: string, options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'SocketPathError';
    this.path = path;
  }
}
brand(SocketPathError, Symbol.for('nmemif.error.SocketPathError'));

/** An interface with the same id and role already exists on the socket. */
export class DuplicateInterfaceError extends NmemifError {
  /** Always `'ERR_NMEMIF_DUPLICATE_INTERFACE'`. */
  declare readonly code: 'ERR_NMEMIF_DUPLICATE_INTERFACE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_DUPLICATE_INTERFACE', options);
    this.name = 'DuplicateInterfaceError';
  }
}
brand(DuplicateInterfaceError, Symbol.for('nmemif.error.DuplicateInterfaceError'));

/** The interface's link is down (a burst on a disconnected interface, or an operation the
 * disconnect interrupted). `reason` is the peer's or our own description, when known. */
export class NotConnectedError extends NmemifError {
  /** Always `'ERR_NMEMIF_NOT_CONNECTED'`. */
  declare readonly code: 'ERR_NMEMIF_NOT_CONNECTED';
  /** Why the link is down: the peer's DISCONNECT string or ours ('' when unknown). */
  readonly reason: string;
  constructor(message: string, reason = '', options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_NOT_CONNECTED', options);
    this.name = 'NotConnectedError';
    this.reason = reason;
  }
}
brand(NotConnectedError, Symbol.for('nmemif.error.NotConnectedError'));

/** The peer broke the memif protocol (bad descriptor, counter out of range...) and the link went
 * down with a DISCONNECT that says why (`reason`). Emitted as 'error' by interfaces created with
 * errorOnViolation; burst calls never throw it (they throw NotConnectedError with the reason). */
export class ProtocolError extends NmemifError {
  /** Always `'ERR_NMEMIF_PROTOCOL'`. */
  declare readonly code: 'ERR_NMEMIF_PROTOCOL';
  /** The violation, as the peer was told in the DISCONNECT. */
  readonly reason: string;
  constructor(message: string, reason = '', options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_PROTOCOL', options);
    this.name = 'ProtocolError';
    this.reason = reason;
  }
}
brand(ProtocolError, Symbol.for('nmemif.error.ProtocolError'));

/** A wait ran out of time (`whenConnected({ timeout })`); the message says what was awaited and
 * the last reason the link was not up, the `cause` is the last connection error when there is one. */
export class TimeoutError extends NmemifError {
  /** Always `'ERR_NMEMIF_TIMEOUT'`. */
  declare readonly code: 'ERR_NMEMIF_TIMEOUT';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_TIMEOUT', options);
    this.name = 'TimeoutError';
  }
}
brand(TimeoutError, Symbol.for('nmemif.error.TimeoutError'));

/** A connection attempt of an interface failed in the memif handshake (the peer refused it, e.g.
 * "incorrect secret", or it did not finish in time); emitted as 'connectionError'. A slave
 * retries by itself. */
export class HandshakeError extends NmemifError {
  /** Always `'ERR_NMEMIF_HANDSHAKE'`. */
  declare readonly code: 'ERR_NMEMIF_HANDSHAKE';
  /** Why: the peer's DISCONNECT string or ours. */
  readonly reason: string;
  constructor(message: string, reason: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_HANDSHAKE', options);
    this.name = 'HandshakeError';
    this.reason = reason;
  }
}
brand(HandshakeError, Symbol.for('nmemif.error.HandshakeError'));

/** A PacketBatch was used on buffers of a connection that went down: their shared memory is
 * unmapped (views of it read as empty). Receive or allocate again on the new connection. */
export class StaleBufferError extends NmemifError {
  /** Always `'ERR_NMEMIF_STALE_BUFFER'`. */
  declare readonly code: 'ERR_NMEMIF_STALE_BUFFER';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_STALE_BUFFER', options);
    this.name = 'StaleBufferError';
  }
}
brand(StaleBufferError, Symbol.for('nmemif.error.StaleBufferError'));

/** A bad bridge configuration value; `field` names it ("ports[1].memif", "--burst"). */
export class BridgeConfigError extends NmemifError {
  declare readonly code: 'ERR_NMEMIF_BRIDGE_CONFIG';
  /** The configuration field at fault. */
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(`${field}: ${message}`, 'ERR_NMEMIF_BRIDGE_CONFIG', options);
    this.name = 'BridgeConfigError';
    this.field = field;
  }
}
brand(BridgeConfigError, Symbol.for('nmemif.error.BridgeConfigError'));

/** The bridge needs DPDK but this build has none, or DPDK's EAL or a device failed. */
export class BridgeDpdkError extends NmemifError {
  declare readonly code: 'ERR_NMEMIF_BRIDGE_DPDK';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_BRIDGE_DPDK', options);
    this.name = 'BridgeDpdkError';
  }
}
brand(BridgeDpdkError, Symbol.for('nmemif.error.BridgeDpdkError'));

/** A bridge control socket problem: a missing directory or a path that is not a socket
 * (ERR_NMEMIF_BRIDGE_CONTROL), a bridge already listening (ERR_NMEMIF_BRIDGE_CONTROL_BUSY), a
 * malformed request (ERR_NMEMIF_BRIDGE_REQUEST). */
export class BridgeControlError extends NmemifError {
  declare readonly code: 'ERR_NMEMIF_BRIDGE_CONTROL' | 'ERR_NMEMIF_BRIDGE_CONTROL_BUSY' | 'ERR_NMEMIF_BRIDGE_REQUEST';
  constructor(message: string, code: BridgeControlError['code'] = 'ERR_NMEMIF_BRIDGE_CONTROL', options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'BridgeControlError';
  }
}
brand(BridgeControlError, Symbol.for('nmemif.error.BridgeControlError'));

/** No registered stack can carry a socket: the plane nRD chose has no stack, the stack named
 * does not exist, or it does not carry the protocol. */
export class NoStackError extends NmemifError {
  declare readonly code: 'ERR_NMEMIF_NO_STACK';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_NO_STACK', options);
    this.name = 'NoStackError';
  }
}
brand(NoStackError, Symbol.for('nmemif.error.NoStackError'));

/** nRD rules that do not validate; `field` names the culprit (`rules[2].prefix`, or '' for
 * the whole document), as BridgeConfigError does for the bridge's configuration. */
export class RulesError extends NmemifError {
  declare readonly code: 'ERR_NMEMIF_BAD_RULES';
  /** The rules field at fault (`rules[2].prefix`), or '' for the whole document. */
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(field === '' ? message : `${field}: ${message}`, 'ERR_NMEMIF_BAD_RULES', options);
    this.name = 'RulesError';
    this.field = field;
  }
}
brand(RulesError, Symbol.for('nmemif.error.RulesError'));

/** A thread that does not own the object called something only its owner may do (receiving,
 * binding, closing: other threads may only send). */
export class WrongThreadError extends NmemifError {
  declare readonly code: 'ERR_NMEMIF_WRONG_THREAD';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_WRONG_THREAD', options);
    this.name = 'WrongThreadError';
  }
}
brand(WrongThreadError, Symbol.for('nmemif.error.WrongThreadError'));

/** Every `code` defined above, as a literal type. */
export type NmemifErrorCode =
  | 'ERR_NMEMIF'
  | InvalidArgumentError['code']
  | InvalidStateError['code']
  | ClosedError['code']
  | AlreadyRegisteredError['code']
  | NotRegisteredError['code']
  | NativeLoadError['code']
  | SocketPathError['code']
  | DuplicateInterfaceError['code']
  | NotConnectedError['code']
  | ProtocolError['code']
  | TimeoutError['code']
  | HandshakeError['code']
  | StaleBufferError['code']
  | BridgeConfigError['code']
  | BridgeDpdkError['code']
  | BridgeControlError['code']
  | NoStackError['code']
  | RulesError['code']
  | WrongThreadError['code'];

const kAbortError = Symbol.for('nmemif.error.AbortError');

/**
 * A wait or an iteration was stopped through its AbortSignal; `cause` is the signal's reason. As
 * Node's own (events.once, timers/promises, fs): `name` 'AbortError', `code` 'ABORT_ERR'.
 */
export class AbortError extends Error {
  /** Always `'ABORT_ERR'`, as Node's. */
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: ErrorOptions) {
    super(message, options);
    this.name = 'AbortError';
  }

  /** @internal `instanceof` by brand, so it works across copies of the library. */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kAbortError] === true;
  }

  /** @internal the brand `instanceof` checks. */
  get [kAbortError](): boolean {
    return true;
  }
}

const kStackError = Symbol.for('nmemif.error.StackError');

/**
 * A socket operation failed the way the system call would have, Node-style (like the errors of
 * node:net and node:dgram): `code` is the errno name (`'ECONNREFUSED'`, `'EAGAIN'`), `errno` the
 * negative errno number when the name is a Linux one, `syscall` the operation, and `address` /
 * `port` the address involved, when there is one. Stacks throw it; nSockets emit it; a memif
 * slave that cannot reach its socket emits it as 'connectionError' (`connect ENOENT /run/vpp/memif.sock`).
 */
export class StackError extends Error {
  /** The errno name ('ECONNREFUSED', 'EAGAIN'). */
  readonly code: string;
  /** The negative errno number, or undefined when `code` is not a Linux errno name. */
  readonly errno: number | undefined;
  /** The operation that failed ('connect', 'bind', 'send', ...). */
  readonly syscall: string;
  /** The address involved, when there is one. */
  readonly address?: string;
  /** The port involved, when there is one. */
  readonly port?: number;

  constructor(code: string, syscall: string, address?: { address: string; port?: number }, options?: ErrorOptions) {
    const where = address === undefined ? '' : address.port === undefined ? ` ${address.address}` : ` ${address.address}:${address.port}`;
    super(`${syscall} ${code}${where}`, options);
    this.name = 'StackError';
    this.code = code;
    const n = (osConstants.errno as Record<string, number | undefined>)[code];
    this.errno = n === undefined ? undefined : -n;
    this.syscall = syscall;
    if (address !== undefined) {
      this.address = address.address;
      if (address.port !== undefined) this.port = address.port;
    }
  }

  /** @internal `instanceof` by brand, so it works across copies of the library. */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kStackError] === true;
  }

  /** @internal the brand `instanceof` checks. */
  get [kStackError](): boolean {
    return true;
  }
}
