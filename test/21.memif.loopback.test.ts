/**
 * Loopback in one process: a master and a slave on the same socket path (and on an abstract
 * socket), several queues, packets of 60 to 9000 bytes chained over 2048-byte buffers, both
 * directions at once, every packet checked byte for byte (sequence, length, content, chain
 * layout), in each rx mode.
 */
import test, { type ExecutionContext } from 'ava';
import { NotConnectedError } from '../src/errors';
import { PacketBatch } from '../src/memif/batch';
import type { RxMode } from '../src/memif/options';
import { MemifSocket } from '../src/memif/socket';
import { abstractName, connected, connectedPair, nextEvent, socketPath as socketPathFor, waitUntil, type Pair } from './helpers/memif';
import { makePacket, Receiver, sendAll, type SendOptions } from './helpers/packets';

const BUFFER_SIZE = 2048;
const QUEUES = 2;
/** Packets per queue and direction: 2 queues x 2 directions x 10000 = 40000 packets per test. */
const PER_QUEUE = 10000;

interface RunOptions {
  perQueue?: number;
  queues?: number;
  /** How each side transmits. */
  masterTx?: 'copy' | 'alloc';
  slaveTx?: 'copy' | 'alloc';
  send?: SendOptions;
  /** Called once traffic is flowing (e.g. to switch rx modes). */
  during?: (pair: Pair) => void;
}

/** Sends `perQueue` packets on every queue in both directions at once and checks them all. */
async function bothWays(t: ExecutionContext, pair: Pair, o: RunOptions = {}): Promise<void> {
  const perQueue = o.perQueue ?? PER_QUEUE;
  const queues = o.queues ?? QUEUES;
  const atSlave = new Receiver(pair.slave, 'm2s', queues, { bufferSize: BUFFER_SIZE, sizes: o.send?.sizes });
  const atMaster = new Receiver(pair.master, 's2m', queues, { bufferSize: BUFFER_SIZE, sizes: o.send?.sizes });
  const senders: Promise<void>[] = [];
  for (let q = 0; q < queues; q++) {
    senders.push(sendAll(pair.master, q, perQueue, 'm2s', o.masterTx ?? 'copy', o.send));
    senders.push(sendAll(pair.slave, q, perQueue, 's2m', o.slaveTx ?? 'alloc', o.send));
  }
  o.during?.(pair);
  const want = perQueue * queues;
  const progress = () =>
    `all packets: slave got ${JSON.stringify(atSlave.counts)}, master got ${JSON.stringify(atMaster.counts)} ` +
    `of ${perQueue} per queue; errors: ${[...atSlave.errors, ...atMaster.errors].slice(0, 3).join('; ')}`;
  await Promise.all(senders);
  await waitUntil(() => atSlave.total >= want && atMaster.total >= want, 30000, progress);
  await new Promise((r) => setTimeout(r, 20)); // anything extra would show up as an error
  atSlave.poll(0);
  atMaster.poll(0);
  atSlave.stop();
  atMaster.stop();
  t.deepEqual(atSlave.errors, [], `${atSlave.errorCount} bad packets master -> slave`);
  t.deepEqual(atMaster.errors, [], `${atMaster.errorCount} bad packets slave -> master`);
  t.deepEqual(atSlave.counts, new Array(queues).fill(perQueue));
  t.deepEqual(atMaster.counts, new Array(queues).fill(perQueue));

  // Counters agree with what was sent and received (packets, not buffers).
  const ms = pair.master.stats();
  const ss = pair.slave.stats();
  for (let q = 0; q < queues; q++) {
    t.is(ms.tx[q].packets, perQueue, `master tx packets q${q}`);
    t.is(ss.rx[q].packets, perQueue, `slave rx packets q${q}`);
    t.is(ss.tx[q].packets, perQueue, `slave tx packets q${q}`);
    t.is(ms.rx[q].packets, perQueue, `master rx packets q${q}`);
    t.is(ms.rx[q].dropBadDesc + ss.rx[q].dropBadDesc, 0);
  }
  t.is(ms.rx.reduce((a, s) => a + s.bytes, 0), atMaster.bytes, 'master rx bytes');
  t.is(ss.rx.reduce((a, s) => a + s.bytes, 0), atSlave.bytes, 'slave rx bytes');
}

function modes(mode: RxMode) {
  return { shared: { rxQueues: QUEUES, txQueues: QUEUES, rxMode: mode }, slave: { bufferSize: BUFFER_SIZE } };
}

for (const mode of ['interrupt', 'polling', 'adaptive'] as const) {
  test(`${mode} mode: 2 queues, both directions at once, 60-9000 bytes chained over 2048-byte buffers, byte-exact`, async (t) => {
    const pair = await connectedPair(t, modes(mode));
    t.is(pair.master.rxMode(0), mode);
    t.is(pair.slave.rxMode(1), mode);
    await bothWays(t, pair);
  });
}

test('interrupt mode, the other transmit paths: master writes in place (alloc/tx), slave copies (send)', async (t) => {
  const pair = await connectedPair(t, modes('interrupt'));
  await bothWays(t, pair, { masterTx: 'alloc', slaveTx: 'copy', perQueue: 3000 });
});

test('abstract socket: both directions, 2 queues, byte-exact', async (t) => {
  const pair = await connectedPair(t, { ...modes('interrupt'), path: abstractName('loop') });
  t.true(pair.master.details().socketPath.startsWith('@') || pair.masterSocket.path.startsWith('@'));
  await bothWays(t, pair, { perQueue: 3000 });
});

test('4 queues, rx modes mixed per queue and switched while traffic flows', async (t) => {
  const pair = await connectedPair(t, {
    shared: { rxQueues: 4, txQueues: 4, rxMode: 'interrupt' },
    slave: { bufferSize: BUFFER_SIZE },
  });
  pair.master.setRxMode(1, 'polling');
  pair.master.setRxMode(2, 'adaptive');
  pair.slave.setRxMode(3, 'polling');
  await bothWays(t, pair, {
    queues: 4,
    perQueue: 2000,
    during: ({ master, slave }) => {
      const order: RxMode[] = ['polling', 'adaptive', 'interrupt'];
      let k = 0;
      const timer = setInterval(() => {
        k++;
        for (let q = 0; q < 4; q++) {
          master.setRxMode(q, order[(k + q) % 3]);
          slave.setRxMode(q, order[(k + q + 1) % 3]);
        }
      }, 5);
      t.teardown(() => clearInterval(timer));
    },
  });
});

test('small packets only (60 bytes, one buffer each), larger bursts: 2 x 2 x 10000', async (t) => {
  const pair = await connectedPair(t, modes('interrupt'));
  await bothWays(t, pair, { perQueue: 10000, send: { sizes: [60], burst: 128 } });
});

test('a ring of 16 slots: 9000-byte packets (5 buffers each) still pass without loss', async (t) => {
  const pair = await connectedPair(t, { ...modes('interrupt'), shared: { ...modes('interrupt').shared, log2RingSize: 4 } });
  await bothWays(t, pair, { perQueue: 500, send: { sizes: [9000, 60, 4097] } });
});

test('rx into a batch smaller than a chain: the batch grows (to the ring size) and the packet comes whole', async (t) => {
  const { master, slave } = await connectedPair(t, modes('polling'));
  const pkts = [makePacket(0, 0, 's2m', [60]), makePacket(1, 0, 's2m', [9000]), makePacket(2, 0, 's2m', [60])];
  t.is(slave.send(0, pkts), 3);
  const small = new PacketBatch(2);
  await waitUntil(() => master.details().rings.some((r) => r.direction === 'rx' && r.queue === 0 && r.tail !== r.head), 10000, 'the packets to reach the master rx ring');
  t.is(master.rx(0, small), 1, 'the packet before the chain first, in the batch as it is');
  t.is(small.capacity, 2);
  master.refill(0, small);
  t.is(master.rx(0, small), 6, 'then the 5-buffer chain and the packet after it');
  t.is(small.capacity, 1024, 'grown once, to the ring size');
  t.is(small.packetCount(), 2);
  t.deepEqual(small.packet(0), pkts[1]);
  t.deepEqual(small.packet(5), pkts[2]);
  master.refill(0, small);
});

test('bursts on a link that is down throw NotConnectedError with the reason', async (t) => {
  const pair = await connectedPair(t, modes('interrupt'));
  const down = nextEvent<[string]>(pair.master, 'disconnect', 30000);
  pair.slave.disconnect('test says bye');
  const up = Promise.all([
    nextEvent(pair.master, 'connect', 30000, 'the master to see the slave reconnect after disconnect()'),
    nextEvent(pair.slave, 'connect', 30000, 'the slave to reconnect after disconnect()'),
  ]);
  const [reason] = await down;
  t.is(reason, 'test says bye');
  const batch = new PacketBatch(4);
  const err = t.throws(() => pair.master.rx(0, batch), { instanceOf: NotConnectedError });
  t.is(err?.code, 'ERR_NMEMIF_NOT_CONNECTED');
  t.throws(() => pair.master.send(0, new Uint8Array(60)), { instanceOf: NotConnectedError });
  t.throws(() => pair.master.alloc(0, batch), { instanceOf: NotConnectedError });
  // The slave reconnects by itself, and traffic passes again.
  await up;
  await bothWays(t, pair, { perQueue: 200 });
});

test('one socket object hosting both roles of an interface talks to itself: both directions, byte-exact', async (t) => {
  const dir = socketPathFor(t);
  const sock = new MemifSocket(dir);
  t.teardown(() => sock.close());
  const master = sock.createInterface({ role: 'master', id: 1, rxQueues: QUEUES, txQueues: QUEUES });
  const slave = sock.createInterface({ role: 'slave', id: 1, rxQueues: QUEUES, txQueues: QUEUES, bufferSize: BUFFER_SIZE });
  await Promise.all([connected(master), connected(slave)]);
  await bothWays(t, { master, slave, masterSocket: sock, slaveSocket: sock, path: dir }, { perQueue: 3000 });
});

test('8 interfaces on one socket pair, each with its own traffic: nothing crosses between interfaces', async (t) => {
  const p = socketPathFor(t);
  const a = new MemifSocket(p);
  t.teardown(() => a.close());
  const b = new MemifSocket(p);
  t.teardown(() => b.close());
  const ids = [0, 1, 2, 3, 4, 5, 6, 0xfffffff0];
  const pairs = ids.map((id) => ({
    id,
    master: a.createInterface({ role: 'master', id, rxQueues: QUEUES, txQueues: QUEUES }),
    slave: b.createInterface({ role: 'slave', id, rxQueues: QUEUES, txQueues: QUEUES, bufferSize: BUFFER_SIZE }),
  }));
  await Promise.all(pairs.flatMap((p) => [connected(p.master), connected(p.slave)]));
  // A different number of packets per interface: a packet delivered to the wrong one would
  // break its sequence and its count.
  const counts = ids.map((_, k) => 300 + 97 * k);
  const receivers = pairs.map((p) => ({
    atSlave: new Receiver(p.slave, 'm2s', QUEUES, { bufferSize: BUFFER_SIZE }),
    atMaster: new Receiver(p.master, 's2m', QUEUES, { bufferSize: BUFFER_SIZE }),
  }));
  await Promise.all(
    pairs.flatMap((p, k) =>
      [0, 1].flatMap((q) => [sendAll(p.master, q, counts[k], 'm2s', 'copy'), sendAll(p.slave, q, counts[k], 's2m', 'alloc')]),
    ),
  );
  await waitUntil(
    () => receivers.every((r, k) => r.atSlave.total >= 2 * counts[k] && r.atMaster.total >= 2 * counts[k]),
    30000,
    () => `every interface to get its packets: ${JSON.stringify(receivers.map((r) => [r.atSlave.counts, r.atMaster.counts]))}`,
  );
  await new Promise((r) => setTimeout(r, 20));
  receivers.forEach((r, k) => {
    t.deepEqual(r.atSlave.errors, [], `interface ${ids[k]} m2s`);
    t.deepEqual(r.atMaster.errors, [], `interface ${ids[k]} s2m`);
    t.deepEqual(r.atSlave.counts, [counts[k], counts[k]], `interface ${ids[k]} m2s counts`);
    t.deepEqual(r.atMaster.counts, [counts[k], counts[k]], `interface ${ids[k]} s2m counts`);
  });
  pairs.forEach((p) => t.is(p.master.details().id, p.id));
});

test('polling and adaptive modes survive a reconnect; adaptive goes quiet when idle', async (t) => {
  const pair = await connectedPair(t, modes('adaptive'));
  pair.master.setRxMode(1, 'polling');
  pair.slave.setRxMode(1, 'polling');
  await bothWays(t, pair, { perQueue: 1000 });
  const up = Promise.all([nextEvent(pair.master, 'connect', 30000, 'master reconnect'), nextEvent(pair.slave, 'connect', 30000, 'slave reconnect')]);
  pair.master.disconnect('test reconnect');
  await up;
  t.is(pair.master.rxMode(0), 'adaptive');
  t.is(pair.master.rxMode(1), 'polling');
  const rxFlags = (i: typeof pair.master) => i.details().rings.filter((r) => r.direction === 'rx').map((r) => r.flags & 1);
  t.deepEqual(rxFlags(pair.master), [0, 1], 'after reconnect: queue 1 masked (polling), queue 0 in interrupt mode while idle');
  t.deepEqual(rxFlags(pair.slave), [0, 1]);
  // Idle: polling queue 1 raises an rx event every loop turn; over those same turns the idle
  // adaptive queue 0 raises none.
  const seen = [0, 0];
  const count = (q: number) => seen[q]++;
  pair.master.on('rx', count);
  // As long as it takes the polling queue to poll 20 times (no timing assumed: a loaded machine
  // turns its event loop slowly), the adaptive queue stays quiet.
  await waitUntil(() => seen[1] >= 20, 30000, () => `the polling queue to poll 20 times (${seen[1]} so far)`);
  pair.master.off('rx', count);
  t.is(seen[0], 0, 'an idle adaptive queue does not poll');
  // Traffic flows again in both modes (the peer restarts its sequence numbers: a new connection).
  const atSlave = new Receiver(pair.slave, 'm2s', QUEUES, { bufferSize: BUFFER_SIZE });
  const atMaster = new Receiver(pair.master, 's2m', QUEUES, { bufferSize: BUFFER_SIZE });
  await Promise.all([0, 1].flatMap((q) => [sendAll(pair.master, q, 500, 'm2s', 'copy'), sendAll(pair.slave, q, 500, 's2m', 'alloc')]));
  await waitUntil(() => atSlave.total >= 1000 && atMaster.total >= 1000, 30000, () => `traffic after the reconnect: ${JSON.stringify([atSlave.counts, atMaster.counts])}`);
  t.deepEqual([atSlave.errors, atMaster.errors], [[], []]);
  t.deepEqual([atSlave.counts, atMaster.counts], [[500, 500], [500, 500]]);
});

test('a secret must match: a wrong one is refused with a reason (and retried quietly), the right one connects', async (t) => {
  const p = socketPathFor(t);
  const a = new MemifSocket(p);
  t.teardown(() => a.close());
  const b = new MemifSocket({ path: p, reconnectMinMs: 20, reconnectMaxMs: 50 });
  t.teardown(() => b.close());
  const master = a.createInterface({ role: 'master', id: 1, secret: 'open sesame' });
  const wrong = b.createInterface({ role: 'slave', id: 1, secret: 'open says me' });
  let connects = 0;
  wrong.on('connect', () => connects++);
  await waitUntil(() => /secret/i.test(wrong.lastDisconnectReason), 30000, () => `the wrong secret to be refused (last reason "${wrong.lastDisconnectReason}")`);
  await new Promise((r) => setTimeout(r, 200)); // several retries at 20-50 ms
  t.regex(wrong.lastDisconnectReason, /secret/i);
  t.is(connects, 0);
  t.false(master.connected);
  t.false(wrong.connected);
  wrong.close();
  const right = b.createInterface({ role: 'slave', id: 1, secret: 'open sesame' });
  await Promise.all([connected(master), connected(right)]);
  t.is(right.send(0, makePacket(0, 0, 's2m', [60])), 1);
});
