/**
 * Building and parsing the frames the tools speak: Ethernet, ARP, IPv4 (+ header checksum),
 * ICMPv4 echo, UDP, IPv6, ICMPv6 echo and neighbour solicitation/advertisement (checksums over
 * the IPv6 pseudo-header). Everything works on a Uint8Array in place, so the responder can
 * turn a request into its answer inside the buffer it arrived in.
 */
export const ETH_HLEN = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const IPPROTO_ICMP = 1;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPV4_HLEN = 20;
export const IPV6_HLEN = 40;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_NS = 135;
export const ICMPV6_NA = 136;
export const MIN_FRAME = 60;
export const MAX_FRAME = 9000;

// ---- addresses -------------------------------------------------------------------------------

/** 'aa:bb:cc:dd:ee:ff' → 6 bytes, or undefined if malformed. */
export function parseMac(s: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) return undefined;
  return Uint8Array.from(s.split(':').map((h) => parseInt(h, 16)));
}

export function formatMac(b: Uint8Array, off = 0): string {
  return Array.from(b.subarray(off, off + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** A locally administered unicast MAC like VPP's default (02:fe:...). */
export function randomMac(): Uint8Array {
  const m = new Uint8Array(6);
  m[0] = 0x02;
  m[1] = 0xfe;
  for (let i = 2; i < 6; i++) m[i] = (Math.random() * 256) | 0;
  return m;
}

/** '192.168.1.2' → 4 bytes, or undefined. */
export function parseIPv4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^[0-9]{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return Uint8Array.from(parts.map(Number));
}

export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** An IPv6 address (with '::' shortening, no embedded IPv4) → 16 bytes, or undefined. */
export function parseIPv6(s: string): Uint8Array | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return undefined;
  const all = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

function equal(a: Uint8Array, aOff: number, b: Uint8Array, n = b.length): boolean {
  for (let i = 0; i < n; i++) if (a[aOff + i] !== b[i]) return false;
  return true;
}

// ---- checksums -------------------------------------------------------------------------------

/** Adds the 16-bit big-endian words of b[off..off+len) to a running sum (not folded). */
export function sum16(b: Uint8Array, off: number, len: number, acc = 0): number {
  let i = off;
  const end = off + len;
  for (; i + 1 < end; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (i < end) acc += b[i] << 8;
  return acc;
}

/** Folds a running sum into the one's complement checksum. */
export function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

export function ipv4HeaderChecksum(b: Uint8Array, ip: number): number {
  const ihl = (b[ip] & 0x0f) * 4;
  b[ip + 10] = b[ip + 11] = 0;
  const c = fold(sum16(b, ip, ihl));
  b[ip + 10] = c >> 8;
  b[ip + 11] = c & 0xff;
  return c;
}

/** True when a checksummed span (checksum field included) sums to 0xffff. */
export function checksumOk(b: Uint8Array, off: number, len: number, acc = 0): boolean {
  return fold(sum16(b, off, len, acc)) === 0;
}

function ipv6Pseudo(b: Uint8Array, ip: number, len: number, next: number): number {
  return sum16(b, ip + 8, 32) + len + next;
}

/** Writes the ICMPv6 (or other upper-layer) checksum at `csumAt` for payload [l4, l4+len). */
export function ipv6L4Checksum(b: Uint8Array, ip: number, l4: number, len: number, csumAt: number): void {
  b[csumAt] = b[csumAt + 1] = 0;
  const c = fold(sum16(b, l4, len, ipv6Pseudo(b, ip, len, b[ip + 6])));
  b[csumAt] = c >> 8;
  b[csumAt + 1] = c & 0xff;
}

// ---- Ethernet --------------------------------------------------------------------------------

export function etherType(b: Uint8Array): number {
  return (b[12] << 8) | b[13];
}

export function writeEth(b: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  b.set(dst, 0);
  b.set(src, 6);
  b[12] = type >> 8;
  b[13] = type & 0xff;
}

/** Replies go back where the request came from: dst = old src, src = `mac`. */
function ethReply(b: Uint8Array, mac: Uint8Array): void {
  b.copyWithin(0, 6, 12);
  b.set(mac, 6);
}

// ---- frames the sender builds ----------------------------------------------------------------

export interface FlowAddresses {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: Uint8Array;
  dstIp: Uint8Array;
}

/** Payload bytes after the headers: [seq u32][token u32][pattern...]; the pattern depends on seq. */
export const PROBE_HLEN = 8;

function writeIPv4(b: Uint8Array, a: FlowAddresses, total: number, proto: number, ident: number): void {
  const ip = ETH_HLEN;
  b[ip] = 0x45;
  b[ip + 1] = 0;
  b[ip + 2] = total >> 8;
  b[ip + 3] = total & 0xff;
  b[ip + 4] = (ident >> 8) & 0xff;
  b[ip + 5] = ident & 0xff;
  b[ip + 6] = 0x40; // don't fragment
  b[ip + 7] = 0;
  b[ip + 8] = 64;
  b[ip + 9] = proto;
  b.set(a.srcIp, ip + 12);
  b.set(a.dstIp, ip + 16);
  ipv4HeaderChecksum(b, ip);
}

function writeProbe(b: Uint8Array, at: number, end: number, seq: number, token: number): void {
  const dv = new DataView(b.buffer, b.byteOffset + at, PROBE_HLEN);
  dv.setUint32(0, seq >>> 0);
  dv.setUint32(4, token >>> 0);
  for (let i = at + PROBE_HLEN, k = seq; i < end; i++, k++) b[i] = k & 0xff;
}

/** Checks the pattern after the probe header (what an echo must return unchanged). */
export function probePatternOk(b: Uint8Array, at: number, end: number, seq: number): boolean {
  for (let i = at + PROBE_HLEN, k = seq; i < end; i++, k++) if (b[i] !== (k & 0xff)) return false;
  return true;
}

/** Offset of the ICMP/UDP payload in the frames built here. */
export const ICMP_PAYLOAD = ETH_HLEN + IPV4_HLEN + 8;
export const UDP_PAYLOAD = ETH_HLEN + IPV4_HLEN + 8;

/** An ICMPv4 echo request of `size` frame bytes (at least 60) into b[0..size). */
export function buildIcmpEcho(b: Uint8Array, size: number, a: FlowAddresses, ident: number, seq: number, token: number): void {
  writeEth(b, a.dstMac, a.srcMac, ETHERTYPE_IPV4);
  writeIPv4(b, a, size - ETH_HLEN, IPPROTO_ICMP, seq);
  const icmp = ETH_HLEN + IPV4_HLEN;
  b[icmp] = ICMP_ECHO_REQUEST;
  b[icmp + 1] = 0;
  b[icmp + 2] = b[icmp + 3] = 0;
  b[icmp + 4] = ident >> 8;
  b[icmp + 5] = ident & 0xff;
  b[icmp + 6] = (seq >> 8) & 0xff;
  b[icmp + 7] = seq & 0xff;
  writeProbe(b, ICMP_PAYLOAD, size, seq, token);
  const c = fold(sum16(b, icmp, size - icmp));
  b[icmp + 2] = c >> 8;
  b[icmp + 3] = c & 0xff;
}

/** A UDP datagram of `size` frame bytes (UDP checksum filled in). */
export function buildUdp(b: Uint8Array, size: number, a: FlowAddresses, srcPort: number, dstPort: number, seq: number, token: number): void {
  writeEth(b, a.dstMac, a.srcMac, ETHERTYPE_IPV4);
  writeIPv4(b, a, size - ETH_HLEN, IPPROTO_UDP, seq);
  const udp = ETH_HLEN + IPV4_HLEN;
  const len = size - udp;
  b[udp] = srcPort >> 8;
  b[udp + 1] = srcPort & 0xff;
  b[udp + 2] = dstPort >> 8;
  b[udp + 3] = dstPort & 0xff;
  b[udp + 4] = len >> 8;
  b[udp + 5] = len & 0xff;
  b[udp + 6] = b[udp + 7] = 0;
  writeProbe(b, UDP_PAYLOAD, size, seq, token);
  const pseudo = sum16(b, ETH_HLEN + 12, 8) + IPPROTO_UDP + len;
  const c = fold(sum16(b, udp, len, pseudo)) || 0xffff;
  b[udp + 6] = c >> 8;
  b[udp + 7] = c & 0xff;
}

export interface EchoReply {
  ident: number;
  seq16: number;
  /** The 32-bit sequence from the probe header. */
  seq: number;
  token: number;
}

/**
 * Parses an ICMPv4 echo reply addressed to `a.srcIp` (frame `b` of `len` bytes); checks the
 * IPv4 header checksum and the ICMP checksum. Returns undefined for anything else, 'bad' for a
 * reply whose checksums or lengths are wrong.
 */
export function parseEchoReply(b: Uint8Array, len: number, a: FlowAddresses): EchoReply | 'bad' | undefined {
  if (len < ICMP_PAYLOAD + PROBE_HLEN || etherType(b) !== ETHERTYPE_IPV4) return undefined;
  const ip = ETH_HLEN;
  if (b[ip] >> 4 !== 4 || b[ip + 9] !== IPPROTO_ICMP) return undefined;
  const ihl = (b[ip] & 0x0f) * 4;
  const icmp = ip + ihl;
  if (b[icmp] !== ICMP_ECHO_REPLY || !equal(b, ip + 16, a.srcIp)) return undefined;
  const total = (b[ip + 2] << 8) | b[ip + 3];
  if (ihl < 20 || total + ETH_HLEN > len || !checksumOk(b, ip, ihl) || !checksumOk(b, icmp, total - ihl)) return 'bad';
  if (total - ihl < 8 + PROBE_HLEN) return 'bad';
  const dv = new DataView(b.buffer, b.byteOffset);
  return {
    ident: dv.getUint16(icmp + 4),
    seq16: dv.getUint16(icmp + 6),
    seq: dv.getUint32(icmp + 8),
    token: dv.getUint32(icmp + 12),
  };
}

// ---- answering in place (the responder) ------------------------------------------------------

export interface Identity {
  mac: Uint8Array;
  ip?: Uint8Array;
  ip6?: Uint8Array;
}

export type Answer = 'arp' | 'icmp' | 'nd' | 'icmp6' | undefined;

/**
 * Turns a request addressed to `me` into its answer in place (same length), or returns
 * undefined and leaves the frame alone. ARP requests and ICMPv4 echo for `me.ip`; neighbour
 * solicitations and ICMPv6 echo for `me.ip6`. Requests with bad checksums are not answered.
 */
export function answerInPlace(b: Uint8Array, len: number, me: Identity): Answer {
  if (len < ETH_HLEN) return undefined;
  const type = etherType(b);
  if (type === ETHERTYPE_ARP && me.ip) return arpReply(b, len, me.mac, me.ip);
  if (type === ETHERTYPE_IPV4 && me.ip) return icmpReply(b, len, me.mac, me.ip);
  if (type === ETHERTYPE_IPV6 && me.ip6) return icmp6Reply(b, len, me.mac, me.ip6);
  return undefined;
}

function arpReply(b: Uint8Array, len: number, mac: Uint8Array, ip: Uint8Array): Answer {
  const a = ETH_HLEN;
  if (len < a + 28) return undefined;
  // Ethernet/IPv4, request, for our address
  if (b[a] !== 0 || b[a + 1] !== 1 || b[a + 2] !== 0x08 || b[a + 3] !== 0 || b[a + 4] !== 6 || b[a + 5] !== 4) return undefined;
  if (b[a + 6] !== 0 || b[a + 7] !== 1 || !equal(b, a + 24, ip)) return undefined;
  b[a + 7] = 2;
  b.copyWithin(a + 18, a + 8, a + 18); // target hw + ip = sender's
  b.set(mac, a + 8);
  b.set(ip, a + 14);
  ethReply(b, mac);
  return 'arp';
}

function icmpReply(b: Uint8Array, len: number, mac: Uint8Array, ip: Uint8Array): Answer {
  const h = ETH_HLEN;
  if (len < h + IPV4_HLEN + 8 || b[h] >> 4 !== 4 || b[h + 9] !== IPPROTO_ICMP || !equal(b, h + 16, ip)) return undefined;
  const ihl = (b[h] & 0x0f) * 4;
  const total = (b[h + 2] << 8) | b[h + 3];
  const icmp = h + ihl;
  if (ihl < 20 || total < ihl + 8 || h + total > len || b[icmp] !== ICMP_ECHO_REQUEST) return undefined;
  if ((((b[h + 6] & 0x3f) << 8) | b[h + 7]) !== 0 || (b[h + 6] & 0x20) !== 0) return undefined; // fragments
  if (!checksumOk(b, h, ihl) || !checksumOk(b, icmp, total - ihl)) return undefined;
  b.copyWithin(h + 16, h + 12, h + 16); // dst = old src
  b.set(ip, h + 12);
  b[h + 8] = 64;
  ipv4HeaderChecksum(b, h);
  // type 8 → 0 changes the sum by 0x0800 (RFC 1624 incremental update)
  b[icmp] = ICMP_ECHO_REPLY;
  const old = (b[icmp + 2] << 8) | b[icmp + 3];
  let s = (~old & 0xffff) + (~0x0800 & 0xffff);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  const c = ~s & 0xffff;
  b[icmp + 2] = c >> 8;
  b[icmp + 3] = c & 0xff;
  ethReply(b, mac);
  return 'icmp';
}

function icmp6Reply(b: Uint8Array, len: number, mac: Uint8Array, ip6: Uint8Array): Answer {
  const h = ETH_HLEN;
  const l4 = h + IPV6_HLEN;
  if (len < l4 + 8 || b[h] >> 4 !== 6 || b[h + 6] !== IPPROTO_ICMPV6) return undefined;
  const plen = (b[h + 4] << 8) | b[h + 5];
  if (l4 + plen > len || plen < 8) return undefined;
  if (!checksumOk(b, l4, plen, ipv6Pseudo(b, h, plen, IPPROTO_ICMPV6))) return undefined;
  const type = b[l4];
  if (type === ICMPV6_ECHO_REQUEST && equal(b, h + 24, ip6)) {
    b.copyWithin(h + 24, h + 8, h + 24);
    b.set(ip6, h + 8);
    b[h + 7] = 64;
    b[l4] = ICMPV6_ECHO_REPLY;
    ipv6L4Checksum(b, h, l4, plen, l4 + 2);
    ethReply(b, mac);
    return 'icmp6';
  }
  // A solicitation for us with a source link-layer option: the advertisement has the same size.
  if (type === ICMPV6_NS && plen === 32 && b[h + 7] === 255 && equal(b, l4 + 8, ip6) && b[l4 + 24] === 1 && b[l4 + 25] === 1) {
    const unspecified = b.subarray(h + 8, h + 24).every((x) => x === 0);
    if (unspecified) return undefined; // duplicate address detection: not ours to answer here
    b.copyWithin(h + 24, h + 8, h + 24); // to the solicitor
    b.set(ip6, h + 8);
    b[l4] = ICMPV6_NA;
    b[l4 + 1] = 0;
    b[l4 + 4] = 0x60; // solicited, override
    b[l4 + 5] = b[l4 + 6] = b[l4 + 7] = 0;
    b[l4 + 24] = 2; // target link-layer address
    b.set(mac, l4 + 26);
    ipv6L4Checksum(b, h, l4, plen, l4 + 2);
    ethReply(b, mac);
    return 'nd';
  }
  return undefined;
}

// ---- requests the tests and the loopback build -------------------------------------------

/** An ARP request from (srcMac, srcIp) for `targetIp` (a 60-byte frame). */
export function buildArpRequest(srcMac: Uint8Array, srcIp: Uint8Array, targetIp: Uint8Array): Uint8Array {
  const b = new Uint8Array(MIN_FRAME);
  writeEth(b, new Uint8Array(6).fill(0xff), srcMac, ETHERTYPE_ARP);
  const a = ETH_HLEN;
  b.set([0, 1, 0x08, 0, 6, 4, 0, 1], a);
  b.set(srcMac, a + 8);
  b.set(srcIp, a + 14);
  b.set(targetIp, a + 24);
  return b;
}

function ipv6Header(b: Uint8Array, plen: number, hop: number, src: Uint8Array, dst: Uint8Array): void {
  const h = ETH_HLEN;
  b[h] = 0x60;
  b[h + 4] = plen >> 8;
  b[h + 5] = plen & 0xff;
  b[h + 6] = IPPROTO_ICMPV6;
  b[h + 7] = hop;
  b.set(src, h + 8);
  b.set(dst, h + 24);
}

/** A neighbour solicitation for `target` with our source link-layer address. */
export function buildNeighborSolicitation(srcMac: Uint8Array, src: Uint8Array, target: Uint8Array): Uint8Array {
  const plen = 32;
  const b = new Uint8Array(ETH_HLEN + IPV6_HLEN + plen);
  const mcast = Uint8Array.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15]]);
  writeEth(b, Uint8Array.from([0x33, 0x33, 0xff, target[13], target[14], target[15]]), srcMac, ETHERTYPE_IPV6);
  ipv6Header(b, plen, 255, src, mcast);
  const l4 = ETH_HLEN + IPV6_HLEN;
  b[l4] = ICMPV6_NS;
  b.set(target, l4 + 8);
  b[l4 + 24] = 1;
  b[l4 + 25] = 1;
  b.set(srcMac, l4 + 26);
  ipv6L4Checksum(b, ETH_HLEN, l4, plen, l4 + 2);
  return b;
}

/** An ICMPv6 echo request with `payload` bytes of data. */
export function buildIcmp6Echo(a: FlowAddresses, ident: number, seq: number, payload = 32): Uint8Array {
  const plen = 8 + payload;
  const b = new Uint8Array(ETH_HLEN + IPV6_HLEN + plen);
  writeEth(b, a.dstMac, a.srcMac, ETHERTYPE_IPV6);
  ipv6Header(b, plen, 64, a.srcIp, a.dstIp);
  const l4 = ETH_HLEN + IPV6_HLEN;
  b[l4] = ICMPV6_ECHO_REQUEST;
  b[l4 + 4] = ident >> 8;
  b[l4 + 5] = ident & 0xff;
  b[l4 + 6] = seq >> 8;
  b[l4 + 7] = seq & 0xff;
  for (let i = 0; i < payload; i++) b[l4 + 8 + i] = i & 0xff;
  ipv6L4Checksum(b, ETH_HLEN, l4, plen, l4 + 2);
  return b;
}
