/**
 * Prebuilt frames for the sender's hot path: the frames buildIcmpEcho/buildUdp make, byte for
 * byte, without building each one. Everything but the sequence number and the size is the same
 * from frame to frame, and the payload pattern repeats every 256 sequence numbers, so there is
 * one template per `seq & 0xff`; a frame is its template copied, then the few fields that carry
 * the sequence number or the size written over it, with both checksums completed from sums
 * taken once (one's complement sums add up in any order).
 */
import {
  ETH_HLEN,
  IPPROTO_UDP,
  IPV4_HLEN,
  PROBE_HLEN,
  UDP_PAYLOAD,
  buildIcmpEcho,
  buildUdp,
  sum16,
  type FlowAddresses,
} from './packets';

const IP = ETH_HLEN;
const L4 = ETH_HLEN + IPV4_HLEN;
/** The probe header (seq, token) and the pattern after it, the same offsets for ICMP and UDP. */
const PROBE = UDP_PAYLOAD;
const PATTERN = PROBE + PROBE_HLEN;
/** The pattern repeats every 256 bytes: 128 16-bit words. */
const PERIOD_WORDS = 128;

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

export class FrameTemplates {
  readonly proto: 'icmp' | 'udp';
  readonly maxSize: number;
  /** One frame of maxSize bytes per seq & 0xff. */
  readonly #tmpl: Uint8Array[] = [];
  /** For each seq & 0xff, running sums of the pattern's first m words, m = 0..128. */
  readonly #patternSums = new Float64Array(256 * (PERIOD_WORDS + 1));
  /** Sums of the IPv4 header and of the ICMP/UDP part without the fields that change. */
  readonly #ipConst: number;
  readonly #l4Const: number;
  /** The same with the lengths and the pattern of a maxSize frame added (the common case: one
   * size), per seq & 0xff for the ICMP/UDP part. */
  readonly #ipFull: number;
  readonly #l4Full = new Float64Array(256);

  constructor(proto: 'icmp' | 'udp', maxSize: number, addrs: FlowAddresses, ident: number, token: number, srcPort = 0, dstPort = 9) {
    this.proto = proto;
    this.maxSize = maxSize;
    for (let k = 0; k < 256; k++) {
      const t = new Uint8Array(maxSize);
      if (proto === 'icmp') buildIcmpEcho(t, maxSize, addrs, ident, k, token);
      else buildUdp(t, maxSize, addrs, srcPort, dstPort, k, token);
      this.#tmpl.push(t);
      const base = k * (PERIOD_WORDS + 1);
      for (let m = 0; m < PERIOD_WORDS; m++) {
        this.#patternSums[base + m + 1] = this.#patternSums[base + m] + ((((k + 2 * m) & 0xff) << 8) | ((k + 2 * m + 1) & 0xff));
      }
    }
    // The constant parts, from a template with the changing fields zeroed.
    const t = this.#tmpl[0].slice(0, PATTERN);
    for (const at of [IP + 2, IP + 4, IP + 10, PROBE, PROBE + 2]) t[at] = t[at + 1] = 0;
    if (proto === 'icmp') for (const at of [L4 + 2, L4 + 6]) t[at] = t[at + 1] = 0;
    else for (const at of [L4 + 4, L4 + 6]) t[at] = t[at + 1] = 0;
    this.#ipConst = sum16(t, IP, IPV4_HLEN);
    const pseudo = proto === 'udp' ? sum16(t, IP + 12, 8) + IPPROTO_UDP : 0;
    this.#l4Const = pseudo + sum16(t, L4, PATTERN - L4);
    this.#ipFull = this.#ipConst + maxSize - ETH_HLEN;
    const lengths = proto === 'udp' ? 2 * (maxSize - L4) : 0;
    for (let k = 0; k < 256; k++) this.#l4Full[k] = this.#l4Const + lengths + this.#patternSum(k, maxSize - PATTERN);
  }

  /** Sum of the first `len` pattern bytes of a frame whose seq & 0xff is k. */
  #patternSum(k: number, len: number): number {
    const words = len >>> 1;
    const base = k * (PERIOD_WORDS + 1);
    let s = Math.floor(words / PERIOD_WORDS) * this.#patternSums[base + PERIOD_WORDS] + this.#patternSums[base + (words % PERIOD_WORDS)];
    if (len & 1) s += ((k + len - 1) & 0xff) << 8;
    return s;
  }

  /** Writes frame `seq` of `size` bytes (60..maxSize) into dst at `off`. */
  write(dst: Uint8Array, off: number, seq: number, size: number): void {
    const k = seq & 0xff;
    const t = this.#tmpl[k];
    const s16 = seq & 0xffff;
    const hi = (seq >>> 0) >>> 16;
    let ip: number;
    let l4: number;
    if (size === t.length) {
      dst.set(t, off); // lengths as in the template
      ip = this.#ipFull;
      l4 = this.#l4Full[k];
    } else {
      dst.set(t.subarray(0, size), off);
      const total = size - ETH_HLEN;
      dst[off + IP + 2] = total >> 8;
      dst[off + IP + 3] = total & 0xff;
      ip = this.#ipConst + total;
      l4 = this.#l4Const + this.#patternSum(k, size - PATTERN);
      if (this.proto === 'udp') {
        const len = size - L4;
        dst[off + L4 + 4] = len >> 8;
        dst[off + L4 + 5] = len & 0xff;
        l4 += 2 * len;
      }
    }
    dst[off + IP + 4] = s16 >> 8;
    dst[off + IP + 5] = s16 & 0xff;
    const ipSum = ~fold(ip + s16) & 0xffff;
    dst[off + IP + 10] = ipSum >> 8;
    dst[off + IP + 11] = ipSum & 0xff;
    dst[off + PROBE] = hi >> 8;
    dst[off + PROBE + 1] = hi & 0xff;
    dst[off + PROBE + 2] = s16 >> 8;
    dst[off + PROBE + 3] = s16 & 0xff;
    l4 += hi + s16;
    if (this.proto === 'icmp') {
      dst[off + L4 + 6] = s16 >> 8;
      dst[off + L4 + 7] = s16 & 0xff;
      const c = ~fold(l4 + s16) & 0xffff;
      dst[off + L4 + 2] = c >> 8;
      dst[off + L4 + 3] = c & 0xff;
    } else {
      const c = ~fold(l4) & 0xffff || 0xffff;
      dst[off + L4 + 6] = c >> 8;
      dst[off + L4 + 7] = c & 0xff;
    }
  }
}
