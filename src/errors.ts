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

const kNmemifError = Symbol.for('nmemif.error');

/** Base class: `code` is a stable string starting with `ERR_NMEMIF_`. */
export class NmemifError extends Error {
  readonly code: string;

  constructor(message: string, code = 'ERR_NMEMIF', options?: ErrorOptions) {
    super(message, options);
    this.name = 'NmemifError';
    this.code = code;
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kNmemifError] === true;
  }

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
  declare readonly code: 'ERR_NMEMIF_INVALID_ARG';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_INVALID_ARG', options);
    this.name = 'InvalidArgumentError';
  }
}
brand(InvalidArgumentError, Symbol.for('nmemif.error.InvalidArgumentError'));

/** The call is valid, but not in the object's current state. */
export class InvalidStateError extends NmemifError {
  declare readonly code: 'ERR_NMEMIF_INVALID_STATE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_INVALID_STATE', options);
    this.name = 'InvalidStateError';
  }
}
brand(InvalidStateError, Symbol.for('nmemif.error.InvalidStateError'));

/** The object was closed; pending operations reject with this too. */
export class ClosedError extends NmemifError {
  declare readonly code: 'ERR_NMEMIF_CLOSED';
  constructor(message = 'closed', options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_CLOSED', options);
    this.name = 'ClosedError';
  }
}
brand(ClosedError, Symbol.for('nmemif.error.ClosedError'));

/** Adding something that is already registered (epoll_ctl's EEXIST). */
export class AlreadyRegisteredError extends NmemifError {
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
  declare readonly code: 'ERR_NMEMIF_NATIVE_LOAD';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_NATIVE_LOAD', options);
    this.name = 'NativeLoadError';
  }
}
brand(NativeLoadError, Symbol.for('nmemif.error.NativeLoadError'));

/** A memif socket cannot be used at its path (missing directory, live listener, not a socket, ...). */
export class SocketPathError extends NmemifError {
  declare readonly code:
    | 'ERR_NMEMIF_SOCKET_DIR_MISSING'
    | 'ERR_NMEMIF_ADDRESS_IN_USE'
    | 'ERR_NMEMIF_NOT_A_SOCKET'
    | 'ERR_NMEMIF_PATH_TOO_LONG'
    | 'ERR_NMEMIF_ACCESS_DENIED';
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
  declare readonly code: 'ERR_NMEMIF_NOT_CONNECTED';
  readonly reason: string;
  constructor(message: string, reason = '', options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_NOT_CONNECTED', options);
    this.name = 'NotConnectedError';
    this.reason = reason;
  }
}
brand(NotConnectedError, Symbol.for('nmemif.error.NotConnectedError'));

/** The peer broke the memif protocol (bad descriptor, counter out of range...); the link is
 * being torn down with a DISCONNECT that says why. */
export class ProtocolError extends NmemifError {
  declare readonly code: 'ERR_NMEMIF_PROTOCOL';
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_PROTOCOL', options);
    this.name = 'ProtocolError';
  }
}
brand(ProtocolError, Symbol.for('nmemif.error.ProtocolError'));

/**
 * A socket operation of a protocol stack failed the way a system call fails: `code` is the
 * errno name ('EAGAIN', 'ECONNREFUSED', 'EADDRINUSE', ...), as src/nstack/stack.ts describes,
 * and `syscall` the operation ('connect', 'send', ...). Not part of NmemifErrorCode: the
 * codes are the system's.
 */
export class StackError extends NmemifError {
  declare readonly code: string;
  readonly syscall: string;
  constructor(code: string, syscall: string, message = `${code}: ${syscall}`, options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'StackError';
    this.syscall = syscall;
  }
}
brand(StackError, Symbol.for('nmemif.error.StackError'));

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
  | ProtocolError['code'];
