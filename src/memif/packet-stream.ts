/**
 * Iteration and streams over one queue pair (a MemifQueue, in the interface's thread or in a
 * worker).
 *
 * packets(): an async iterator of received packets. A single-buffer packet is yielded as a
 * zero-copy view, valid until the iterator is resumed (copy it to keep it); a chained packet
 * is yielded as one gathered copy. Iteration waits across disconnects (a slave reconnects) and
 * ends when the interface closes.
 *
 * createStream(): a Duplex in object mode. Reading yields Buffers (copies: stream consumers
 * keep chunks); when the consumer stops reading, the ring is no longer drained, so the peer
 * sees a full ring: backpressure reaches it. Writing sends each chunk as one packet; when the
 * tx ring is full the write waits for the peer to make room (memif has no "room" signal, so it
 * retries with a short backoff) unless `dropWhenFull` is set, which drops and counts instead.
 * A write pending when the link goes down fails with NotConnectedError.
 */
import type { Duplex } from 'node:stream';
import { InvalidArgumentError, NotConnectedError } from '../errors';
import { PacketBatch } from './batch';

/** What iteration and streams use of a queue (MemifQueue has it). */
export interface PacketQueue {
  readonly connected: boolean;
  readonly closed: boolean;
  rx(batch: PacketBatch): number;
  refill(batch: PacketBatch): number;
  send(data: Uint8Array): number;
  on(event: 'rx' | 'connect' | 'disconnect' | 'close', fn: () => void): unknown;
  off(event: 'rx' | 'connect' | 'disconnect' | 'close', fn: () => void): unknown;
}

/** Options of {@link MemifInterface.packets}. */
export interface PacketsOptions {
  /** Buffers per burst (default 64). */
  batchSize?: number;
}

/** Options of {@link MemifInterface.createStream}. */
export interface StreamOptions extends PacketsOptions {
  /** Drop packets when the tx ring is full instead of waiting (default false). */
  dropWhenFull?: boolean;
  /** Readable/writable high-water marks in packets (default 256). */
  highWaterMark?: number;
  /** Longest wait between retries on a full tx ring, ms (default 4). */
  maxRetryMs?: number;
}

/** Resolves on the next rx, link change or close of `q`. */
function nextActivity(q: PacketQueue): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      for (const ev of ['rx', 'connect', 'disconnect', 'close'] as const) q.off(ev, done);
      resolve();
    };
    for (const ev of ['rx', 'connect', 'disconnect', 'close'] as const) q.on(ev, done);
  });
}

export async function* packets(q: PacketQueue, opts: PacketsOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const batch = new PacketBatch(opts.batchSize ?? 64);
  while (!q.closed) {
    let n = 0;
    if (q.connected) {
      try {
        n = q.rx(batch);
      } catch (err) {
        if (!(err instanceof NotConnectedError) || q.closed) throw err;
      }
    }
    if (n === 0) {
      await nextActivity(q);
      continue;
    }
    for (let i = 0; i < n; i = batch.packetEnd(i)) {
      yield batch.hasNext(i) ? batch.packet(i) : batch.view(i);
      if (!q.connected) break; // the views died with the link
    }
    if (q.connected) q.refill(batch);
  }
}

export function createStream(q: PacketQueue, opts: StreamOptions = {}): Duplex {
  const batch = new PacketBatch(opts.batchSize ?? 64);
  const hwm = opts.highWaterMark ?? 256;
  const maxRetryMs = opts.maxRetryMs ?? 4;
  if (!Number.isInteger(hwm) || hwm < 1) throw new InvalidArgumentError('highWaterMark must be a positive integer');
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

  // A full ring has no "room" signal in memif: retry at once, then after 1, 2, 4... ms (capped).
  const sendOne = (chunk: Uint8Array, cb: (err?: Error | null) => void, waitMs = -1): void => {
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
    const next = waitMs < 0 ? 0 : Math.min(maxRetryMs, Math.max(1, waitMs * 2));
    const retry = (): void => sendOne(chunk, cb, next);
    if (next === 0) setImmediate(retry);
    else setTimeout(retry, next);
  };

  // node:stream is loaded on first use: importing the library should not pay for it.
  const { Duplex } = require('node:stream') as typeof import('node:stream');
  const stream = new Duplex({
    objectMode: true,
    readableHighWaterMark: hwm,
    writableHighWaterMark: hwm,
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
      cb(err);
    },
  });
  Object.defineProperty(stream, 'dropped', { get: () => dropped, enumerable: true });
  return stream;
}
