/** Message data as node:dgram and node:net take it, as one Uint8Array. */
import { InvalidArgumentError } from '../../errors';

export type MessageChunk = string | ArrayBufferView;
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
