/**
 * Turns the C library's failures to create a socket or an interface (native exceptions whose
 * `code` is the errno name) into the project's error classes with messages that say what to
 * do. Burst calls have their own rule (queue.ts).
 */
import { DuplicateInterfaceError, InvalidArgumentError, NmemifError, SocketPathError } from '../errors';

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
