/**
 * Playing a hostile peer from the test process: writes a ring's words directly through the
 * shared memory, as a peer that ignores the protocol would. The layout is the wire format's
 * (ring header: cookie u32, flags u16, head u16 at 0; tail u16 at 64; descriptors at 128, 16
 * bytes each: flags u16, region u16, length u32, offset u32, metadata u32).
 */
import { PacketBatch } from '../../src/memif/batch';
import type { MemifInterface } from '../../src/memif/interface';

const HEAD = 6;
const TAIL = 64;
const DESC = 128;
const DESC_SIZE = 16;
const DESC_NEXT = 1;

export interface RingView {
  dv: DataView;
  size: number;
  head(): number;
  tail(): number;
  setHead(v: number): void;
  setTail(v: number): void;
  /** Rewrites descriptor flags and length of the slot at free-running position `pos`. */
  setDesc(pos: number, flags: number, length: number): void;
}

/** The tx ring of `iface`'s queue `q` (the one it produces into), through its own mapping. */
export function txRing(iface: MemifInterface, q = 0): RingView {
  const ring = iface.details().rings.find((r) => r.direction === 'tx' && r.queue === q);
  if (!ring) throw new Error(`no tx ring ${q}`);
  // A reservation gives us the region's bytes (the ring lives in region 0 with the buffers).
  const batch = new PacketBatch(1);
  if (iface.alloc(q, batch, 1) !== 1) throw new Error('no tx buffer to reach the region through');
  const region = batch.regionBytes(0);
  iface.tx(q, batch, 0); // the reservation is not needed: drop it
  const dv = new DataView(region.buffer, region.byteOffset + ring.offset);
  const mask = ring.size - 1;
  return {
    dv,
    size: ring.size,
    head: () => dv.getUint16(HEAD, true),
    tail: () => dv.getUint16(TAIL, true),
    setHead: (v) => dv.setUint16(HEAD, v & 0xffff, true),
    setTail: (v) => dv.setUint16(TAIL, v & 0xffff, true),
    setDesc: (pos, flags, length) => {
      const at = DESC + (pos & mask) * DESC_SIZE;
      dv.setUint16(at, flags, true);
      dv.setUint32(at + 4, length, true);
    },
  };
}

/** Publishes a chain that never ends: every slot the producer may fill, flagged NEXT. */
export function publishEndlessChain(producer: MemifInterface): void {
  const r = txRing(producer);
  const isMaster = producer.role === 'master';
  const from = isMaster ? r.tail() : r.head();
  for (let k = 0; k < r.size; k++) r.setDesc(from + k, DESC_NEXT, 64);
  if (isMaster) r.setTail(from + r.size);
  else r.setHead(from + r.size);
}
