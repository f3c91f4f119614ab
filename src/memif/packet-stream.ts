/**
 * Iteration and streams over one queue of an interface.
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
import type { MemifInterface } from './interface';

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

/** Resolves on the next rx of `queue`, link change or close of `iface`. */
function nextActivity(iface: MemifInterface, queue: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      iface.off('rx', onRx);
      iface.off('connect', done);
      iface.off('disconnect', done);
      iface.off('close', done);
      resolve();
    };
    const onRx = (q: number): void => {
      if (q === queue) done();
    };
    iface.on('rx', onRx);
    iface.on('connect', done);
    iface.on('disconnect', done);
    iface.on('close', done);
  });
}

export async function* packets(iface: MemifInterface, queue: number, opts: PacketsOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const batch = new PacketBatch(opts.batchSize ?? 64);
  while (!iface.closed) {
    let n = 0;
    if (iface.connected) {
      try {
        n = iface.rx(queue, batch);
      } catch (err) {
        if (!(err instanceof NotConnectedError) || iface.closed) throw err;
      }
    }
    if (n === 0) {
      await nextActivity(iface, queue);
      continue;
    }
    for (let i = 0; i < n; i = batch.packetEnd(i)) {
      if (!batch.hasNext(i)) {
        yield batch.view(i);
      } else {
        const copy = new Uint8Array(batch.packetLength(i));
        batch.copyPacket(i, copy);
        yield copy;
      }
      if (!iface.connected) break; // the views died with the link
    }
    if (iface.connected) iface.refill(queue, batch);
  }
}

export function createStream(iface: MemifInterface, queue: number, opts: StreamOptions = {}): Duplex {
  const batch = new PacketBatch(opts.batchSize ?? 64);
  const hwm = opts.highWaterMark ?? 256;
  const maxRetryMs = opts.maxRetryMs ?? 4;
  if (!Number.isInteger(hwm) || hwm < 1) throw new InvalidArgumentError('highWaterMark must be a positive integer');
  let reading = false;
  let dropped = 0;

  const pump = (): void => {
    while (reading && iface.connected) {
      let n: number;
      try {
        n = iface.rx(queue, batch);
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
      iface.refill(queue, batch);
    }
  };
  const onRx = (q: number): void => {
    if (q === queue) pump();
  };
  const onClose = (): void => {
    stream.push(null);
  };
  iface.on('rx', onRx);
  iface.on('connect', pump);
  iface.on('close', onClose);

  // A full ring has no "room" signal in memif: retry at once, then after 1, 2, 4... ms (capped).
  const sendOne = (chunk: Uint8Array, cb: (err?: Error | null) => void, waitMs = -1): void => {
    if (iface.closed) return cb(new NotConnectedError('interface closed while a write was pending'));
    if (!iface.connected) return cb(new NotConnectedError('link down while a write was pending', iface.lastDisconnectReason));
    let sent: number;
    try {
      sent = iface.send(queue, chunk);
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
      iface.off('rx', onRx);
      iface.off('connect', pump);
      iface.off('close', onClose);
      cb(err);
    },
  });
  Object.defineProperty(stream, 'dropped', { get: () => dropped, enumerable: true });
  return stream;
}
