/**
 * The traffic generator behind nmemif-sender and nmemif-loopback: Ethernet/IPv4 ICMP echo
 * requests (or UDP) at a given rate and size, spread over the interface's queues, and with
 * ICMP every echo reply matched to its request (32-bit sequence and a per-run token in the
 * payload, IPv4 and ICMP checksums and the echoed payload verified) for loss and latency.
 *
 * Frames go straight into the ring: a burst of tx buffers is reserved (alloc), each frame is
 * written in place from a prebuilt template (frame-templates.ts: a copy and a few fields), and
 * the burst is published (tx). Only what the ring took is built, so nothing waits between
 * turns; per frame, JS does the copy, the sequence fields and, with ICMP, the bookkeeping that
 * matches replies.
 */
import { PacketBatch, type MemifInterface } from '../../src';
import { isLinkDown } from './errors';
import { FrameTemplates } from './frame-templates';
import type { PcapWriter } from './pcap';
import {
  ETH_HLEN,
  ETHERTYPE_ARP,
  ICMP_PAYLOAD,
  MAX_FRAME,
  buildArpRequest,
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
  /** CPU time this process used while sending (all its threads), s. */
  cpu_s: number;
  pps: number;
  mbps: number;
  latency_us: ReturnType<Latency['summary']>;
}

const SLOTS = 1 << 16;
/** Longest a sending turn keeps the event loop (replies, timers and signals wait meanwhile), ms. */
const TURN_MS = 1;

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
  /** Tx buffers reserved per queue, and the size of each frame of the burst being written. */
  #tx: PacketBatch[] = [];
  #burstSizes = new Uint16Array(256);
  /** With --pcap: copies of the frames of the burst (the peer may rewrite a buffer it got). */
  #burstCopies: Uint8Array[] = [];
  /** Built when the run starts (the destination MAC may come from ARP until then). */
  #templates: FrameTemplates | null = null;
  /** Tx buffers per frame of the largest size, from the buffer size the ring offers. */
  #segs = 1;
  #nextSeq = 0;
  readonly #srcPort = 40000 + (this.ident % 20000);
  #cpuAtStart: NodeJS.CpuUsage | null = null;
  #cpuUsed: NodeJS.CpuUsage | null = null;
  /** Where the live rate was last sampled. */
  #live = { at: 0, sent: 0, bytes: 0 };
  /** Oldest sequence that may still be in flight, and requests given up on (window). */
  #oldest = 0;
  #expired = 0;
  #arpWaiter: ((mac: Uint8Array) => void) | null = null;
  #arpTarget: Uint8Array | null = null;
  #onRx = (q: number) => this.#receive(q);

  constructor(iface: MemifInterface, o: SenderOptions) {
    this.iface = iface;
    this.o = { burst: 32, replyWaitMs: 1000, window: 512, stallTimeoutMs: 10000, linkTimeoutMs: 10000, ...o };
    for (let q = 0; q < o.queues; q++) this.#tx.push(new PacketBatch(256));
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

  /** Frames per second and Mbit/s since the previous call (the live rate of a status line). */
  liveRate(): { pps: number; mbps: number } {
    const now = this.stoppedAt || performance.now();
    const l = this.#live;
    const ms = now - l.at;
    const r = ms > 0 && l.at > 0 ? { pps: ((this.sent - l.sent) * 1000) / ms, mbps: ((this.bytes - l.bytes) * 8) / 1000 / ms } : { pps: 0, mbps: 0 };
    this.#live = { at: now, sent: this.sent, bytes: this.bytes };
    return r;
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
    const { count, durationMs, stallTimeoutMs, proto, sizes, addrs } = this.o;
    const rate = this.o.rate ?? 0;
    this.#templates = new FrameTemplates(proto, sizes[1], addrs, this.ident, this.token, this.#srcPort);
    this.startedAt = performance.now();
    this.#cpuAtStart = process.cpuUsage();
    this.#live = { at: this.startedAt, sent: 0, bytes: 0 };
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
        // UDP: several bursts per turn of the event loop (a turn costs more than a burst),
        // until the ring is full, the budget is spent or TURN_MS passed; timers and signals
        // run between turns. ICMP: one burst per queue and turn, so that the replies, which
        // come in as the requests go out, are taken in time (the peer's ring is no larger).
        let wanted = false;
        let taken = 0;
        const turnMs = this.o.proto === 'icmp' ? 0 : TURN_MS;
        try {
          for (let t = now, first = true; t < deadline && (first || t - now < turnMs); t = performance.now(), first = false) {
            const budget = this.#budget(t, rate);
            if (budget <= 0) break;
            wanted = true;
            const n = this.#sendSome(budget);
            taken += n;
            if (n === 0 || (count !== undefined && this.sent >= count)) break;
          }
        } catch (err) {
          if (!isLinkDown(err)) return reject(err);
          return void setTimeout(tick, 1); // the library is taking the link down
        }
        if (count !== undefined && this.sent >= count) return finish('count');
        if (wanted && taken === 0) {
          // The ring is full: the peer is not reading. Back off to a timer after a few
          // rounds (no signal tells a sender that room came back; spinning would take the
          // CPU from a peer that shares it), and give up after a while.
          stuckSince ||= now;
          if (stallTimeoutMs > 0 && now - stuckSince >= stallTimeoutMs) return finish('stalled');
          fullRounds++;
        } else {
          stuckSince = 0;
          fullRounds = 0;
        }
        if (fullRounds > 64) setTimeout(tick, 1);
        else if (!wanted && rate > 0) setTimeout(tick, Math.max(1, Math.min(50, 1000 / rate)));
        else setImmediate(tick);
      };
      tick();
    });
    this.stoppedAt = performance.now();
    this.#cpuUsed = process.cpuUsage(this.#cpuAtStart);
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
      cpu_s: this.#cpuUsed ? Math.round((this.#cpuUsed.user + this.#cpuUsed.system) / 1000) / 1000 : 0,
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

  /** Frames that may go now: what is left of --count, of the --rate schedule and, with ICMP, of
   * the window. */
  #budget(now: number, rate: number): number {
    const { count } = this.o;
    let budget = count === undefined ? Infinity : count - this.#nextSeq;
    if (rate > 0) budget = Math.min(budget, Math.floor(((now - this.startedAt) * rate) / 1000) + 1 - this.#nextSeq);
    if (this.o.proto === 'icmp' && this.o.window > 0) budget = Math.min(budget, this.o.window - this.#inFlight(now - this.o.replyWaitMs));
    return budget;
  }

  /** Writes up to `budget` frames (a burst per queue) into the rings; returns how many went. */
  #sendSome(budget: number): number {
    const { queues, burst } = this.o;
    const [lo, hi] = this.o.sizes;
    const tpl = this.#templates!;
    const pcap = this.o.pcap;
    let total = 0;
    for (let q = 0; q < queues && budget > 0; q++) {
      const b = this.#tx[q];
      const frames = Math.min(burst, budget);
      const n = this.iface.alloc(q, b, Math.min(b.capacity, frames * this.#segs));
      if (n === 0) {
        this.ringFull++;
        continue;
      }
      const cap = b.len(0);
      this.#segs = Math.ceil(hi / cap);
      const seq0 = this.#nextSeq;
      let used = 0;
      let done = 0;
      let bytes = 0;
      while (done < frames && used < n) {
        const size = lo === hi ? lo : lo + Math.floor(Math.random() * (hi - lo + 1));
        if (size <= b.len(used)) {
          tpl.write(b.regionBytes(used), b.offset(used), seq0 + done, size);
          if (pcap) this.#burstCopies[done] = b.view(used).slice(0, size);
          b.setLen(used++, size);
        } else {
          const end = this.#writeChain(b, used, n, seq0 + done, size);
          if (end < 0) break; // not enough buffers left in this burst
          if (pcap) this.#burstCopies[done] = this.#scratch.slice(0, size);
          used = end;
        }
        this.#burstSizes[done++] = size;
        bytes += size;
      }
      const sent = this.iface.tx(q, b, used); // also drops the reservations not used
      if (sent < used) {
        // Not expected (alloc reserved them); count the whole frames that went.
        let whole = 0;
        for (let k = 0, at = 0; k < done; k++) {
          at += Math.ceil(this.#burstSizes[k] / cap);
          if (at <= sent) whole = k + 1;
        }
        done = whole;
        bytes = 0;
        for (let k = 0; k < done; k++) bytes += this.#burstSizes[k];
        this.ringFull++;
      }
      this.#sentBurst(seq0, done, bytes);
      budget -= done;
      total += done;
    }
    return total;
  }

  /** A frame larger than one buffer: written whole into the scratch buffer, then spread over
   * buffers from `first` on (NEXT set on all but the last). Returns the index after its last
   * buffer, or -1 when fewer than `n` buffers are left for it. */
  #writeChain(b: PacketBatch, first: number, n: number, seq: number, size: number): number {
    this.#templates!.write(this.#scratch, 0, seq, size);
    let k = first;
    for (let off = 0; off < size; k++) {
      if (k >= n) return -1;
      const c = Math.min(b.len(k), size - off);
      b.regionBytes(k).set(this.#scratch.subarray(off, off + c), b.offset(k));
      b.setLen(k, c);
      off += c;
      b.setNext(k, off < size);
    }
    return k;
  }

  /** Counts the first `done` frames of the burst as sent; with ICMP, keeps what matching their
   * replies needs. */
  #sentBurst(seq0: number, done: number, bytes: number): void {
    this.sent += done;
    this.bytes += bytes;
    this.#nextSeq = seq0 + done;
    const pcap = this.o.pcap;
    if (pcap) for (let k = 0; k < done; k++) pcap.write(this.#burstCopies[k]);
    if (this.o.proto !== 'icmp') return;
    const now = performance.now();
    for (let k = 0; k < done; k++) {
      const seq = seq0 + k;
      const i = seq & (SLOTS - 1);
      this.#sentAt[i] = now;
      this.#sentSeq[i] = seq;
      this.#sentSize[i] = this.#burstSizes[k];
      this.#answered[i] = 0;
    }
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
