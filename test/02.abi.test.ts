/**
 * One source of truth for what C and TypeScript share (src/abi.ts): the values come from the
 * headers through the addon, the few TypeScript spells out match them, and a mismatch is
 * caught (the check at load is the same function, run on a doctored copy here).
 */
import * as os from 'node:os';
import test from 'ava';
import { BUF, DOWN_CAUSES, ERRORS, EVENTS, FD_OPS, MAX_RING_SIZE, MODES, PORT_STATS, RX_MODES, WORKER_STATS, abiMismatches, errnoName, type NativeAbi } from '../src/abi';
import { native } from '../src/native';
import { PacketBatch, WORDS_PER_BUFFER } from '../src/memif/batch';

const abi = (native as unknown as { abi: NativeAbi }).abi;

test('the declared layout and counter names agree with the C headers', (t) => {
  t.deepEqual(abiMismatches(abi), []);
  t.is(WORDS_PER_BUFFER, 6);
  t.is(PORT_STATS.length, 11);
  t.is(WORKER_STATS.length, 7);
});

test('a C header that changed is caught: layout, counter order, counter names', (t) => {
  const moved = { ...abi, buf: { ...abi.buf, LEN: 3 } };
  t.deepEqual(abiMismatches(moved), ['descriptor layout LEN: TypeScript 2, C 3']);
  const swapped = { ...abi, portStats: [abi.portStats[1], abi.portStats[0], ...abi.portStats.slice(2)] };
  t.regex(abiMismatches(swapped).join(), /^port counters: TypeScript \[rxPackets, rxBytes/);
  const added = { ...abi, workerStats: [...abi.workerStats, 'new_one'] };
  t.regex(abiMismatches(added).join(), /worker counters: .*newOne\]$/);
});

test('values from C: errno numbers are the kernel\'s, names round-trip, enums are distinct', (t) => {
  for (const name of ['ENOTCONN', 'EPROTO', 'ENOBUFS', 'EINVAL', 'ERANGE', 'ENOTSUP', 'EADDRINUSE', 'ESTALE']) {
    t.is(ERRORS[name], -(os.constants.errno as Record<string, number>)[name], name);
    t.is(errnoName(ERRORS[name]), name);
  }
  t.is(errnoName(-4095), 'E4095');
  for (const e of [EVENTS, FD_OPS, RX_MODES, DOWN_CAUSES, MODES]) {
    const values = Object.values(e);
    t.is(new Set(values).size, values.length);
  }
  t.is(MAX_RING_SIZE, 16384);
});

test('a PacketBatch reads the descriptors where the C library writes them', (t) => {
  // A batch sized for one descriptor, filled by hand as nmif_buf_t would be.
  const b = new PacketBatch(1);
  const w = b.words;
  w[BUF.LEN] = 1234;
  w[BUF.OFFSET] = 4096;
  w[BUF.REGION_FLAGS] = 2 | (BUF.NEXT << 16);
  w[BUF.SLOT_QUEUE] = 77 | (3 << 16);
  t.deepEqual([b.len(0), b.offset(0), b.region(0), b.hasNext(0), b.slot(0), b.queue(0)], [1234, 4096, 2, true, 77, 3]);
});
