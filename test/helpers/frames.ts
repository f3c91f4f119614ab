/**
 * Self-checking messages for the cross-thread tests: [u32 length][u16 sender][u32 seq] then
 * bytes that depend on all three, so a message that arrives cut, merged or mixed with another
 * fails check().
 */
export const FRAME_HEADER = 10;

export function frameLength(sender: number, seq: number, min = 16, max = 1200): number {
  return min + ((sender * 7919 + seq * 104729) % (max - min + 1));
}

export function makeFrame(sender: number, seq: number, length = frameLength(sender, seq)): Buffer {
  const b = Buffer.allocUnsafe(length);
  b.writeUInt32BE(length, 0);
  b.writeUInt16BE(sender, 4);
  b.writeUInt32BE(seq, 6);
  for (let i = FRAME_HEADER; i < length; i++) b[i] = (sender * 31 + seq * 17 + i) & 0xff;
  return b;
}

/** The frame's sender and seq if it is whole and intact, else a description of what is wrong. */
export function checkFrame(b: Uint8Array): { sender: number; seq: number } | string {
  if (b.length < FRAME_HEADER) return `only ${b.length} bytes`;
  const v = Buffer.from(b.buffer, b.byteOffset, b.length);
  const length = v.readUInt32BE(0);
  if (length !== b.length) return `length field ${length}, got ${b.length} bytes`;
  const sender = v.readUInt16BE(4);
  const seq = v.readUInt32BE(6);
  for (let i = FRAME_HEADER; i < length; i++) {
    if (b[i] !== ((sender * 31 + seq * 17 + i) & 0xff)) return `byte ${i} of sender ${sender} seq ${seq} differs`;
  }
  return { sender, seq };
}
