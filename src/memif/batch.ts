/**
 * PacketBatch: a reusable array of buffer descriptors that burst calls fill in one native
 * call, plus zero-copy access to the bytes.
 *
 * Each buffer takes 6 u32 words laid out as the C library's nmif_buf_t: data pointer (2 words,
 * unused here), length, offset in its region, region | flags << 16, ring slot | queue << 16
 * (the layout is checked against the C header when the library loads, src/abi.ts).
 * `view(i)` is a Uint8Array over the region's ArrayBuffer itself (its `.buffer` is the region,
 * its `byteOffset` the descriptor offset): nothing is copied. Views are cached per buffer
 * position and reused while the length matches, so steady traffic allocates nothing; the
 * allocation-free accessors (`regionBytes()`, `offset()`, `len()`) never allocate at all.
 *
 * A chain (a packet larger than one buffer) is several consecutive buffers, every one but the
 * last with `hasNext(i)`; `packetEnd(i)`, `packet(i)` and `copyPacket(i, dst)` walk it. rx()
 * delivers any legal chain whole: when one is longer than the batch, the batch grows (once, up
 * to the ring size; no chain is longer) and keeps that capacity.
 *
 * Buffers live as long as their connection: once the link goes down the shared memory is
 * unmapped, views of it read as empty, and the accessors that reach the bytes (view(),
 * regionBytes(), packet(), copyPacket()) throw StaleBufferError (ERR_NMEMIF_STALE_BUFFER).
 */
import { BUF, MAX_RING_SIZE } from '../abi';
import { InvalidArgumentError, StaleBufferError } from '../errors';

/** u32 words per buffer descriptor in {@link PacketBatch.words} (the C nmif_buf_t layout). */
export const WORDS_PER_BUFFER = BUF.WORDS;
const W_LEN = BUF.LEN;
const W_OFFSET = BUF.OFFSET;
const W_REGION_FLAGS = BUF.REGION_FLAGS;
const W_SLOT_QUEUE = BUF.SLOT_QUEUE;
const FLAG_NEXT = BUF.NEXT;

const kGrow = Symbol('grow');

/** @internal makes room for `capacity` buffers, keeping what is described. */
export function growBatch(batch: PacketBatch, capacity: number): void {
  batch[kGrow](capacity);
}

/**
 * A reusable array of buffer descriptors that burst calls ({@link MemifInterface.rx},
 * {@link MemifInterface.alloc}, ...) fill in one native call, with zero-copy access to the bytes:
 * {@link PacketBatch.view} is a Uint8Array over the shared memory itself. Allocate one per
 * queue and reuse it: the hot path then allocates nothing.
 */
export class PacketBatch {
  /** Buffers currently described (set by rx/alloc calls). */
  count = 0;
  #capacity: number;
  #words: Uint32Array;
  #regions: readonly Uint8Array[] = [];
  #views: (Uint8Array | undefined)[];

  constructor(capacity = 256) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_RING_SIZE) {
      throw new InvalidArgumentError(`batch capacity must be an integer from 1 to ${MAX_RING_SIZE}, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#words = new Uint32Array(new ArrayBuffer(capacity * WORDS_PER_BUFFER * 4)); // 8-aligned
    this.#views = new Array(capacity);
  }

  /** How many buffers the batch holds. */
  get capacity(): number {
    return this.#capacity;
  }

  /** The descriptor words the native burst calls read and write. */
  get words(): Uint32Array {
    return this.#words;
  }

  /** @internal see growBatch(). */
  [kGrow](capacity: number): void {
    if (capacity <= this.#capacity) return;
    const words = new Uint32Array(new ArrayBuffer(capacity * WORDS_PER_BUFFER * 4));
    words.set(this.#words);
    this.#words = words;
    this.#views.length = capacity;
    this.#capacity = capacity;
  }

  /** Called by the interface before a burst: the regions the descriptors point into. */
  bindRegions(regions: readonly Uint8Array[]): void {
    if (regions !== this.#regions) {
      this.#regions = regions;
      this.#views.fill(undefined); // views of an older mapping are stale (and detached)
    }
  }

  /** Length in bytes of buffer i (after alloc(): its capacity). */
  len(i: number): number {
    return this.#words[i * WORDS_PER_BUFFER + W_LEN];
  }

  /** Offset of buffer i in its region. */
  offset(i: number): number {
    return this.#words[i * WORDS_PER_BUFFER + W_OFFSET];
  }

  /** Index of the region buffer i lives in. */
  region(i: number): number {
    return this.#words[i * WORDS_PER_BUFFER + W_REGION_FLAGS] & 0xffff;
  }

  /** Whether buffer i continues in buffer i + 1 (a chained packet). */
  hasNext(i: number): boolean {
    return ((this.#words[i * WORDS_PER_BUFFER + W_REGION_FLAGS] >>> 16) & FLAG_NEXT) !== 0;
  }

  /** Free-running ring position of buffer i. */
  slot(i: number): number {
    return this.#words[i * WORDS_PER_BUFFER + W_SLOT_QUEUE] & 0xffff;
  }

  /** The queue buffer i came from. */
  queue(i: number): number {
    return this.#words[i * WORDS_PER_BUFFER + W_SLOT_QUEUE] >>> 16;
  }

  /** The whole region buffer i lives in; index it from offset(i) for len(i) bytes. Throws
   * StaleBufferError once the buffer's connection went down. */
  regionBytes(i: number): Uint8Array {
    const r = this.#regions[this.region(i)];
    if (r === undefined) throw new InvalidArgumentError(`buffer ${i} points into region ${this.region(i)}, which is not mapped`);
    // A region is never empty: an empty view is one whose memory was unmapped (detached).
    if (r.byteLength === 0) throw new StaleBufferError(`buffer ${i} belongs to a connection that went down (its shared memory is unmapped): receive or allocate again`);
    return r;
  }

  /** Zero-copy view of buffer i (cached; reused while its offset and length stay the same). */
  view(i: number): Uint8Array {
    const len = this.len(i);
    const off = this.offset(i);
    const cached = this.#views[i];
    if (cached !== undefined && cached.byteOffset === off && cached.byteLength === len && cached.buffer === this.regionBytes(i).buffer) {
      return cached;
    }
    const r = this.regionBytes(i);
    const v = new Uint8Array(r.buffer, r.byteOffset + off, len);
    this.#views[i] = v;
    return v;
  }

  /** For tx: the number of bytes to send from buffer i (at most its capacity). */
  setLen(i: number, len: number): void {
    this.#words[i * WORDS_PER_BUFFER + W_LEN] = len;
  }

  /** For tx: whether the packet continues in buffer i + 1. */
  setNext(i: number, next: boolean): void {
    const k = i * WORDS_PER_BUFFER + W_REGION_FLAGS;
    this.#words[k] = (this.#words[k] & 0xffff) | (next ? FLAG_NEXT << 16 : 0);
  }

  /** Index just past the packet (chain) that starts at buffer i; a chain still open at the
   * last buffer described ends there. */
  packetEnd(i: number): number {
    while (i < this.count - 1 && this.hasNext(i)) i++;
    return i + 1;
  }

  /** Total bytes of the packet starting at buffer i. */
  packetLength(i: number): number {
    let n = 0;
    const end = this.packetEnd(i);
    for (let k = i; k < end; k++) n += this.len(k);
    return n;
  }

  /** A copy of the packet starting at buffer i (a chain gathered), sized from the packet. */
  packet(i: number): Uint8Array {
    const out = new Uint8Array(this.packetLength(i));
    this.copyPacket(i, out);
    return out;
  }

  /** Copies the packet starting at buffer i into dst (gathering a chain); returns its length.
   * dst must have room for packetLength(i) bytes from dstOffset (any legal frame: use packet(i)
   * or size dst from packetLength(i), not from a constant). */
  copyPacket(i: number, dst: Uint8Array, dstOffset = 0): number {
    const end = this.packetEnd(i);
    let at = dstOffset;
    for (let k = i; k < end; k++) {
      const r = this.regionBytes(k);
      const off = this.offset(k);
      const len = this.len(k);
      if (at + len > dst.length) {
        throw new InvalidArgumentError(`destination too small for a packet of ${this.packetLength(i)} bytes (size it from packetLength(), or use packet())`);
      }
      dst.set(r.subarray(off, off + len), at);
      at += len;
    }
    return at - dstOffset;
  }

  /** Number of whole packets described. */
  packetCount(): number {
    let n = 0;
    for (let k = 0; k < this.count; k++) if (!this.hasNext(k)) n++;
    return n;
  }
}
