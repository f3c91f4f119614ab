/**
 * Helpers of the kernel stack (Node's dgram/net under the stack interface). Internal.
 */
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { StackError } from '../../errors';
import type { Family, SockAddr } from '../stack';

/** Stack errors Node reports are errno names already; anything else becomes EIO. */
export function errnoName(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in osConstants.errno) return code;
  return 'EIO';
}

/** A StackError for Node's error `err` from `syscall`. */
export function stackErrorOf(err: unknown, syscall: string, addr?: SockAddr): StackError {
  return new StackError(errnoName(err), syscall, addr, { cause: err });
}

/**
 * The `lookup` given to dgram/net: nSockets resolve names before a stack sees them, so the
 * kernel stack only ever passes IP literals, answered synchronously (which makes dgram's bind
 * and connect complete, or fail, within the call).
 */
export function literalLookup(
  hostname: string,
  options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string | Array<{ address: string; family: number }>, family?: number) => void,
): void {
  const family = isIP(hostname);
  if (family === 0) {
    callback(Object.assign(new Error(`${hostname} is not an IP address`), { code: 'EINVAL' }), '');
    return;
  }
  if (typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true) {
    callback(null, [{ address: hostname, family }]);
  } else {
    callback(null, hostname, family);
  }
}

export function sockAddr(address: string, port: number, family: Family | string | number): SockAddr {
  const fam: Family = family === 6 || family === 'IPv6' ? 6 : 4;
  return { address, port, family: fam };
}

export function anyAddr(family: Family): SockAddr {
  return { address: family === 4 ? '0.0.0.0' : '::', port: 0, family };
}
