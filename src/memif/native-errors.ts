/**
 * Turns the C library's errors (negative errno returns, or native exceptions whose `code` is
 * the errno name) into the project's error classes with messages that say what to do.
 */
import {
  DuplicateInterfaceError,
  InvalidArgumentError,
  NmemifError,
  NotConnectedError,
  ProtocolError,
  SocketPathError,
} from '../errors';

const ERRNO: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  13: 'EACCES',
  17: 'EEXIST',
  22: 'EINVAL',
  34: 'ERANGE',
  36: 'ENAMETOOLONG',
  71: 'EPROTO',
  88: 'ENOTSOCK',
  95: 'ENOTSUP',
  98: 'EADDRINUSE',
  105: 'ENOBUFS',
  107: 'ENOTCONN',
};

export function errnoName(ret: number): string {
  return ERRNO[-ret] ?? `E${-ret}`;
}

/** An error for a failed socket/interface creation (native exception with an errno `code`). */
export function socketError(err: unknown, path: string): Error {
  const code = (err as { code?: string })?.code;
  const cause = { cause: err };
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new SocketPathError(
        `socket directory for ${path} does not exist: create it (mkdir -p) or choose another path`,
        'ERR_NMEMIF_SOCKET_DIR_MISSING',
        path,
        cause,
      );
    case 'EADDRINUSE':
      return new SocketPathError(
        `${path} is in use by a live memif listener (another process, or another socket object here); ` +
          'use a different path, or add the interface to the socket that already listens',
        'ERR_NMEMIF_ADDRESS_IN_USE',
        path,
        cause,
      );
    case 'ENOTSOCK':
      return new SocketPathError(`${path} exists and is not a socket; it is left alone: remove it or choose another path`, 'ERR_NMEMIF_NOT_A_SOCKET', path, cause);
    case 'ENAMETOOLONG':
      return new SocketPathError(`socket path ${path} is too long (at most 107 bytes)`, 'ERR_NMEMIF_PATH_TOO_LONG', path, cause);
    case 'EACCES':
    case 'EPERM':
      return new SocketPathError(`no permission to create ${path}`, 'ERR_NMEMIF_ACCESS_DENIED', path, cause);
    case 'EEXIST':
      return new DuplicateInterfaceError('an interface with this id and role already exists on this socket', cause);
    case 'EINVAL':
    case 'ERANGE':
      return new InvalidArgumentError(`invalid interface configuration: ${(err as Error).message}`, cause);
    default:
      return err instanceof Error ? err : new NmemifError(String(err));
  }
}

/** An error for a negative return of a burst call. */
export function burstError(ret: number, what: string, reason = ''): Error {
  switch (ret) {
    case -107:
      return new NotConnectedError(`${what}: interface not connected${reason ? ` (${reason})` : ''}`, reason);
    case -71:
      return new ProtocolError(`${what}: the peer violated the memif protocol; the link is going down`);
    case -105:
      return new InvalidArgumentError(`${what}: the next packet is a chain longer than the batch; use a larger batch`);
    case -22:
      return new InvalidArgumentError(`${what}: buffers must be the ones the last alloc/swap returned, in order, with lengths within their capacity`);
    case -34:
      return new InvalidArgumentError(`${what}: queue out of range`);
    case -95:
      return new InvalidArgumentError(`${what}: only a slave can swap buffers (zero-copy forwarding)`);
    default:
      return new NmemifError(`${what} failed: ${errnoName(ret)}`);
  }
}
