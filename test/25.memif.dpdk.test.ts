/**
 * Interop with a real foreign peer: DPDK `dpdk-testpmd` with a `net_memif` port, in both roles,
 * with exact counts (the TypeScript counterpart of native/libmemif/test/interop_dpdk_*.sh):
 *  - our slave sends N frames to testpmd (server, rxonly): its RX-packets is exactly N;
 *  - our master receives testpmd's txonly traffic (client): we count exactly its TX-packets;
 *  - round trips through testpmd (io and macswap), us slave and us master: every one of N
 *    frames comes back, in order, byte for byte (MACs swapped for macswap).
 *
 * Every test drives testpmd the proven way (test/helpers/testpmd.ts): the server starts first,
 * forwarding starts only once our side is connected, counters are read with "stop" while the
 * link is still up, and only then does "quit" take the link down.
 *
 * Serial: testpmd busy-polls one of the two CPUs and we need the other. Skipped (with the
 * reason in the title) when dpdk-testpmd is not installed.
 */
import test, { type ExecutionContext } from 'ava';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemifSocket } from '../src/memif/socket';
import type { MemifInterface } from '../src/memif/interface';
import { PacketBatch } from '../src/memif/batch';
import type { RxMode } from '../src/memif/options';
import { abstractName, connected, nextEvent, tempDir, waitUntil } from './helpers/memif';
import { until } from './helpers/until';
import { bound } from './helpers/bounds';
import { Testpmd, testpmdSkipReason, waitListening, type ForwardMode, type ForwardStats } from './helpers/testpmd';

const N = 200_000;
const FRAME = 64;
const BUFFER_SIZE = 2048;
const LOG2_RING = 10;
/** Round trips keep at most half a ring in flight, so testpmd always has room to send back. */
const WINDOW = (1 << LOG2_RING) / 2;
const TXONLY_MS = 1000;
const TEST_MS = 40_000;

if (testpmdSkipReason !== null) console.log(`25.memif.dpdk: skipping every test: ${testpmdSkipReason}`);

/** test.serial, or test.skip with the reason in the title when testpmd cannot run here. */
function tpTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  if (testpmdSkipReason === null) test.serial(title, fn);
  else test.skip(`${title} [skipped: ${testpmdSkipReason}]`, fn);
}

// ---- frames: Ethernet / IPv4 / UDP, 64 bytes, carrying a sequence number ---------------------

const MAC_DST = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x02];
const MAC_SRC = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
const ETH = 14;
const IP = 20;
const UDP = 8;
const SEQ_AT = ETH + IP + UDP;

/** Writes frame `seq` into dst[0..64); with `swapped`, source and destination MAC exchanged. */
function writeFrame(dst: Uint8Array, seq: number, swapped = false): void {
  const d = swapped ? MAC_SRC : MAC_DST;
  const s = swapped ? MAC_DST : MAC_SRC;
  for (let i = 0; i < 6; i++) {
    dst[i] = d[i];
    dst[6 + i] = s[i];
  }
  dst[12] = 0x08; // IPv4
  dst[13] = 0x00;
  const ipLen = FRAME - ETH;
  const ip = [
    0x45, 0x00, ipLen >> 8, ipLen & 0xff,
    (seq >> 8) & 0xff, seq & 0xff, 0x40, 0x00, // id, DF
    64, 17, 0, 0, // ttl, UDP, checksum (below)
    10, 0, 0, 1,
    10, 0, 0, 2,
  ];
  let sum = 0;
  for (let i = 0; i < IP; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  sum = ~sum & 0xffff;
  ip[10] = sum >> 8;
  ip[11] = sum & 0xff;
  for (let i = 0; i < IP; i++) dst[ETH + i] = ip[i];
  const u = ETH + IP;
  const udpLen = FRAME - ETH - IP;
  dst[u] = 0xc0; // source port 49152
  dst[u + 1] = 0x00;
  dst[u + 2] = 0x00; // destination port 9 (discard)
  dst[u + 3] = 0x09;
  dst[u + 4] = udpLen >> 8;
  dst[u + 5] = udpLen & 0xff;
  dst[u + 6] = 0; // no UDP checksum
  dst[u + 7] = 0;
  dst[SEQ_AT] = seq >>> 24;
  dst[SEQ_AT + 1] = (seq >>> 16) & 0xff;
  dst[SEQ_AT + 2] = (seq >>> 8) & 0xff;
  dst[SEQ_AT + 3] = seq & 0xff;
  for (let i = SEQ_AT + 4; i < FRAME; i++) dst[i] = (Math.imul(seq, 2654435761) >>> (i & 15)) ^ (i * 29);
}

function frameSeq(v: Uint8Array): number {
  return ((v[SEQ_AT] << 24) | (v[SEQ_AT + 1] << 16) | (v[SEQ_AT + 2] << 8) | v[SEQ_AT + 3]) >>> 0;
}

// ---- our side ----------------------------------------------------------------------------------

function ourInterface(t: ExecutionContext, socket: string, role: 'master' | 'slave', rxMode: RxMode = 'interrupt'): MemifInterface {
  const sock = new MemifSocket({ path: socket, reconnectMinMs: 50, reconnectMaxMs: 500 });
  t.teardown(() => sock.close());
  return sock.createInterface({ role, id: 0, bufferSize: BUFFER_SIZE, log2RingSize: LOG2_RING, rxMode });
}

/** Starts both ends, the server first (a DPDK client connects only once), and waits for the link. */
async function link(
  t: ExecutionContext,
  o: { ours: 'master' | 'slave'; socket: string; mode: ForwardMode; rxMode?: RxMode; args?: string[] },
): Promise<{ iface: MemifInterface; tp: Testpmd }> {
  const tpOptions = { role: o.ours === 'master' ? 'client' : 'server', socket: o.socket, forwardMode: o.mode, args: o.args } as const;
  let iface: MemifInterface;
  let tp: Testpmd;
  if (o.ours === 'master') {
    iface = ourInterface(t, o.socket, 'master', o.rxMode);
    await waitListening(o.socket, 5000, 'our master');
    tp = await Testpmd.start(t, tpOptions);
  } else {
    tp = await Testpmd.start(t, tpOptions);
    await waitListening(o.socket, 10_000, tp.name);
    iface = ourInterface(t, o.socket, 'slave', o.rxMode);
  }
  try {
    await connected(iface, 10_000, `our ${o.ours} to connect to ${tp.name}`);
  } catch (err) {
    throw new Error(`${(err as Error).message}; our last reason: "${iface.lastDisconnectReason}"; ${tp.describe()}`);
  }
  const d = iface.details();
  const bufs = o.ours === 'slave' ? `, buffers ${d.bufferSize} B` : ''; // a master reports 0: the slave's choice
  t.log(`linked: our ${o.ours} <-> ${tp.name}: peer "${d.peerAppName}"/"${d.peerName}", ring 2^${d.log2RingSize}${bufs}`);
  return { iface, tp };
}

/** Quits testpmd (closing its port), waits for our side to see the link drop, then closes our
 * socket at once (a slave would otherwise retry against the server that is going away). */
async function quitAndSeeDisconnect(t: ExecutionContext, iface: MemifInterface, tp: Testpmd): Promise<void> {
  const down = nextEvent<[string]>(iface, 'disconnect', 15_000, `our ${iface.role} to see the link drop when ${tp.name} quits`);
  down.catch(() => {}); // awaited below, unless quitting fails first
  const quitting = tp.quit();
  try {
    // a failed quit is the better message; otherwise the link drops before the process ends
    const [reason] = await Promise.race([down, quitting.then(() => down)]);
    t.log(`our ${iface.role}: link down: "${reason}"`);
  } finally {
    iface.socket.close();
  }
  const exit = await quitting;
  if (exit.crashedAfterBye) t.log(`${tp.name} crashed after "Bye..." (${exit.signal ?? exit.code}): known DPDK 22.11 exit problem, ignored`);
}

/** Head and tail of ring 0 in direction `dir` (empty when equal, as both are free-running). */
function ring(iface: MemifInterface, dir: 'rx' | 'tx'): { head: number; tail: number } {
  const r = iface.details().rings.find((x) => x.direction === dir && x.queue === 0);
  if (r === undefined) throw new Error(`no ${dir} ring 0 (not connected?)`);
  return { head: r.head, tail: r.tail };
}

/** Writes frames 0..n-1 in place into allocated tx buffers (alloc + tx), waiting when the ring is full. */
async function sendFrames(iface: MemifInterface, n: number, ms: number): Promise<void> {
  const batch = new PacketBatch(256);
  const end = performance.now() + ms;
  let seq = 0;
  while (seq < n) {
    const k = iface.alloc(0, batch, Math.min(batch.capacity, n - seq));
    for (let i = 0; i < k; i++) {
      writeFrame(batch.view(i), seq + i);
      batch.setLen(i, FRAME);
      batch.setNext(i, false);
    }
    if (k > 0) {
      const sent = iface.tx(0, batch, k);
      if (sent !== k) throw new Error(`tx published ${sent} of ${k} buffers`);
      seq += k;
    }
    if (seq < n && k < batch.capacity) {
      if (performance.now() > end) throw new Error(`only ${seq} of ${n} frames sent within ${ms} ms (the peer stopped taking them?)`);
      await new Promise((r) => setImmediate(r));
    }
  }
}

interface RoundTripResult {
  sent: number;
  received: number;
  mismatched: number;
  errors: string[];
  ms: number;
}

/**
 * Sends frames 0..n-1 (copied with send()), at most WINDOW in flight, and checks every frame
 * that comes back: in order, 64 bytes, every byte as sent (MACs swapped if `swapped`).
 * Receives on 'rx' events (interrupt or polling mode) and tops the window up after each drain.
 */
function roundTrip(iface: MemifInterface, n: number, swapped: boolean, ms: number): Promise<RoundTripResult> {
  const start = performance.now();
  const batch = new PacketBatch(256);
  const expect = new Uint8Array(FRAME);
  const pool = Array.from({ length: 64 }, () => new Uint8Array(FRAME));
  const res: RoundTripResult = { sent: 0, received: 0, mismatched: 0, errors: [], ms: 0 };
  const error = (msg: string): void => {
    res.mismatched++;
    if (res.errors.length < 10) res.errors.push(msg);
  };
  return new Promise<RoundTripResult>((resolve, reject) => {
    let settled = false;
    let retry: NodeJS.Timeout | null = null;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (retry !== null) clearTimeout(retry);
      iface.off('rx', onRx);
      iface.off('disconnect', onDown);
      res.ms = performance.now() - start;
      if (err) reject(err);
      else resolve(res);
    };
    const pump = (): void => {
      while (res.sent < n && res.sent - res.received < WINDOW) {
        const k = Math.min(pool.length, n - res.sent, WINDOW - (res.sent - res.received));
        const pkts: Uint8Array[] = [];
        for (let i = 0; i < k; i++) {
          writeFrame(pool[i], res.sent + i);
          pkts.push(pool[i]);
        }
        const taken = iface.send(0, pkts);
        res.sent += taken;
        if (taken < k) break; // ring full: more after the next drain
      }
      // Nothing in flight means no 'rx' event will come to call us again: a master's tx ring
      // is empty until the slave posts receive buffers (DPDK does so on its first rx burst,
      // i.e. only once it forwards), and a master in interrupt mode is not told when it does.
      if (res.sent < n && res.sent === res.received && retry === null) {
        retry = setTimeout(() => {
          retry = null;
          onRx(0);
        }, 1);
      }
    };
    const onRx = (q: number): void => {
      try {
        for (;;) {
          const got = iface.rx(q, batch);
          if (got === 0) break;
          for (let i = 0; i < got; i++) {
            const seq = res.received++;
            if (batch.hasNext(i)) {
              error(`frame #${seq}: chained (buffer of ${batch.len(i)} bytes with "next")`);
              continue;
            }
            const v = batch.view(i);
            if (v.length !== FRAME) {
              error(`frame #${seq}: ${v.length} bytes, expected ${FRAME}`);
              continue;
            }
            const carried = frameSeq(v);
            if (carried !== seq) {
              error(`frame #${seq}: carries sequence number ${carried} (lost, duplicated or reordered)`);
              continue;
            }
            writeFrame(expect, seq, swapped);
            for (let b = 0; b < FRAME; b++) {
              if (v[b] !== expect[b]) {
                error(`frame #${seq}: byte ${b} is 0x${v[b].toString(16)}, expected 0x${expect[b].toString(16)}`);
                break;
              }
            }
          }
          iface.refill(q, batch);
        }
        if (res.received >= n) done();
        else pump();
      } catch (err) {
        done(err as Error);
      }
    };
    const onDown = (reason: string): void => done(new Error(`link dropped during the round trip: "${reason}" (sent ${res.sent}, received ${res.received})`));
    const timer = setTimeout(
      () => done(new Error(`round trip timed out after ${ms} ms: sent ${res.sent}, received ${res.received} of ${n} (frames lost?); first problems: ${res.errors.join('; ') || 'none'}`)),
      ms,
    );
    iface.on('rx', onRx);
    iface.on('disconnect', onDown);
    pump();
  });
}

// ---- 1. our slave sends, testpmd (server) counts -------------------------------------------------

tpTest(`our slave sends ${N} 64-byte frames to testpmd (server, rxonly, filesystem socket): testpmd RX-packets == ${N}`, async (t) => {
  t.timeout(TEST_MS, 'testpmd rxonly count');
  const socket = path.join(tempDir(t, 'nmemif-dpdk-'), 'memif.sock');
  const { iface, tp } = await link(t, { ours: 'slave', socket, mode: 'rxonly' });
  tp.forward();
  const start = performance.now();
  await sendFrames(iface, N, bound(20_000));
  // Everything we published must be taken before the counters are read.
  await waitUntil(() => { const r = ring(iface, 'tx'); return r.head === r.tail; }, 10_000,
    () => `testpmd to take every frame from our tx ring: ${JSON.stringify(ring(iface, 'tx'))}; ${tp.describe()}`);
  const ms = performance.now() - start;
  const ours = iface.stats().tx[0];
  const stats = await tp.stop();
  t.log(`sent ${N} frames in ${ms.toFixed(0)} ms (${((N / ms) * 1000 / 1e6).toFixed(2)} Mpps); testpmd ${JSON.stringify(stats)}`);
  await quitAndSeeDisconnect(t, iface, tp);
  t.is(ours.packets, N, 'our tx packet counter');
  t.is(ours.bytes, N * FRAME, 'our tx byte counter');
  t.is(stats.rxPackets, N, 'testpmd RX-packets');
  t.is(stats.rxDropped, 0, 'testpmd RX-dropped');
});

// ---- 2. testpmd (client) sends, our master counts ------------------------------------------------

tpTest('our master receives testpmd\'s txonly traffic (client, --txpkts=64, abstract socket): our count == testpmd TX-packets > 0', async (t) => {
  t.timeout(TEST_MS, 'testpmd txonly count');
  const socket = abstractName('dpdk-tx');
  const { iface, tp } = await link(t, { ours: 'master', socket, mode: 'txonly', args: ['--txpkts=64'] });
  const batch = new PacketBatch(256);
  let received = 0;
  let bytes = 0;
  let wrongLength = 0;
  let notIpv4 = 0;
  let chained = 0;
  iface.on('rx', (q) => {
    for (;;) {
      const n = iface.rx(q, batch);
      if (n === 0) return;
      for (let i = 0; i < n; i++) {
        const len = batch.len(i);
        if (batch.hasNext(i)) chained++;
        else received++;
        bytes += len;
        if (len !== FRAME) wrongLength++;
        const r = batch.regionBytes(i);
        const off = batch.offset(i);
        if (r[off + 12] !== 0x08 || r[off + 13] !== 0x00) notIpv4++;
      }
      iface.refill(q, batch);
    }
  });
  tp.forward();
  await sleep(TXONLY_MS);
  const stats = await tp.stop(); // forwarding ends, the link stays up
  // Everything testpmd put on the ring is there to take: drain it before the link drops.
  const drained = await until(() => received >= stats.txPackets, 5000);
  const rxAfter = ring(iface, 'rx');
  const ours = iface.stats().rx[0];
  const atStop = received;
  await quitAndSeeDisconnect(t, iface, tp);
  t.log(`testpmd ${JSON.stringify(stats)}; we received ${received} (${((received / TXONLY_MS) * 1000 / 1e6).toFixed(2)} Mpps while it sent); rx ring after drain ${JSON.stringify(rxAfter)}`);
  t.true(drained, `we received ${atStop} of testpmd's ${stats.txPackets} TX-packets within 5 s after "stop"`);
  t.true(stats.txPackets > 0, 'testpmd sent something');
  t.true(received > 0, 'we received something');
  t.is(received, stats.txPackets, 'our received count == testpmd TX-packets');
  t.is(received, atStop, 'nothing arrived after the counters were read');
  t.is(rxAfter.head, rxAfter.tail, 'our rx ring was empty when the link dropped');
  t.is(ours.packets, received, 'our rx packet counter');
  t.is(bytes, received * FRAME, 'bytes received');
  t.is(chained, 0, 'chained buffers');
  t.is(wrongLength, 0, 'frames that are not 64 bytes');
  t.is(notIpv4, 0, 'frames that are not IPv4 (testpmd txonly sends Ethernet/IPv4/UDP)');
});

// ---- 3. round trips through testpmd --------------------------------------------------------------

for (const c of [
  { ours: 'slave', mode: 'macswap', where: 'abstract', rxMode: 'interrupt' },
  { ours: 'master', mode: 'io', where: 'filesystem', rxMode: 'polling' },
  { ours: 'slave', mode: 'io', where: 'filesystem', rxMode: 'polling' },
  { ours: 'master', mode: 'macswap', where: 'abstract', rxMode: 'interrupt' },
] as const) {
  const tpRole = c.ours === 'master' ? 'client' : 'server';
  tpTest(`round trip: our ${c.ours} <-> testpmd ${tpRole} in ${c.mode} mode (${c.where} socket, our rx ${c.rxMode}): ${N} frames back in order, byte for byte${c.mode === 'macswap' ? ' with MACs swapped' : ''}`, async (t) => {
    t.timeout(TEST_MS, `round trip ${c.ours} ${c.mode}`);
    const socket = c.where === 'abstract' ? abstractName(`dpdk-rt-${c.mode}`) : path.join(tempDir(t, 'nmemif-dpdk-'), 'memif.sock');
    const { iface, tp } = await link(t, { ours: c.ours, socket, mode: c.mode, rxMode: c.rxMode });
    tp.forward();
    let res: RoundTripResult;
    try {
      res = await roundTrip(iface, N, c.mode === 'macswap', bound(20_000));
    } finally {
      // counters while the link is up, whatever happened
      const s = await tp.stop().catch((err: Error) => { t.log(`stop failed: ${err.message}`); return null; });
      if (s) t.log(`testpmd ${JSON.stringify(s)}`);
    }
    const stats = tp.lastStats();
    const ours = iface.stats();
    await quitAndSeeDisconnect(t, iface, tp);
    t.log(`${N} round trips in ${res.ms.toFixed(0)} ms (${((N / res.ms) * 1000 / 1e3).toFixed(0)} k/s)`);
    t.deepEqual(res.errors, [], `${res.mismatched} frames came back wrong`);
    t.is(res.sent, N, 'frames sent');
    t.is(res.received, N, 'frames received');
    t.is(stats.rxPackets, N, 'testpmd RX-packets');
    t.is(stats.txPackets, N, 'testpmd TX-packets');
    t.is(stats.txDropped, 0, 'testpmd TX-dropped');
    t.is(ours.tx[0].packets, N, 'our tx packet counter');
    t.is(ours.rx[0].packets, N, 'our rx packet counter');
  });
}
