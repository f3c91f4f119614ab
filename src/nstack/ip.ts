/**
 * IP addresses as bytes, for nRD's prefix matching: IPv4 and IPv6 text forms (Node's spelling,
 * with `::` compression, an embedded IPv4 tail and an optional `%zone`), CIDR prefixes, and
 * IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) read as the IPv4 address they carry.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Family } from './stack';

/** An IP address as bytes. */
export interface IpAddress {
  /** 4 or 6. */
  family: Family;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

/** A CIDR prefix: the address bytes (host bits zero) and the prefix length. */
export interface IpPrefix extends IpAddress {
  /** Prefix length in bits. */
  length: number;
}

function v4Bytes(text: string, out: Uint8Array, at: number): void {
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

/** The address, or undefined when `text` is not an IPv4 or IPv6 address. */
export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) {
    const bytes = new Uint8Array(4);
    v4Bytes(text, bytes, 0);
    return { family: 4, bytes };
  }
  if (!isIPv6(text)) return undefined;
  const bare = text.split('%')[0];
  const bytes = new Uint8Array(16);
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, undefined];
  const words = (s: string | undefined) => (s === undefined || s === '' ? [] : s.split(':'));
  const fill = (list: string[], from: number): number => {
    let at = from;
    for (const w of list) {
      if (w.includes('.')) {
        v4Bytes(w, bytes, at);
        at += 4;
      } else {
        const n = parseInt(w, 16);
        bytes[at] = n >> 8;
        bytes[at + 1] = n & 0xff;
        at += 2;
      }
    }
    return at;
  };
  const headWords = words(head);
  fill(headWords, 0);
  if (tail !== undefined) {
    const tailWords = words(tail);
    const tailBytes = tailWords.reduce((n, w) => n + (w.includes('.') ? 4 : 2), 0);
    fill(tailWords, 16 - tailBytes);
  }
  return { family: 6, bytes };
}

/** `::ffff:a.b.c.d` as the IPv4 address; anything else unchanged. */
export function unmapIp(ip: IpAddress): IpAddress {
  if (ip.family !== 6) return ip;
  const b = ip.bytes;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return ip;
  if (b[10] !== 0xff || b[11] !== 0xff) return ip;
  return { family: 4, bytes: b.slice(12) };
}

/** Why `text` is not a CIDR prefix, or the prefix. Host bits must be zero. */
export function parsePrefix(text: string): IpPrefix | string {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (ip === undefined) return `${JSON.stringify(text)} is not an IPv4 or IPv6 prefix (like "10.0.0.0/8" or "fd00::/8")`;
  const max = ip.bytes.length * 8;
  let length = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    length = /^[0-9]{1,3}$/.test(lenText) ? Number(lenText) : NaN;
    if (!(length >= 0 && length <= max)) return `prefix length in ${JSON.stringify(text)} must be 0 to ${max}`;
  }
  const masked = maskBytes(ip.bytes, length);
  if (!masked.every((b, i) => b === ip.bytes[i])) {
    const fixed = formatIp({ family: ip.family, bytes: masked });
    return `${JSON.stringify(text)} has host bits set; did you mean "${fixed}/${length}"?`;
  }
  return { family: ip.family, bytes: ip.bytes, length };
}

function maskBytes(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    out[i] = bytes[i] & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Whether `ip` lies in `prefix` (families must match). */
export function prefixContains(prefix: IpPrefix, ip: IpAddress): boolean {
  if (prefix.family !== ip.family) return false;
  const full = prefix.length >> 3;
  for (let i = 0; i < full; i++) if (prefix.bytes[i] !== ip.bytes[i]) return false;
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (prefix.bytes[full] & mask) === (ip.bytes[full] & mask);
}

/** Dotted quad, or IPv6 with the longest run of zero words compressed. */
export function formatIp(ip: IpAddress): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i] << 8) | b[i + 1]);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}
