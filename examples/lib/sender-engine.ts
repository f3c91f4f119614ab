/**
 * The traffic generator behind nmemif-sender and nmemif-loopback: Ethernet/IPv4 ICMP echo
 * requests (or UDP) at a given rate and size, spread over the interface's queues, and with
 * ICMP every echo reply matched to its request (32-bit sequence and a per-run token in the
 * payload, IPv4 and ICMP checksums and the echoed payload verified) for loss and latency.
 */
import { PacketBatch, type MemifInterface } from '../../src';
import type { PcapWriter } from './pcap';
import {
  ETH_HLEN,
  ETHERTYPE_ARP,
  ICMP_PAYLOAD,
  MAX_FRAME,
  buildArpRequest,
  buildIcmpEcho,
  buildUdp,
  etherType,
  parseEchoReply,
  probePatternOk,
  type FlowAddresses,
} from './packets';
import { Latency } from './stats';

export type Proto = 'icmp' | 'udp';

export interface SenderOptions {
  proto: Proto;
  /** Frame sizes in bytes, [min, max] (each frame picks one at random when they differ). */
  sizes: [number, number];
  /** Stop after this many frames (default: no limit). */
  count?: number;
  /** Frames per second over all queues (0 or undefined: as fast as the peer takes them). */
  rate?: number;
  /** Stop sending after this long, ms. */
  durationMs?: number;
  addrs: FlowAddresses;
  queues: number;
  /** Frames per burst and queue (default 32). */
  burst?: number;
  /** After the last frame, wait this long for outstanding replies, ms (default 1000). */
  replyWaitMs?: number;
  /**
   * ICMP: at most this many requests without a reply in flight (default 512, half a ring, so
   * the peer always has room to answer; 0: no limit). A request unanswered for replyWaitMs
   * stops counting against the window.
   */
  window?: number;
  pcap?: PcapWriter;
}

export interface SenderResult {
  proto: Proto;
  sent: number;
  bytes: number;
  replies: number;
  lost: number;
  bad_replies: number;
  duplicates: number;
  rx_other: number;
  ring_full: number;
  duration_s: number;
  pps: number;
  mbps: number;
  latency_us: ReturnType<Latency['summary']>;
}

const SLOTS = 1 << 16;

export class SenderEngine {
  readonly o: Required<Omit<SenderOptions, 'count' | 'durationMs' | 'pcap' | 'rate'>> & SenderOptions;
  readonly iface: MemifInterface;
  sent = 0;
  bytes = 0;
  replies = 0;
  badReplies = 0;
  duplicates = 0;
  rxOther = 0;
  ringFull = 0;
  readonly latency = new Latency();
  startedAt = 0;
  stoppedAt = 0;
  readonly ident = (Math.random() * 0x10000) | 0;
  readonly token = (Math.random() * 0x100000000) >>> 0;
  #sentAt = new Float64Array(SLOTS);
  #sentSeq = new Float64Array(SLOTS).fill(-1);
  #sentSize = new Uint16Array(SLOTS);
  #answered = new Uint8Array(SLOTS);
  #rxBatch = new PacketBatch(256);
  #scratch = new Uint8Array(MAX_FRAME);
  /** Free frame buffers per queue (one per pending frame at most). */
  #free: Uint8Array[][] = [];
  /** Built but not yet taken by the ring, per queue. */
  #pending: Uint8Array[][] = [];
  #pendingSeq: number[][] = [];
  #nextSeq = 0;
  /** Oldest sequence that may still be in flight, and requests given up on (window). */
  #oldest = 0;
  #expired = 0;
  #arpWaiter: ((mac: Uint8Array) => void) | null = null;
  #arpTarget: Uint8Array | null = null;
  #onRx = (q: number) => this.#receive(q);

  constructor(iface: MemifInterface, o: SenderOptions) {
    this.iface = iface;
    this.o = { burst: 32, replyWaitMs: 1000, window: 512, ...o };
    for (let q = 0; q < o.queues; q++) {
      this.#pending.push([]);
      this.#pendingSeq.push([]);
      this.#free.push(Array.from({ length: this.o.burst }, () => new Uint8Array(o.sizes[1])));
    }
    iface.on('rx', this.#onRx);
  }

  detach(): void {
    this.iface.off('rx', this.#onRx);
  }

  /** Frames sent per second so far. */
  get pps(): number {
    const end = this.stoppedAt || performance.now();
    return this.startedAt && end > this.startedAt ? (this.sent * 1000) / (end - this.startedAt) : 0;
  }

  get mbps(): number {
    const end = this.stoppedAt || performance.now();
    return this.startedAt && end > this.startedAt ? (this.bytes * 8) / 1000 / (end - this.startedAt) : 0;
  }

  /** Requests still without a reply (all of them count as lost once the run is over). */
  get outstanding(): number {
    return this.o.proto === 'icmp' ? this.sent - this.replies : 0;
  }

  /** Asks for `ip`'s MAC with ARP (a few tries); undefined if nobody answers. */
  async resolve(ip: Uint8Array, tries = 3, intervalMs = 300, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    this.#arpTarget = ip;
    try {
      for (let k = 0; k < tries && !signal?.aborted; k++) {
        const answer = new Promise<Uint8Array | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), intervalMs);
          this.#arpWaiter = (mac) => {
            clearTimeout(timer);
            resolve(mac);
          };
        });
        const req = buildArpRequest(this.o.addrs.srcMac, this.o.addrs.srcIp, ip);
        this.o.pcap?.write(req);
        this.iface.send(0, req);
        const mac = await answer;
        if (mac) return mac;
      }
      return undefined;
    } finally {
      this.#arpWaiter = null;
      this.#arpTarget = null;
    }
  }

  /** Sends until the count, the duration or `signal`; then waits for outstanding replies. */
  async run(signal?: AbortSignal): Promise<SenderResult> {
    const { count, durationMs } = this.o;
    const rate = this.o.rate ?? 0;
    this.startedAt = performance.now();
    const deadline = durationMs === undefined ? Infinity : this.startedAt + durationMs;
    await new Promise<void>((resolve) => {
      const tick = () => {
        if (signal?.aborted || !this.iface.connected) return resolve();
        const now = performance.now();
        if (now >= deadline) return resolve();
        let budget = count === undefined ? Infinity : count - this.#nextSeq;
        if (rate > 0) budget = Math.min(budget, Math.floor(((now - this.startedAt) * rate) / 1000) + 1 - this.#nextSeq);
        if (this.o.proto === 'icmp' && this.o.window > 0) budget = Math.min(budget, this.o.window - this.#inFlight(now));
        this.#sendSome(budget);
        if (count !== undefined && this.sent >= count) return resolve();
        const idle = this.#pending.every((p) => p.length === 0) && budget <= 0;
        if (idle && rate > 0) setTimeout(tick, Math.max(1, Math.min(50, 1000 / rate)));
        else setImmediate(tick);
      };
      tick();
    });
    this.stoppedAt = performance.now();
    if (this.o.proto === 'icmp' && !signal?.aborted) await this.#waitReplies(signal);
    return this.result();
  }

  result(): SenderResult {
    if (!this.stoppedAt) this.stoppedAt = performance.now();
    return {
      proto: this.o.proto,
      sent: this.sent,
      bytes: this.bytes,
      replies: this.replies,
      lost: this.outstanding,
      bad_replies: this.badReplies,
      duplicates: this.duplicates,
      rx_other: this.rxOther,
      ring_full: this.ringFull,
      duration_s: Math.round(this.stoppedAt - this.startedAt) / 1000,
      pps: Math.round(this.pps),
      mbps: Math.round(this.mbps * 10) / 10,
      latency_us: this.latency.summary(),
    };
  }

  /** Requests sent and neither answered nor older than replyWaitMs. */
  #inFlight(now: number): number {
    const limit = now - this.o.replyWaitMs;
    while (this.#oldest < this.#nextSeq) {
      const i = this.#oldest & (SLOTS - 1);
      if (this.#sentSeq[i] !== this.#oldest) break; // built, not yet taken by the ring
      if (!this.#answered[i]) {
        if (this.#sentAt[i] > limit) break;
        this.#expired++;
      }
      this.#oldest++;
    }
    return this.sent - this.replies - this.#expired;
  }

  #waitReplies(signal?: AbortSignal): Promise<void> {
    const end = performance.now() + this.o.replyWaitMs;
    return new Promise((resolve) => {
      const check = () => {
        if (this.replies >= this.sent || performance.now() >= end || signal?.aborted || !this.iface.connected) return resolve();
        setTimeout(check, 2);
      };
      check();
    });
  }

  #sendSome(budget: number): void {
    const { queues, burst } = this.o;
    for (let q = 0; q < queues; q++) {
      const pend = this.#pending[q];
      const seqs = this.#pendingSeq[q];
      while (pend.length < burst && budget > 0) {
        const seq = this.#nextSeq++;
        pend.push(this.#build(seq, this.#free[q].pop()!));
        seqs.push(seq);
        budget--;
      }
      if (pend.length === 0) continue;
      const taken = this.iface.send(q, pend);
      const now = performance.now();
      for (let k = 0; k < taken; k++) {
        this.#recordSent(seqs[k], pend[k], now);
        this.#free[q].push(new Uint8Array(pend[k].buffer));
      }
      if (taken < pend.length) this.ringFull++;
      pend.splice(0, taken);
      seqs.splice(0, taken);
    }
  }

  #build(seq: number, buf: Uint8Array): Uint8Array {
    const [lo, hi] = this.o.sizes;
    const size = lo === hi ? lo : lo + Math.floor(Math.random() * (hi - lo + 1));
    const frame = buf.subarray(0, size);
    if (this.o.proto === 'icmp') buildIcmpEcho(frame, size, this.o.addrs, this.ident, seq, this.token);
    else buildUdp(frame, size, this.o.addrs, 40000 + (this.ident % 20000), 9, seq, this.token);
    return frame;
  }

  #recordSent(seq: number, frame: Uint8Array, now: number): void {
    this.sent++;
    this.bytes += frame.length;
    this.o.pcap?.write(frame);
    const i = seq & (SLOTS - 1);
    this.#sentAt[i] = now;
    this.#sentSeq[i] = seq;
    this.#sentSize[i] = frame.length;
    this.#answered[i] = 0;
  }

  #receive(q: number): void {
    if (q >= this.o.queues) return;
    const b = this.#rxBatch;
    for (;;) {
      let n: number;
      try {
        n = this.iface.rx(q, b);
      } catch {
        return; // link went down; run() notices
      }
      if (n === 0) return;
      const now = performance.now();
      for (let i = 0; i < n; ) {
        const end = b.packetEnd(i);
        let frame: Uint8Array;
        if (end === i + 1) frame = b.view(i);
        else frame = this.#scratch.subarray(0, b.copyPacket(i, this.#scratch));
        this.o.pcap?.write(frame);
        this.#inspect(frame, now);
        i = end;
      }
      this.iface.refill(q, b);
    }
  }

  #inspect(f: Uint8Array, now: number): void {
    if (etherType(f) === ETHERTYPE_ARP) {
      const a = ETH_HLEN;
      const t = this.#arpTarget;
      if (f.length >= a + 28 && f[a + 7] === 2 && t && f[a + 14] === t[0] && f[a + 15] === t[1] && f[a + 16] === t[2] && f[a + 17] === t[3]) {
        this.#arpWaiter?.(f.slice(a + 8, a + 14));
      } else this.rxOther++;
      return;
    }
    if (this.o.proto !== 'icmp') {
      this.rxOther++;
      return;
    }
    const r = parseEchoReply(f, f.length, this.o.addrs);
    if (r === undefined) {
      this.rxOther++;
      return;
    }
    if (r === 'bad' || r.token !== this.token || r.ident !== this.ident) {
      if (r === 'bad' || r.token !== this.token) this.badReplies++;
      else this.rxOther++;
      return;
    }
    const i = r.seq & (SLOTS - 1);
    if (this.#sentSeq[i] !== r.seq || r.seq16 !== (r.seq & 0xffff)) {
      this.badReplies++;
      return;
    }
    const ipTotal = (f[ETH_HLEN + 2] << 8) | f[ETH_HLEN + 3];
    if (ipTotal + ETH_HLEN !== this.#sentSize[i] || !probePatternOk(f, ICMP_PAYLOAD, ETH_HLEN + ipTotal, r.seq)) {
      this.badReplies++;
      return;
    }
    if (this.#answered[i]) {
      this.duplicates++;
      return;
    }
    this.#answered[i] = 1;
    if (r.seq < this.#oldest) this.#expired--; // a late reply to a request given up on
    this.replies++;
    this.latency.add((now - this.#sentAt[i]) * 1000);
  }
}
