/** Message data as node:dgram and node:net take it, as one Uint8Array. */
import { InvalidArgumentError } from '../../errors';

/** One piece of a message: a string (UTF-8) or any Buffer, TypedArray or DataView. */
export type MessageChunk = string | ArrayBufferView;
/** A message as node:dgram's send() takes it: one chunk, or several sent as one datagram. */
export type MessageData = MessageChunk | readonly MessageChunk[];

function chunkBytes(c: MessageChunk): Uint8Array {
  if (typeof c === 'string') return Buffer.from(c);
  if (c instanceof Uint8Array) return c;
  if (ArrayBuffer.isView(c)) return new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
  throw new InvalidArgumentError(`message must be a string, a Buffer, a TypedArray, a DataView or an array of them, got ${typeof c}`);
}

/** The bytes of `msg` (no copy for a single Buffer/TypedArray; arrays are joined). */
export function toBytes(msg: MessageData): Uint8Array {
  if (!Array.isArray(msg)) return chunkBytes(msg as MessageChunk);
  const parts = (msg as readonly MessageChunk[]).map(chunkBytes);
  if (parts.length === 1) return parts[0];
  return Buffer.concat(parts);
}
