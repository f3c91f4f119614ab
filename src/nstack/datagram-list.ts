/** Reusable receive storage for recvBatch() (see DatagramList in stack.ts). */
import { InvalidArgumentError } from '../errors';
import type { DatagramList } from './stack';

/** Options of {@link createDatagramList}. */
export interface DatagramListOptions {
  /** Most datagrams one batch holds (default 64). */
  count?: number;
  /** Bytes for their payloads, back to back (default count * 2048, at least 65535 so any
   * datagram fits). */
  bytes?: number;
}

/** Storage for recvBatch(): allocate one per socket (or per loop) and reuse it for every batch. */
export function createDatagramList(options: DatagramListOptions = {}): DatagramList {
  const count = options.count ?? 64;
  if (!Number.isInteger(count) || count < 1 || count > 65536) throw new InvalidArgumentError(`count must be an integer from 1 to 65536, got ${String(options.count)}`);
  const bytes = options.bytes ?? Math.max(count * 2048, 65535);
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 1 << 30) throw new InvalidArgumentError(`bytes must be an integer from 1 to 2^30, got ${String(options.bytes)}`);
  return {
    data: new Uint8Array(bytes),
    offsets: new Uint32Array(count),
    lengths: new Uint32Array(count),
    addresses: [],
    count: 0,
    pending: 0,
  };
}

/** Datagram i of the list's last batch, as a view (valid until the next batch). */
export function datagramAt(list: DatagramList, i: number): Uint8Array {
  return list.data.subarray(list.offsets[i], list.offsets[i] + list.lengths[i]);
}
