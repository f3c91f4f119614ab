/**
 * Addresses of the lwIP stack: nlwip_addr_t bytes (native/stacks/lwip/include/nlwip.h) to
 * SockAddr, and the interface options' CIDR and MAC strings to bytes.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../../../errors';
import type { Family, SockAddr } from '../../stack';
import { ADDR_BYTES } from './native';

function hex4(b: Uint8Array, i: number): string {
  return ((b[i] << 8) | b[i + 1]).toString(16);
}

/** RFC 5952 text of 16 bytes at `at`: lowercase, the longest run of zero groups as "::". */
export function formatIPv6(b: Uint8Array, at = 0): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let g = 0; g < 8; ) {
    if (b[at + 2 * g] !== 0 || b[at + 2 * g + 1] !== 0) {
      g++;
      continue;
    }
    let e = g;
    while (e < 8 && b[at + 2 * e] === 0 && b[at + 2 * e + 1] === 0) e++;
    if (e - g > bestLen) {
      bestAt = g;
      bestLen = e - g;
    }
    g = e;
  }
  const part = (from: number, to: number) => {
    const out: string[] = [];
    for (let g = from; g < to; g++) out.push(hex4(b, at + 2 * g));
    return out.join(':');
  };
  if (bestAt < 0) return part(0, 8);
  return `${part(0, bestAt)}::${part(bestAt + bestLen, 8)}`;
}

/** Turns nlwip_addr_t records into SockAddrs; the text of the last address is reused, so a
 * stream of datagrams from one peer allocates no string. */
export class AddrReader {
  readonly #last = new Uint8Array(ADDR_BYTES);
  #text = '';

  /** The address at byte `at` of `raw`, written into `out` (or a new object). */
  read(raw: Uint8Array, at: number, out?: SockAddr): SockAddr {
    const family: Family = raw[at] === 6 ? 6 : 4;
    const port = raw[at + 2] | (raw[at + 3] << 8);   // host order: little-endian on Linux targets
    if (!this.#same(raw, at)) {
      this.#last.set(raw.subarray(at, at + ADDR_BYTES));
      const zone = raw[at + 1];
      this.#text = family === 4
        ? `${raw[at + 4]}.${raw[at + 5]}.${raw[at + 6]}.${raw[at + 7]}`
        : formatIPv6(raw, at + 4) + (zone !== 0 ? `%mf${zone - 1}` : '');
    }
    if (out === undefined) return { address: this.#text, port, family };
    out.address = this.#text;
    out.port = port;
    out.family = family;
    return out;
  }

  #same(raw: Uint8Array, at: number): boolean {
    const last = this.#last;
    if (this.#text === '') return false;
    // family, zone, then the address (the port is read each time)
    if (raw[at] !== last[0] || raw[at + 1] !== last[1]) return false;
    const n = raw[at] === 6 ? 16 : 4;
    for (let i = 4; i < 4 + n; i++) if (raw[at + i] !== last[i]) return false;
    return true;
  }
}

/** "10.0.0.1/24" -> address, mask bytes; throws naming `field`. */
export function parseIPv4Cidr(text: unknown, field: string): { ip: Uint8Array; mask: Uint8Array; prefix: number; address: string } {
  const m = typeof text === 'string' ? /^([^/]+)\/(\d{1,2})$/.exec(text) : null;
  const prefix = m ? Number(m[2]) : -1;
  if (m === null || !isIPv4(m[1]) || prefix < 1 || prefix > 32) {
    throw new InvalidArgumentError(`${field}: expected an IPv4 address with a prefix length such as "10.0.0.1/24", got ${JSON.stringify(text)}`);
  }
  const mask = new Uint8Array(4);
  for (let i = 0; i < prefix; i++) mask[i >> 3] |= 0x80 >> (i & 7);
  return { ip: ipv4Bytes(m[1]), mask, prefix, address: m[1] };
}

export function ipv4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** "fd00::1/64" -> 16 bytes. lwIP treats an address's /64 as on-link, so only /64 is taken. */
export function parseIPv6Cidr(text: unknown, field: string): { ip: Uint8Array; address: string } {
  const m = typeof text === 'string' ? /^([^/%]+)\/(\d{1,3})$/.exec(text) : null;
  if (m === null || !isIPv6(m[1])) {
    throw new InvalidArgumentError(`${field}: expected an IPv6 address with its prefix such as "fd00::1/64", got ${JSON.stringify(text)}`);
  }
  if (m[2] !== '64') throw new InvalidArgumentError(`${field}: the prefix must be /64 (lwIP takes an address's /64 as on-link), got /${m[2]}`);
  const ip = ipv6Bytes(m[1]);
  if (ip[0] === 0xff || (ip[0] === 0xfe && (ip[1] & 0xc0) === 0x80) || ip.every((v) => v === 0)) {
    throw new InvalidArgumentError(`${field}: ${m[1]} is not a unicast global or unique-local address (link-local is configured by itself)`);
  }
  return { ip, address: formatIPv6(ip) };
}

function ipv6Bytes(text: string): Uint8Array {
  let t = text;
  // an embedded IPv4 tail ("::ffff:1.2.3.4") as two groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (v4) {
    const b = ipv4Bytes(v4[1]);
    t = `${t.slice(0, v4.index)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = t.includes('::') ? t.split('::') : [t, undefined];
  const h = head === '' ? [] : head.split(':');
  const tl = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - tl.length).fill('0'), ...tl];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** "02:fe:00:00:00:01" -> 6 bytes (a unicast MAC); undefined -> a random locally administered one. */
export function parseMac(text: unknown, field: string): Uint8Array {
  if (text === undefined) {
    const mac = randomBytes(6);
    mac[0] = (mac[0] & 0xfc) | 0x02;
    return new Uint8Array(mac);
  }
  if (typeof text !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) {
    throw new InvalidArgumentError(`${field}: expected a MAC address written xx:xx:xx:xx:xx:xx, got ${JSON.stringify(text)}`);
  }
  const mac = Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
  if (mac[0] & 1) throw new InvalidArgumentError(`${field}: ${text} is a multicast address`);
  return mac;
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}
