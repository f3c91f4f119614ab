/**
 * Iteration and streams over one queue pair (a MemifQueue, in the interface's thread or in a
 * worker).
 *
 * packets(): an async iterator of received packets. A single-buffer packet is yielded as a
 * zero-copy view of the shared memory, valid only until the iterator is resumed: its buffer then
 * goes back to the peer, which writes it again once the ring wraps, so a view kept longer shows
 * a later packet (keep it with `copy: true`, or copy it). A chained packet is always yielded as
 * one gathered copy. Iteration waits across disconnects (a slave reconnects), ends when the
 * queue closes, and throws an AbortError when its `signal` aborts; leaving it early (break,
 * return, throw) hands the buffers of the current burst back to the peer.
 *
 * createStream(): a Duplex in object mode. Reading yields Buffers (copies: stream consumers
 * keep chunks); when the consumer stops reading, the ring is no longer drained, so the peer
 * sees a full ring: backpressure reaches it. Writing sends each chunk as one packet; when the
 * tx ring is full the write waits for the queue's 'drain' (room-watch.ts) unless `dropWhenFull`
 * is set, which drops and counts instead. A write pending when the link goes down fails with
 * NotConnectedError. `signal` destroys the stream with an AbortError, as Node's streams do.
 */
import type { Duplex } from 'node:stream';
import { InvalidArgumentError, NotConnectedError } from '../errors';
import { PacketBatch } from './batch';
import { abortError, checkSignal } from './waits';

type QueueEvent = 'rx' | 'drain' | 'connect' | 'disconnect' | 'close';

/** What iteration and streams use of a queue (MemifQueue has it). */
export interface PacketQueue {
  readonly connected: boolean;
  readonly closed: boolean;
  rx(batch: PacketBatch): number;
  refill(batch: PacketBatch): number;
  send(data: Uint8Array): number;
  on(event: QueueEvent, fn: () => void): unknown;
  off(event: QueueEvent, fn: () => void): unknown;
}

/** Options of {@link MemifQueue.packets} and {@link MemifInterface.packets}. */
export interface PacketsOptions {
  /** Buffers per burst (default 64). */
  batchSize?: number;
  /** Yield a copy of every packet (a Buffer of its own, kept as long as you like) instead of a
   * view of the shared memory that is valid only until the iterator is resumed (default false). */
  copy?: boolean;
  /** Stops the iteration (and a stream): it throws an AbortError whose `cause` is the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@link MemifInterface.createStream}. */
export interface StreamOptions extends Omit<PacketsOptions, 'copy'> {
  /** Drop packets when the tx ring is full instead of waiting for 'drain' (default false). */
  dropWhenFull?: boolean;
  /** Readable/writable high-water marks in packets (default 256). */
  highWaterMark?: number;
}

const ACTIVITY: readonly QueueEvent[] = ['rx', 'connect', 'disconnect', 'close'];

/** Resolves on the next rx, link change or close of `q`; rejects when `signal` aborts. */
function nextActivity(q: PacketQueue, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      for (const ev of ACTIVITY) q.off(ev, done);
      signal?.removeEventListener('abort', aborted);
      resolve();
    };
    const aborted = (): void => {
      for (const ev of ACTIVITY) q.off(ev, done);
      reject(abortError(signal!));
    };
    for (const ev of ACTIVITY) q.on(ev, done);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

export async function* packets(q: PacketQueue, opts: PacketsOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const signal = checkSignal(opts.signal, 'packets()');
  const copy = opts.copy === true;
  const batch = new PacketBatch(opts.batchSize ?? 64);
  let held = false; // buffers of the current burst are ours until refilled
  try {
    while (!q.closed) {
      if (signal?.aborted) throw abortError(signal);
      let n = 0;
      if (q.connected) {
        try {
          n = q.rx(batch);
        } catch (err) {
          if (!(err instanceof NotConnectedError) || q.closed) throw err;
        }
      }
      if (n === 0) {
        await nextActivity(q, signal);
        continue;
      }
      held = true;
      for (let i = 0; i < n; i = batch.packetEnd(i)) {
        if (signal?.aborted) throw abortError(signal);
        yield copy || batch.hasNext(i) ? copyOf(batch, i) : batch.view(i);
        if (!q.connected) break; // the views died with the link
      }
      held = false;
      if (q.connected) q.refill(batch);
    }
  } finally {
    if (held && q.connected && !q.closed) q.refill(batch);
  }
}

/** Packet i of the batch as a Buffer of its own. */
function copyOf(batch: PacketBatch, i: number): Buffer {
  const buf = Buffer.allocUnsafe(batch.packetLength(i));
  batch.copyPacket(i, buf);
  return buf;
}

export function createStream(q: PacketQueue, opts: StreamOptions = {}): Duplex {
  const batch = new PacketBatch(opts.batchSize ?? 64);
  const hwm = opts.highWaterMark ?? 256;
  if (!Number.isInteger(hwm) || hwm < 1) throw new InvalidArgumentError('highWaterMark must be a positive integer');
  const signal = checkSignal(opts.signal, 'createStream()');
  let reading = false;
  let dropped = 0;
  let lastReason = '';
  const onDown = (reason?: unknown): void => {
    lastReason = typeof reason === 'string' ? reason : '';
  };
  q.on('disconnect', onDown);

  const pump = (): void => {
    while (reading && q.connected) {
      let n: number;
      try {
        n = q.rx(batch);
      } catch (err) {
        if (err instanceof NotConnectedError) return;
        stream.destroy(err as Error);
        return;
      }
      if (n === 0) return; // wait for the next 'rx'
      for (let i = 0; i < n; i = batch.packetEnd(i)) {
        const buf = Buffer.allocUnsafe(batch.packetLength(i));
        batch.copyPacket(i, buf);
        if (!stream.push(buf)) reading = false; // finish the batch, then stop draining
      }
      q.refill(batch);
    }
  };
  const onClose = (): void => {
    stream.push(null);
  };
  q.on('rx', pump);
  q.on('connect', pump);
  q.on('close', onClose);

  // A write the full ring did not take waits for 'drain' (or the link going down, or close).
  let blocked: (() => void) | null = null;
  const resume = (): void => {
    const retry = blocked;
    blocked = null;
    retry?.();
  };
  for (const ev of ['drain', 'disconnect', 'close'] as const) q.on(ev, resume); // after onDown: lastReason is set

  const sendOne = (chunk: Uint8Array, cb: (err?: Error | null) => void): void => {
    if (q.closed) return cb(new NotConnectedError('interface closed while a write was pending'));
    if (!q.connected) return cb(new NotConnectedError('link down while a write was pending', lastReason));
    let sent: number;
    try {
      sent = q.send(chunk);
    } catch (err) {
      return cb(err as Error);
    }
    if (sent === 1) return cb();
    if (opts.dropWhenFull) {
      dropped++;
      return cb();
    }
    blocked = () => sendOne(chunk, cb);
  };

  // node:stream is loaded on first use: importing the library should not pay for it.
  const { Duplex } = require('node:stream') as typeof import('node:stream');
  const stream = new Duplex({
    objectMode: true,
    readableHighWaterMark: hwm,
    writableHighWaterMark: hwm,
    signal,
    read(): void {
      reading = true;
      pump();
    },
    write(chunk: Uint8Array, _enc, cb): void {
      if (!(chunk instanceof Uint8Array)) return cb(new InvalidArgumentError('write a Uint8Array (one packet per chunk)'));
      sendOne(chunk, cb);
    },
    destroy(err, cb): void {
      q.off('rx', pump);
      q.off('connect', pump);
      q.off('close', onClose);
      q.off('disconnect', onDown);
      for (const ev of ['drain', 'disconnect', 'close'] as const) q.off(ev, resume);
      blocked = null;
      cb(err);
    },
  });
  Object.defineProperty(stream, 'dropped', { get: () => dropped, enumerable: true });
  return stream;
}
