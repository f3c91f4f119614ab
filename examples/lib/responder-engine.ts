/**
 * The answering side behind nmemif-responder and nmemif-loopback: ARP and ICMPv4 echo for an
 * IPv4 address, neighbour solicitation and ICMPv6 echo for an IPv6 address.
 *
 * As the slave it answers in place and zero-copy: the request's buffer is rewritten into the
 * reply and swapped into the tx ring (rx → modify → swap → tx → refill). As the master (which
 * cannot swap: the slave owns the buffers) it copies each answer into the tx ring. Chained
 * (multi-buffer) requests are gathered and answered by copy in both roles.
 */
import { PacketBatch, WORDS_PER_BUFFER, type MemifInterface } from '../../src';
import { isLinkDown } from './errors';
import type { PcapWriter } from './pcap';
import { MAX_FRAME, answerInPlace, type Identity } from './packets';

export interface ResponderCounters {
  rx: number;
  tx: number;
  arp: number;
  icmp: number;
  nd: number;
  icmp6: number;
  /** Received frames not answered (not for us, or the link went down with answers waiting). */
  dropped: number;
  /** Times the tx ring was full (answers wait, and receiving pauses, until it has room). */
  tx_full: number;
  zero_copy: number;
  copied: number;
}

export class ResponderEngine {
  readonly iface: MemifInterface;
  readonly me: Identity;
  readonly queues: number;
  readonly pcap: PcapWriter | undefined;
  readonly c: ResponderCounters = { rx: 0, tx: 0, arp: 0, icmp: 0, nd: 0, icmp6: 0, dropped: 0, tx_full: 0, zero_copy: 0, copied: 0 };
  #rx = new PacketBatch(256);
  #out = new PacketBatch(256);
  /** Which rx buffer each #out entry came from. */
  #outIdx = new Uint16Array(256);
  /** Answers waiting for room in the tx ring, per queue (receiving pauses meanwhile). */
  #backlog: Uint8Array[][] = [];
  #retry: (NodeJS.Immediate | null)[] = [];
  #pool: Uint8Array[] = [];
  #onRx = (q: number) => this.#serve(q);
  #onDown = () => {
    for (const b of this.#backlog) {
      this.c.dropped += b.length;
      for (const f of b.splice(0)) this.#pool.push(new Uint8Array(f.buffer));
    }
  };

  constructor(iface: MemifInterface, me: Identity, queues: number, pcap?: PcapWriter) {
    this.iface = iface;
    this.me = me;
    this.queues = queues;
    this.pcap = pcap;
    for (let q = 0; q < queues; q++) {
      this.#backlog.push([]);
      this.#retry.push(null);
    }
    iface.on('rx', this.#onRx);
    iface.on('disconnect', this.#onDown);
  }

  detach(): void {
    this.iface.off('rx', this.#onRx);
    this.iface.off('disconnect', this.#onDown);
    for (const t of this.#retry) if (t) clearImmediate(t);
  }

  /** A buffer for a frame of `len` bytes (any legal frame: jumbo chains too). */
  #buffer(len: number): Uint8Array {
    const b = this.#pool.pop();
    if (b !== undefined && b.length >= len) return b;
    if (b !== undefined) this.#pool.push(b);
    return new Uint8Array(Math.max(len, MAX_FRAME));
  }

  /** Sends waiting answers; true when none are left. */
  #flush(q: number): boolean {
    const list = this.#backlog[q];
    if (list.length === 0) return true;
    const sent = this.iface.send(q, list);
    this.c.tx += sent;
    this.c.copied += sent;
    for (const f of list.splice(0, sent)) this.#pool.push(new Uint8Array(f.buffer));
    if (list.length === 0) return true;
    this.c.tx_full++;
    if (this.#retry[q] === null) {
      this.#retry[q] = setImmediate(() => {
        this.#retry[q] = null;
        if (this.iface.connected) this.#serve(q);
      });
    }
    return false;
  }

  #count(kind: string | undefined): void {
    if (kind === 'arp') this.c.arp++;
    else if (kind === 'icmp') this.c.icmp++;
    else if (kind === 'nd') this.c.nd++;
    else if (kind === 'icmp6') this.c.icmp6++;
  }

  #serve(q: number): void {
    if (q >= this.queues) return;
    try {
      this.#answer(q);
    } catch (err) {
      // The link went down, or the peer broke the protocol: the library takes the link down
      // and 'disconnect' says why; answers not sent are counted as dropped there.
      if (!isLinkDown(err)) throw err;
    }
  }

  #answer(q: number): void {
    const zeroCopy = this.iface.role === 'slave';
    const b = this.#rx;
    for (;;) {
      if (!this.#flush(q)) return; // tx ring full: leave requests in the rx ring (backpressure)
      const n = this.iface.rx(q, b);
      if (n === 0) return;
      const out = this.#out;
      let m = 0;
      const copies = this.#backlog[q];
      for (let i = 0; i < n; ) {
        const end = b.packetEnd(i);
        this.c.rx++;
        if (zeroCopy && end === i + 1) {
          const f = b.view(i);
          this.pcap?.write(f);
          const kind = answerInPlace(f, f.length, this.me);
          if (kind !== undefined) {
            this.#count(kind);
            this.pcap?.write(f);
            out.words.set(b.words.subarray(i * WORDS_PER_BUFFER, (i + 1) * WORDS_PER_BUFFER), m * WORDS_PER_BUFFER);
            this.#outIdx[m++] = i;
          } else this.c.dropped++;
        } else {
          const buf = this.#buffer(b.packetLength(i));
          const f = buf.subarray(0, b.copyPacket(i, buf));
          this.pcap?.write(f);
          const kind = answerInPlace(f, f.length, this.me);
          if (kind !== undefined) {
            this.#count(kind);
            this.pcap?.write(f);
            copies.push(f);
          } else {
            this.c.dropped++;
            this.#pool.push(buf);
          }
        }
        i = end;
      }
      if (m > 0) {
        out.count = m;
        const moved = this.iface.swap(q, q, out, m);
        const sent = this.iface.tx(q, out, moved);
        this.c.tx += sent;
        this.c.zero_copy += sent;
        this.c.dropped += moved - sent; // not expected: swap checked the room
        if (moved < m) {
          // No room for all of them: the rest (already answered in place) wait as copies.
          this.c.tx_full++;
          for (let k = moved; k < m; k++) {
            const f = b.view(this.#outIdx[k]);
            const buf = this.#buffer(f.length);
            buf.set(f);
            copies.push(buf.subarray(0, f.length));
          }
        }
      }
      this.#flush(q);
      this.iface.refill(q, b);
    }
  }
}
