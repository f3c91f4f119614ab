/**
 * Deterministic test traffic for memif: every packet carries its sequence number, queue,
 * direction and length in a 16-byte header followed by a pseudo-random payload that depends
 * on all of them, so a receiver can check each packet byte for byte without a side channel.
 * Used by the tests in this process and by the fixtures in child processes.
 *
 *   const rx = new Receiver(iface, 'm2s', queues);        // verifies and refills on 'rx'
 *   await sendAll(iface, q, count, 'm2s', 'copy');        // or 'alloc' (zero-copy tx)
 */
import type { MemifInterface } from '../../src/memif/interface';
import { PacketBatch } from '../../src/memif/batch';
import { bound } from './bounds';

export const HEADER = 16;
export const MIN_SIZE = 60;
export const MAX_SIZE = 9000;
/** Sizes around buffer boundaries (2048) and the extremes; every other packet is random. */
const EDGE_SIZES = [60, 64, 65, 128, 1000, 1500, 2047, 2048, 2049, 4095, 4096, 4097, 6144, 8191, 8999, 9000];

export type Direction = 'm2s' | 's2m';
const DIR_CODE: Record<Direction, number> = { m2s: 0x4d, s2m: 0x53 };

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Payload source: MAX_SIZE + 1024 pseudo-random bytes; a packet starts at a seq-dependent offset. */
const PATTERN = (() => {
  const p = Buffer.alloc(MAX_SIZE + 1024);
  for (let i = 0; i < p.length; i++) p[i] = mix(i + 0x9e3779b9) & 0xff;
  return p;
})();

export function packetSize(seq: number, queue: number, sizes?: readonly number[]): number {
  if (sizes !== undefined) return sizes[seq % sizes.length];
  if (seq % 2 === 0) return EDGE_SIZES[(seq >>> 1) % EDGE_SIZES.length];
  return MIN_SIZE + (mix(seq * 257 + queue) % (MAX_SIZE - MIN_SIZE + 1));
}

/** Writes packet `seq` of `queue` (length `len`) into dst[0..len). */
export function fillPacket(dst: Uint8Array, seq: number, queue: number, dir: Direction, len: number): void {
  const dv = new DataView(dst.buffer, dst.byteOffset, HEADER);
  dv.setUint32(0, seq, true);
  dv.setUint8(4, queue);
  dv.setUint8(5, DIR_CODE[dir]);
  dv.setUint16(6, 0xa55a, true);
  dv.setUint32(8, len, true);
  dv.setUint32(12, mix(seq ^ (queue << 24) ^ DIR_CODE[dir]), true);
  const k = mix(seq * 31 + queue * 7 + DIR_CODE[dir]) % 1024;
  dst.set(PATTERN.subarray(k, k + len - HEADER), HEADER);
}

/** A fresh copy of packet `seq`. */
export function makePacket(seq: number, queue: number, dir: Direction, sizes?: readonly number[]): Uint8Array {
  const len = packetSize(seq, queue, sizes);
  const p = new Uint8Array(len);
  fillPacket(p, seq, queue, dir, len);
  return p;
}

/** Position of the first difference between a and b, or -1. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  if (Buffer.compare(Buffer.from(a.buffer, a.byteOffset, n), Buffer.from(b.buffer, b.byteOffset, n)) === 0) {
    return a.length === b.length ? -1 : n;
  }
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

export interface ReceiverOptions {
  /** Packet sizes to expect (cycled by seq); default: the mixed sizes of packetSize(). */
  sizes?: readonly number[];
  /** If set, every buffer of a chain but the last must hold exactly this many bytes. */
  bufferSize?: number;
  batch?: number;
  /** Called for every received packet after checking (seq, queue). */
  onPacket?: (seq: number, queue: number, batch: PacketBatch, first: number) => void;
}

/**
 * Receives on every queue of `iface` on its 'rx' events, checks each packet (expected
 * sequence, length, every byte, chain layout) and refills. Problems are collected in
 * `errors` (at most 20 kept) instead of thrown, so a test can report them all.
 */
export class Receiver {
  readonly counts: number[];
  readonly errors: string[] = [];
  errorCount = 0;
  bytes = 0;
  buffers = 0;
  readonly #iface: MemifInterface;
  readonly #dir: Direction;
  readonly #opts: ReceiverOptions;
  readonly #batch: PacketBatch;
  readonly #got = new Uint8Array(MAX_SIZE + 64);
  readonly #want = new Uint8Array(MAX_SIZE + 64);
  readonly #listener = (q: number) => this.poll(q);

  constructor(iface: MemifInterface, dir: Direction, queues: number, options: ReceiverOptions = {}) {
    this.#iface = iface;
    this.#dir = dir;
    this.#opts = options;
    this.#batch = new PacketBatch(options.batch ?? 256);
    this.counts = new Array(queues).fill(0);
    iface.on('rx', this.#listener);
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  stop(): void {
    this.#iface.off('rx', this.#listener);
  }

  /** Sequence numbers restart from 0 (e.g. a new peer after a reconnect). */
  reset(): void {
    this.counts.fill(0);
  }

  #error(msg: string): void {
    this.errorCount++;
    if (this.errors.length < 20) this.errors.push(msg);
  }

  /** Drains queue q (also usable directly, without an 'rx' event). */
  poll(q: number): void {
    const iface = this.#iface;
    const batch = this.#batch;
    if (q >= this.counts.length) {
      this.#error(`rx event for unexpected queue ${q}`);
      return;
    }
    for (;;) {
      let n: number;
      try {
        n = iface.rx(q, batch);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_NMEMIF_NOT_CONNECTED') this.#error(`rx(${q}) threw ${String(err)}`);
        return;
      }
      if (n === 0) return;
      this.buffers += n;
      for (let i = 0; i < n; ) {
        const end = batch.packetEnd(i);
        this.#check(q, batch, i, end);
        i = end;
      }
      iface.refill(q, batch);
      // no early exit on n < capacity: rx returns whole chains only, so a short batch does
      // not mean the ring is empty
    }
  }

  #check(q: number, batch: PacketBatch, first: number, end: number): void {
    const seq = this.counts[q];
    this.counts[q]++;
    const where = `${this.#dir} q${q} packet #${seq}`;
    if (end > batch.count) {
      this.#error(`${where}: chain runs past the batch (${first}..${end} of ${batch.count})`);
      return;
    }
    let len: number;
    try {
      len = batch.copyPacket(first, this.#got);
    } catch (err) {
      this.#error(`${where}: ${String(err)}`);
      return;
    }
    this.bytes += len;
    const gotSeq = len >= 4 ? new DataView(this.#got.buffer, 0, 4).getUint32(0, true) : -1;
    const wantLen = packetSize(seq, q, this.#opts.sizes);
    if (gotSeq !== seq) {
      this.#error(`${where}: carries sequence number ${gotSeq} (length ${len}, expected ${wantLen})`);
      this.counts[q] = gotSeq + 1; // resynchronise so one loss is one error
      return;
    }
    if (len !== wantLen) {
      this.#error(`${where}: length ${len}, expected ${wantLen}`);
      return;
    }
    fillPacket(this.#want, seq, q, this.#dir, wantLen);
    const at = firstDifference(this.#got.subarray(0, len), this.#want.subarray(0, len));
    if (at >= 0) this.#error(`${where} (length ${len}): byte ${at} is ${this.#got[at]}, expected ${this.#want[at]}`);
    const bs = this.#opts.bufferSize;
    if (bs !== undefined) {
      const want = Math.ceil(len / bs);
      if (end - first !== want) this.#error(`${where} (length ${len}): ${end - first} buffers, expected ${want} of ${bs} bytes`);
      for (let k = first; k < end - 1; k++) {
        if (batch.len(k) !== bs) this.#error(`${where}: chain buffer ${k - first} holds ${batch.len(k)} bytes, expected ${bs}`);
      }
    }
    this.#opts.onPacket?.(seq, q, batch, first);
  }
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface SendOptions {
  sizes?: readonly number[];
  /** Packets per burst (default 32). */
  burst?: number;
  /** Give up (reject) after this long without sending anything, ms (raised to the wait floor). */
  timeoutMs?: number;
  /** First sequence number (default 0). */
  from?: number;
}

/**
 * Sends packets from..from+count-1 on queue q, copying ('copy': send()) or writing them in
 * place into allocated tx buffers, chained by hand ('alloc': alloc() + setLen/setNext + tx()).
 * Waits (yielding to the event loop) whenever the ring is full; nothing is dropped.
 */
export async function sendAll(
  iface: MemifInterface,
  q: number,
  count: number,
  dir: Direction,
  method: 'copy' | 'alloc',
  options: SendOptions = {},
): Promise<void> {
  const burst = options.burst ?? 32;
  const stallMs = bound(options.timeoutMs ?? 0);
  let deadline = performance.now() + stallMs;
  const from = options.from ?? 0;
  const batch = new PacketBatch(256);
  const pool = Array.from({ length: burst }, () => new Uint8Array(MAX_SIZE));
  let seq = from;
  const last = from + count;
  while (seq < last) {
    if (performance.now() > deadline) {
      throw new Error(`sendAll ${dir} q${q}: only ${seq - from} of ${count} packets sent, then none for ${stallMs / 1000} s (ring full?)`);
    }
    let sent = 0;
    if (method === 'copy') {
      const pkts: Uint8Array[] = [];
      for (let k = 0; k < burst && seq + k < last; k++) {
        const len = packetSize(seq + k, q, options.sizes);
        fillPacket(pool[k], seq + k, q, dir, len);
        pkts.push(pool[k].subarray(0, len));
      }
      sent = iface.send(q, pkts);
    } else {
      const n = iface.alloc(q, batch);
      let used = 0;
      while (seq + sent < last && sent < burst) {
        const s = seq + sent;
        const len = packetSize(s, q, options.sizes);
        // buffers this packet needs, given each one's capacity
        let need = 0;
        for (let cap = 0; cap < len; need++) {
          if (used + need >= n) break;
          cap += batch.len(used + need);
        }
        let capSum = 0;
        for (let k = 0; k < need; k++) capSum += batch.len(used + k);
        if (capSum < len) break; // not enough room for the whole packet now
        fillPacket(pool[0], s, q, dir, len);
        let off = 0;
        for (let k = 0; k < need; k++) {
          const i = used + k;
          const chunk = Math.min(batch.len(i), len - off);
          batch.view(i).set(pool[0].subarray(off, off + chunk));
          batch.setLen(i, chunk);
          batch.setNext(i, k < need - 1);
          off += chunk;
        }
        used += need;
        sent++;
      }
      if (n > 0) {
        const done = iface.tx(q, batch, used);
        if (done !== used) throw new Error(`tx(${q}) sent ${done} of ${used} buffers`);
      }
    }
    seq += sent;
    if (sent > 0) deadline = performance.now() + stallMs;
    if (sent < burst) await yieldToLoop();
  }
}
