/**
 * Zero copy: packet views are Uint8Arrays over the region's own ArrayBuffer (one per region,
 * the same object for every packet), at the descriptor's offset; views are reused; regions are
 * detached (not left dangling) when the link goes down; a slave's buffer swap forwards a
 * packet without moving its bytes.
 */
import test from 'ava';
import { InvalidArgumentError } from '../src/errors';
import { PacketBatch } from '../src/memif/batch';
import type { MemifInterface } from '../src/memif/interface';
import { connected, connectedPair, nextEvent, waitUntil } from './helpers/memif';
import { firstDifference, makePacket } from './helpers/packets';

/** Bytes waiting in rx queue q of iface (ring head - tail, 16-bit). */
function pending(iface: MemifInterface, q = 0): number {
  const r = iface.details().rings.find((x) => x.direction === 'rx' && x.queue === q);
  return r === undefined ? 0 : (r.head - r.tail) & 0xffff;
}

/** rx on q until `want` buffers arrived (polling mode: no events needed). */
async function rxBuffers(iface: MemifInterface, q: number, batch: PacketBatch, want: number, what: string): Promise<number> {
  await waitUntil(() => pending(iface, q) >= want, 3000, what);
  return iface.rx(q, batch);
}

test('a received view is a Uint8Array over the region ArrayBuffer itself, at the descriptor offset', async (t) => {
  const { master, slave } = await connectedPair(t, { shared: { rxMode: 'polling', rxQueues: 1, txQueues: 1 } });
  const pkts = [60, 1500, 2048, 100, 3000].map((len, i) => makePacket(i, 0, 's2m', [len]));
  t.is(slave.send(0, pkts), pkts.length);
  const batch = new PacketBatch(16);
  const n = await rxBuffers(master, 0, batch, 6, 'the packets to reach the master');
  t.is(n, 6, '5 packets, the 3000-byte one in 2 buffers');
  const region = batch.regionBytes(0).buffer;
  t.true(region instanceof ArrayBuffer);
  t.is(region.byteLength, master.details().regionSizes[batch.region(0)], 'the whole region, not a copy of a packet');
  const seen = new Set<number>();
  let k = 0;
  for (let i = 0; i < n; i++) {
    const v = batch.view(i);
    t.is(v.buffer, region, `buffer ${i}: the same ArrayBuffer object as every other packet of region 0`);
    t.is(v.byteOffset, batch.offset(i), `buffer ${i}: byteOffset is the descriptor offset`);
    t.is(v.byteLength, batch.len(i));
    t.false(seen.has(batch.offset(i)), 'every buffer has its own offset');
    seen.add(batch.offset(i));
  }
  // The views show the bytes in place: gather each packet and compare.
  for (let i = 0; i < n; i = batch.packetEnd(i)) {
    const got = new Uint8Array(batch.packetLength(i));
    batch.copyPacket(i, got);
    t.is(firstDifference(got, pkts[k]), -1, `packet ${k} byte-exact`);
    k++;
  }
  t.is(k, pkts.length);
  // Reading through the region directly at the offset gives the same bytes as the view.
  const direct = new Uint8Array(region, batch.offset(0), batch.len(0));
  t.deepEqual(direct, batch.view(0));
  master.refill(0, batch);
});

test('views are reused: the same Uint8Array object for the same position while offset and length are unchanged', async (t) => {
  // A ring of 2 slots: every round of 2 packets lands in the same 2 buffers again.
  const { master, slave } = await connectedPair(t, { shared: { rxMode: 'polling', log2RingSize: 1 } });
  const batch = new PacketBatch(2);
  let prev: Uint8Array[] = [];
  let prevOffsets: number[] = [];
  for (let round = 0; round < 5; round++) {
    t.is(slave.send(0, [makePacket(2 * round, 0, 's2m', [200]), makePacket(2 * round + 1, 0, 's2m', [200])]), 2);
    t.is(await rxBuffers(master, 0, batch, 2, `round ${round}: 2 packets`), 2);
    const views = [batch.view(0), batch.view(1)];
    const offsets = [batch.offset(0), batch.offset(1)];
    t.is(batch.view(0), views[0], 'asking twice gives the same object');
    t.is(new DataView(views[0].buffer, views[0].byteOffset).getUint32(0, true), 2 * round, 'fresh content through the reused view');
    t.is(new DataView(views[1].buffer, views[1].byteOffset).getUint32(0, true), 2 * round + 1);
    if (round > 0) {
      t.deepEqual(offsets, prevOffsets, 'the ring cycled back to the same buffers');
      t.is(views[0], prev[0], `round ${round}: position 0 reuses its view`);
      t.is(views[1], prev[1], `round ${round}: position 1 reuses its view`);
    }
    prev = views;
    prevOffsets = offsets;
    master.refill(0, batch);
  }
  // A different length at the same position: a new view of that length.
  t.is(slave.send(0, [makePacket(0, 0, 's2m', [300]), makePacket(1, 0, 's2m', [200])]), 2);
  t.is(await rxBuffers(master, 0, batch, 2, 'a packet of another length'), 2);
  const v0 = batch.view(0);
  t.not(v0, prev[0]);
  t.is(v0.byteLength, 300);
  t.is(v0.byteOffset, batch.offset(0));
  t.is(batch.view(1), prev[1], 'position 1 (same offset, same length) is still reused');
  master.refill(0, batch);
});

for (const who of ['master', 'slave'] as const) {
  test(`after disconnect the ${who}'s region ArrayBuffer is detached (byteLength 0), not dangling; a reconnect maps a new one`, async (t) => {
    const pair = await connectedPair(t, { shared: { rxMode: 'polling' } });
    const rxSide = who === 'master' ? pair.master : pair.slave;
    const txSide = who === 'master' ? pair.slave : pair.master;
    t.is(txSide.send(0, makePacket(7, 0, 'm2s', [1000])), 1);
    const batch = new PacketBatch(4);
    t.is(await rxBuffers(rxSide, 0, batch, 1, 'one packet'), 1);
    const view = batch.view(0);
    const region = view.buffer;
    const size = region.byteLength;
    t.true(size > 0);
    t.is(view[0], 7);

    // The peer takes the link down; our side processes the DISCONNECT.
    const down = nextEvent<[string]>(rxSide, 'disconnect', 3000, `the ${who} to see the link go down`);
    const up = nextEvent(rxSide, 'connect', 5000, `the ${who} to reconnect`);
    txSide.disconnect('zero-copy test');
    const [reason] = await down;
    t.is(reason, 'zero-copy test');
    t.is(region.byteLength, 0, 'the region ArrayBuffer is detached');
    t.is(view.byteLength, 0, 'the view over it is empty');
    t.is(view.length, 0);
    t.is(view[0] as number | undefined, undefined, 'reading it gives nothing (no access to unmapped memory)');
    view[0] = 1; // an indexed write to a detached buffer is ignored
    t.is(view[0] as number | undefined, undefined);
    t.throws(() => view.fill(1), { instanceOf: TypeError, message: /detached/ }, 'methods throw a JS error instead of touching unmapped memory');

    // A reconnect maps a new region, and the same batch gives views over it.
    await up;
    await connected(txSide);
    t.is(txSide.send(0, makePacket(8, 0, 'm2s', [1000])), 1);
    t.is(await rxBuffers(rxSide, 0, batch, 1, 'one packet after the reconnect'), 1);
    const fresh = batch.view(0);
    t.not(fresh.buffer, region, 'a new ArrayBuffer for the new mapping');
    t.is(fresh.buffer.byteLength, size);
    t.is(fresh[0], 8);
    rxSide.refill(0, batch);
  });
}

test('closing the socket detaches the regions of its interfaces too', async (t) => {
  const pair = await connectedPair(t, { shared: { rxMode: 'polling' } });
  t.is(pair.slave.send(0, makePacket(1, 0, 's2m', [500])), 1);
  const batch = new PacketBatch(4);
  t.is(await rxBuffers(pair.master, 0, batch, 1, 'one packet'), 1);
  const region = batch.view(0).buffer;
  t.true(region.byteLength > 0);
  pair.masterSocket.close();
  t.is(region.byteLength, 0);
});

test('swap moves no bytes: a packet the master writes at region offset X comes back at offset X with the same bytes', async (t) => {
  const { master, slave } = await connectedPair(t, {
    shared: { rxMode: 'polling', rxQueues: 2, txQueues: 2 },
    slave: { bufferSize: 2048 },
  });
  const lens = [64, 1500, 2048, 5000, 60, 9000];
  const pkts = lens.map((len, i) => makePacket(i, 0, 'm2s', [len]));

  // The master writes the packets in place into buffers it allocates (chained by hand).
  const tb = new PacketBatch(64);
  const n = master.alloc(0, tb);
  t.true(n >= 20, `alloc gave ${n} buffers`);
  const sentOffsets: number[] = [];
  let used = 0;
  for (const p of pkts) {
    for (let off = 0; off < p.length; used++) {
      const chunk = Math.min(tb.len(used), p.length - off);
      tb.view(used).set(p.subarray(off, off + chunk));
      tb.setLen(used, chunk);
      tb.setNext(used, off + chunk < p.length);
      sentOffsets.push(tb.offset(used));
      off += chunk;
    }
  }
  t.is(master.tx(0, tb, used), used);

  // The slave receives them at the same offsets and swaps them into its tx ring of queue 1.
  const rb = new PacketBatch(64);
  t.is(await rxBuffers(slave, 0, rb, used, 'the packets to reach the slave'), used);
  const slaveRxOffsets = Array.from({ length: used }, (_, i) => rb.offset(i));
  t.deepEqual(slaveRxOffsets, sentOffsets, 'the slave sees the buffers where the master wrote them');
  const moved = slave.swap(0, 1, rb);
  t.is(moved, used);
  t.deepEqual(Array.from({ length: used }, (_, i) => rb.offset(i)), sentOffsets, 'after swap the tx descriptors point at the same buffers');
  t.is(slave.tx(1, rb, moved), moved);
  t.is(slave.refill(0, used), used);

  // The master receives the same buffers, at the same offsets, with identical bytes.
  const back = new PacketBatch(64);
  t.is(await rxBuffers(master, 1, back, used, 'the swapped packets to come back'), used);
  t.deepEqual(Array.from({ length: used }, (_, i) => back.offset(i)), sentOffsets, 'received at the offsets they were written to');
  let k = 0;
  for (let i = 0; i < used; i = back.packetEnd(i)) {
    const got = new Uint8Array(back.packetLength(i));
    back.copyPacket(i, got);
    t.is(firstDifference(got, pkts[k]), -1, `packet ${k} (${pkts[k].length} bytes) identical`);
    k++;
  }
  t.is(k, pkts.length);
  t.is(back.view(0).buffer, tb.view(0).buffer, 'the same region ArrayBuffer on the master for what it sent and what came back');
  master.refill(1, back);

  // The slave copied nothing: its tx counters count the packets, its region bytes are those
  // the master wrote (one shared memory).
  t.is(slave.stats().tx[1].packets, pkts.length);
});

test('swap on a master is refused with InvalidArgumentError', async (t) => {
  const { master } = await connectedPair(t, { shared: { rxMode: 'polling' } });
  const err = t.throws(() => master.swap(0, 0, new PacketBatch(4), 0), { instanceOf: InvalidArgumentError });
  t.is(err?.code, 'ERR_NMEMIF_INVALID_ARG');
  t.regex(err?.message ?? '', /slave/);
});

test('tx writes in place: bytes the slave writes into an allocated buffer are at the same offset in the master region', async (t) => {
  const { master, slave } = await connectedPair(t, { shared: { rxMode: 'polling' } });
  const tb = new PacketBatch(1);
  t.is(slave.alloc(0, tb), 1);
  const x = tb.offset(0);
  const p = makePacket(42, 0, 's2m', [777]);
  tb.view(0).set(p);
  tb.setLen(0, p.length);
  t.is(slave.tx(0, tb, 1), 1);
  const rb = new PacketBatch(1);
  t.is(await rxBuffers(master, 0, rb, 1, 'the packet'), 1);
  t.is(rb.offset(0), x);
  t.is(rb.view(0).byteOffset, x);
  t.is(firstDifference(rb.view(0), p), -1);
  master.refill(0, rb);
});
