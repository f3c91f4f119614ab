/**
 * The cross-thread send queue of an nSocket: a multi-producer, single-consumer ring of whole
 * messages in a SharedArrayBuffer (the reactor pattern: other threads never touch the socket,
 * they queue whole messages that the owning thread sends).
 *
 * Producers (any thread) reserve space by compare-and-swap on `head`, copy the message in, then
 * publish it by storing its length in the record's first word (release). The consumer (the
 * owning thread) reads records in reservation order from `tail`, stops at one not published
 * yet, zeroes what it consumed (so a fresh reservation always reads as unpublished) and
 * publishes the new `tail`. A record never straddles the end: a producer that would wrap marks
 * the rest of the ring as padding and writes at the start.
 *
 * Wake-ups follow the epoll article's "pipe to self": the consumer sets `sleeping` before it goes
 * idle and re-checks; a producer that publishes and finds `sleeping` set clears it and writes
 * the owner's eventfd, so an idle owner wakes at once and a busy one costs no syscall.
 * Producers that find the ring full wait on `space` (Atomics.waitAsync), bumped after each pass.
 *
 * Record: word 0 = 0 (reserved, not published), -1 (padding to the end) or length + 1;
 * byte 4..5 port, byte 6 family (0 = the connected peer, 4, 6); bytes 8..23 the address;
 * payload from byte HEADER; records are 8-byte aligned.
 */
import { InvalidArgumentError } from '../../errors';
import { sys } from '../../native';
import { parseIp, formatIp } from '../ip';
import type { Family, SockAddr } from '../stack';

const C_HEAD = 0;
const C_TAIL = 1;
const C_CLOSED = 2;
const C_SLEEPING = 3;
const C_SPACE = 4;
const C_INFLIGHT = 5;
const C_CAPACITY = 6;
const CONTROL_BYTES = 64;

const HEADER = 24;
const PAD = -1;
const MIN_BYTES = 1 << 12;
const MAX_BYTES = 1 << 30;

/** How long close() waits for producers that are inside send(). */
const CLOSE_WAIT_MS = 200;

const align8 = (n: number) => (n + 7) & ~7;

/** Atomics.waitAsync (in Node 16+, typed only from the ES2024 library). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/** A published message, as the consumer sees it (the object is reused by the next peek). */
export interface RingRecord {
  /** A view into the ring, valid until consume(). */
  data: Uint8Array;
  /** Destination, or null for a connected socket's peer. */
  to: SockAddr | null;
}

export type PushResult = 'ok' | 'full' | 'closed';

export class SendRing {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly #ctrl: Int32Array;
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #mask: number;
  readonly #wakeFd: number;

  // Producer side: the last destination, parsed once.
  #lastText = '';
  #lastBytes: Uint8Array | null = null;
  #lastFamily: Family = 4;

  // Consumer side.
  #tail = 0;
  #recordBytes = 0;
  #consumed = false;
  readonly #record: RingRecord = { data: new Uint8Array(0), to: null };
  readonly #lastTo = new Uint8Array(17); // family + address of the cached destination
  #lastToAddr: SockAddr | null = null;

  private constructor(buffer: SharedArrayBuffer, wakeFd: number) {
    this.buffer = buffer;
    this.#ctrl = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.capacity = this.#ctrl[C_CAPACITY];
    this.#words = new Int32Array(buffer, CONTROL_BYTES, this.capacity / 4);
    this.#bytes = new Uint8Array(buffer, CONTROL_BYTES, this.capacity);
    this.#view = new DataView(buffer, CONTROL_BYTES, this.capacity);
    this.#mask = this.capacity - 1;
    this.#wakeFd = wakeFd;
    this.#tail = Atomics.load(this.#ctrl, C_TAIL) >>> 0;
  }

  /** A new ring of `bytes` (rounded up to a power of two) whose producers write `wakeFd`. */
  static create(bytes: number, wakeFd: number): SendRing {
    if (!Number.isInteger(bytes) || bytes < MIN_BYTES || bytes > MAX_BYTES) {
      throw new InvalidArgumentError(`queue bytes must be an integer from ${MIN_BYTES} to ${MAX_BYTES}, got ${String(bytes)}`);
    }
    const capacity = 2 ** Math.ceil(Math.log2(bytes));
    const buffer = new SharedArrayBuffer(CONTROL_BYTES + capacity);
    const ctrl = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    ctrl[C_CAPACITY] = capacity;
    ctrl[C_SLEEPING] = 1; // idle until the first message
    return new SendRing(buffer, wakeFd);
  }

  /** The producer side of a ring another thread created. */
  static attach(buffer: SharedArrayBuffer, wakeFd: number): SendRing {
    return new SendRing(buffer, wakeFd);
  }

  /** Largest message that fits. */
  get maxMessage(): number {
    return this.capacity - HEADER;
  }

  get closed(): boolean {
    return Atomics.load(this.#ctrl, C_CLOSED) !== 0;
  }

  // ---- producers (any thread) ---------------------------------------------------------------

  /** Queues one whole message (to = null: the connected peer). */
  push(payload: Uint8Array, to: { address: string; port: number } | null): PushResult {
    const c = this.#ctrl;
    const len = payload.length;
    const need = align8(HEADER + len);
    if (need > this.capacity) throw new InvalidArgumentError(`message of ${len} bytes is bigger than the send queue (at most ${this.maxMessage})`);
    const addr = to === null ? null : this.#destination(to.address);
    Atomics.add(c, C_INFLIGHT, 1); // close() waits for us before the eventfd goes away
    try {
      if (Atomics.load(c, C_CLOSED) !== 0) return 'closed';
      let off: number;
      let total: number;
      for (;;) {
        const h = Atomics.load(c, C_HEAD) >>> 0;
        const t = Atomics.load(c, C_TAIL) >>> 0;
        off = h & this.#mask;
        total = off + need > this.capacity ? this.capacity - off + need : need;
        if (((h - t) >>> 0) + total > this.capacity) return 'full';
        if (Atomics.compareExchange(c, C_HEAD, h | 0, (h + total) | 0) === (h | 0)) break;
      }
      const start = total === need ? off : 0;
      const v = this.#view;
      if (to !== null && addr !== null) {
        v.setUint16(start + 4, to.port);
        v.setUint8(start + 6, this.#lastFamily);
        this.#bytes.set(addr, start + 8);
      }
      this.#bytes.set(payload, start + HEADER);
      if (start !== off) Atomics.store(this.#words, off >> 2, PAD);
      Atomics.store(this.#words, start >> 2, len + 1); // publish
      if (Atomics.exchange(c, C_SLEEPING, 0) === 1) sys.eventfdWrite(this.#wakeFd, 1);
      return 'ok';
    } finally {
      Atomics.sub(c, C_INFLIGHT, 1);
    }
  }

  /** A count the consumer bumps after each pass that made room: read it before push(). */
  get spaceSeq(): number {
    return Atomics.load(this.#ctrl, C_SPACE);
  }

  /**
   * Resolves once the consumer made room since `seq` was read (at once if it already did), or
   * the ring closed, or after `timeoutMs`.
   */
  async waitForSpace(seq: number, timeoutMs = 1000): Promise<void> {
    if (this.closed) return;
    const r = waitAsync(this.#ctrl, C_SPACE, seq, timeoutMs);
    if (!r.async) return;
    // A pending Atomics.waitAsync alone does not keep a thread's event loop running.
    const keep = setTimeout(() => undefined, timeoutMs + 10);
    try {
      await r.value;
    } finally {
      clearTimeout(keep);
    }
  }

  #destination(text: string): Uint8Array {
    if (text === this.#lastText && this.#lastBytes !== null) return this.#lastBytes;
    const ip = parseIp(text);
    if (ip === undefined) throw new InvalidArgumentError(`the address must be an IP address (names are not resolved on this path), got ${JSON.stringify(text)}`);
    const bytes = new Uint8Array(16);
    bytes.set(ip.bytes);
    this.#lastText = text;
    this.#lastBytes = bytes;
    this.#lastFamily = ip.family;
    return bytes;
  }

  // ---- the consumer (the owning thread) -----------------------------------------------------

  /** The oldest published message, or null (empty, or the oldest is still being written). */
  peek(): RingRecord | null {
    const c = this.#ctrl;
    for (;;) {
      if (this.#tail === Atomics.load(c, C_HEAD) >>> 0) return null;
      const off = this.#tail & this.#mask;
      const state = Atomics.load(this.#words, off >> 2);
      if (state === 0) return null;
      if (state === PAD) {
        this.#words[off >> 2] = 0;
        this.#advance(this.capacity - off);
        continue;
      }
      const len = state - 1;
      this.#recordBytes = align8(HEADER + len);
      const rec = this.#record;
      rec.data = this.#bytes.subarray(off + HEADER, off + HEADER + len);
      rec.to = this.#readDestination(off);
      return rec;
    }
  }

  /** Drops the message peek() returned. */
  consume(): void {
    const off = this.#tail & this.#mask;
    this.#bytes.fill(0, off, off + this.#recordBytes);
    this.#advance(this.#recordBytes);
  }

  /** After a pass: tells waiting producers there is room. */
  endPass(): void {
    if (!this.#consumed) return;
    this.#consumed = false;
    Atomics.add(this.#ctrl, C_SPACE, 1);
    Atomics.notify(this.#ctrl, C_SPACE);
  }

  /**
   * Before going idle: asks producers to wake us, then looks once more. False = a message was
   * published meanwhile (drain again); true = idle, the next publish writes the eventfd.
   */
  sleep(): boolean {
    const c = this.#ctrl;
    Atomics.store(c, C_SLEEPING, 1);
    if (this.#tail === Atomics.load(c, C_HEAD) >>> 0) return true;
    if (Atomics.load(this.#words, (this.#tail & this.#mask) >> 2) === 0) return true;
    Atomics.store(c, C_SLEEPING, 0);
    return false;
  }

  /**
   * Refuses further messages and waits (briefly) until no producer is inside push(). Returns
   * false when one still is after CLOSE_WAIT_MS (a thread killed mid-push): the eventfd must
   * then stay open, as it might still be written.
   */
  close(): boolean {
    const c = this.#ctrl;
    Atomics.store(c, C_CLOSED, 1);
    Atomics.add(c, C_SPACE, 1);
    Atomics.notify(c, C_SPACE);
    const end = performance.now() + CLOSE_WAIT_MS;
    for (let n = Atomics.load(c, C_INFLIGHT); n !== 0; n = Atomics.load(c, C_INFLIGHT)) {
      if (performance.now() > end) return false;
      Atomics.wait(c, C_INFLIGHT, n, 1);
    }
    return true;
  }

  #advance(n: number): void {
    this.#tail = (this.#tail + n) >>> 0;
    Atomics.store(this.#ctrl, C_TAIL, this.#tail | 0);
    this.#consumed = true;
  }

  #readDestination(off: number): SockAddr | null {
    const b = this.#bytes;
    const family = b[off + 6];
    if (family === 0) return null;
    const port = this.#view.getUint16(off + 4);
    const last = this.#lastTo;
    let same = this.#lastToAddr !== null && last[0] === family;
    for (let i = 0; same && i < 16; i++) same = last[i + 1] === b[off + 8 + i];
    if (!same) {
      last[0] = family;
      last.set(b.subarray(off + 8, off + 24), 1);
      const bytes = b.slice(off + 8, off + 8 + (family === 4 ? 4 : 16));
      this.#lastToAddr = { address: formatIp({ family: family as Family, bytes }), port, family: family as Family };
    }
    const to = this.#lastToAddr as SockAddr;
    to.port = port;
    return to;
  }
}
