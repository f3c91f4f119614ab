/**
 * Addresses at the nSocket surface: Node's spellings ('IPv4', AddressInfo, RemoteInfo), host
 * names resolved with dns.lookup before a stack sees them (stacks and nRD take IP literals).
 */
import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../../errors';
import type { Family, SockAddr } from '../stack';

/** An address as node:net and node:dgram's address() report it. */
export interface AddressInfo {
  /** The IP address as text. */
  address: string;
  /** 'IPv4' or 'IPv6'. */
  family: 'IPv4' | 'IPv6';
  /** The port. */
  port: number;
}

/** The sender of a received datagram, as node:dgram's 'message' event gives it. */
export interface RemoteInfo extends AddressInfo {
  /** The datagram's size in bytes. */
  size: number;
}

export function familyName(family: Family): 'IPv4' | 'IPv6' {
  return family === 4 ? 'IPv4' : 'IPv6';
}

export function addressInfo(a: SockAddr): AddressInfo {
  return { address: a.address, family: familyName(a.family), port: a.port };
}

export function anyAddress(family: Family): string {
  return family === 4 ? '0.0.0.0' : '::';
}

export function loopbackAddress(family: Family): string {
  return family === 4 ? '127.0.0.1' : '::1';
}

export function checkPort(port: unknown, what: string, allowZero: boolean): number {
  const n = typeof port === 'string' && /^[0-9]+$/.test(port) ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535) {
    throw new InvalidArgumentError(`${what} must be an integer from ${allowZero ? 0 : 1} to 65535, got ${String(port)}`);
  }
  return n;
}

/**
 * Resolves `host` for a socket of `family` (0 = either): `done(err, address, family)`, at once
 * (synchronously) for an IP literal, after dns.lookup for a name.
 */
export function resolveHost(host: string, family: Family | 0, done: (err: Error | null, address: string, family: Family) => void): void {
  const literal = isIP(host);
  if (literal !== 0) {
    if (family !== 0 && literal !== family) {
      done(new InvalidArgumentError(`${host} is an IPv${literal} address, the socket is IPv${family}`), '', family);
    } else {
      done(null, host, literal as Family);
    }
    return;
  }
  lookup(host, { family }, (err, address, fam) => {
    if (err) done(err, '', family || 4);
    else done(null, address, fam as Family);
  });
}
