/**
 * The traffic generator behind nmemif-sender and nmemif-loopback: Ethernet/IPv4 ICMP echo
 * requests (or UDP) at a given rate and size, spread over the interface's queues, and with
 * ICMP every echo reply matched to its request (32-bit sequence and a per-run token in the
 * payload, IPv4 and ICMP checksums and the echoed payload verified) for loss and latency.
 */
import { PacketBatch, type MemifInterface } from '../../src';
import { isLinkDown } from './errors';
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
  /** End the run when the peer takes no frame for this long while frames wait, ms (default
   * 10000; 0: never). */
  stallTimeoutMs?: number;
  /** When the link goes down, wait this long for it to come back and resume, ms (default
   * 10000; 0: end the run at the first link down). */
  linkTimeoutMs?: number;
}

/** Why a run ended. */
export type EndReason = 'count' | 'duration' | 'signal' | 'stalled' | 'link-down';

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
  /** Times the link went down during the run, and how long it stayed down in all. */
  link_downs: number;
  link_down_s: number;
  end_reason: EndReason;
  duration_s: number;
  pps: number;
  mbps: number;
  latency_us: ReturnType<Latency['summary']>;
}

const SLOTS = 1 << 16;

export class SenderEngine {
  readonly o: Required<Omit<SenderOptions, 'count' | 'durationMs' | 'pcap' | 'rate'>> & SenderOptions;
  linkDowns = 0;
  linkDownMs = 0;
  endReason: EndReason = 'count';
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
    this.o = { burst: 32, replyWaitMs: 1000, window: 512, stallTimeoutMs: 10000, linkTimeoutMs: 10000, ...o };
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
        try {
          this.iface.send(0, req);
        } catch (err) {
          if (!isLinkDown(err)) throw err;
        }
        const mac = await answer;
        if (mac) return mac;
      }
      return undefined;
    } finally {
      this.#arpWaiter = null;
      this.#arpTarget = null;
    }
  }

  /**
   * Sends until the count, the duration or `signal`; then waits for outstanding replies. A
   * link that goes down pauses the run until it is back (at most linkTimeoutMs); a peer that
   * takes nothing for stallTimeoutMs ends it.
   */
  async run(signal?: AbortSignal): Promise<SenderResult> {
    const { count, durationMs, stallTimeoutMs } = this.o;
    const rate = this.o.rate ?? 0;
    this.startedAt = performance.now();
    const deadline = durationMs === undefined ? Infinity : this.startedAt + durationMs;
    let stuckSince = 0;
    let fullRounds = 0;
    await new Promise<void>((resolve, reject) => {
      const finish = (why: EndReason) => {
        this.endReason = why;
        resolve();
      };
      const tick = () => {
        if (signal?.aborted) return finish('signal');
        if (!this.iface.connected) {
          this.#linkDown(signal).then((up) => (up ? tick() : finish(signal?.aborted ? 'signal' : 'link-down')), reject);
          return;
        }
        const now = performance.now();
        if (now >= deadline) return finish('duration');
        let budget = count === undefined ? Infinity : count - this.#nextSeq;
        if (rate > 0) budget = Math.min(budget, Math.floor(((now - this.startedAt) * rate) / 1000) + 1 - this.#nextSeq);
        if (this.o.proto === 'icmp' && this.o.window > 0) budget = Math.min(budget, this.o.window - this.#inFlight(now - this.o.replyWaitMs));
        let taken = 0;
        try {
          taken = this.#sendSome(budget);
        } catch (err) {
          if (!isLinkDown(err)) return reject(err);
          return void setTimeout(tick, 1); // the library is taking the link down
        }
        if (count !== undefined && this.sent >= count) return finish('count');
        const waiting = this.#pending.some((p) => p.length > 0);
        if (waiting && taken === 0) {
          // The ring is full: the peer is not reading. Back off to a timer after a few
          // rounds (no signal tells a sender that room came back), and give up after a while.
          stuckSince ||= now;
          if (stallTimeoutMs > 0 && now - stuckSince >= stallTimeoutMs) return finish('stalled');
          fullRounds++;
        } else {
          stuckSince = 0;
          fullRounds = 0;
        }
        if (fullRounds > 64) setTimeout(tick, 1);
        else if (!waiting && budget <= 0 && rate > 0) setTimeout(tick, Math.max(1, Math.min(50, 1000 / rate)));
        else setImmediate(tick);
      };
      tick();
    });
    this.stoppedAt = performance.now();
    if (this.o.proto === 'icmp' && this.endReason !== 'signal') await this.#waitReplies(signal);
    return this.result();
  }

  /** The link went down: requests in flight are given up on, then wait for it to come back.
   * Resolves true when it is up again. */
  #linkDown(signal?: AbortSignal): Promise<boolean> {
    this.#inFlight(Infinity);
    if (this.o.linkTimeoutMs <= 0) return Promise.resolve(false);
    this.linkDowns++;
    const since = performance.now();
    return new Promise((resolve) => {
      const done = (up: boolean) => {
        clearTimeout(timer);
        this.iface.off('connect', onUp);
        signal?.removeEventListener('abort', onAbort);
        this.linkDownMs += performance.now() - since;
        resolve(up);
      };
      const onUp = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), this.o.linkTimeoutMs);
      this.iface.on('connect', onUp);
      signal?.addEventListener('abort', onAbort);
    });
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
      link_downs: this.linkDowns,
      link_down_s: Math.round(this.linkDownMs) / 1000,
      end_reason: this.endReason,
      duration_s: Math.round(this.stoppedAt - this.startedAt) / 1000,
      pps: Math.round(this.pps),
      mbps: Math.round(this.mbps * 10) / 10,
      latency_us: this.latency.summary(),
    };
  }

  /** Requests sent and neither answered nor sent before `limit` (those are given up on). */
  #inFlight(limit: number): number {
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

  /** Builds up to `budget` frames and hands what the rings take; returns how many they took. */
  #sendSome(budget: number): number {
    const { queues, burst } = this.o;
    let total = 0;
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
      total += taken;
    }
    return total;
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
    try {
      this.#drain(q);
    } catch (err) {
      if (!isLinkDown(err)) throw err; // run() notices the link is down
    }
  }

  #drain(q: number): void {
    const b = this.#rxBatch;
    for (;;) {
      const n = this.iface.rx(q, b);
      if (n === 0) return;
      const now = performance.now();
      for (let i = 0; i < n; ) {
        const end = b.packetEnd(i);
        let frame: Uint8Array;
        if (end === i + 1) frame = b.view(i);
        else {
          const len = b.packetLength(i);
          if (len > this.#scratch.length) this.#scratch = new Uint8Array(len); // any legal frame
          frame = this.#scratch.subarray(0, b.copyPacket(i, this.#scratch));
        }
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
