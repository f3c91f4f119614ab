/**
 * The library owns violations, and any legal frame passes, in both roles:
 *  - a burst call that finds the peer breaking the protocol throws NotConnectedError with the
 *    reason; the link is already down ('disconnect' emitted with that reason, `connected`
 *    false, the peer got a DISCONNECT saying it) and every later call throws the same; 'error'
 *    only with errorOnViolation; the next connection works. Also in a worker thread.
 *  - a chain that never ends is such a violation even for a small batch (no stuck queue);
 *  - a legal 300-buffer chain reaches a 64-entry batch whole, and 65,535-byte frames pass.
 */
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { NotConnectedError, ProtocolError } from '../src/errors';
import { PacketBatch } from '../src/memif/batch';
import type { MemifInterface } from '../src/memif/interface';
import { connectedPair, nextEvent, waitUntil, within, type Pair } from './helpers/memif';
import { publishEndlessChain, txRing } from './helpers/rings';

const ROLES = ['master', 'slave'] as const;
/** Bounds for waits: generous, so a loaded machine passes too. */
const LONG = 30000;

function sides(pair: Pair, victim: 'master' | 'slave'): { victim: MemifInterface; peer: MemifInterface } {
  return victim === 'master' ? { victim: pair.master, peer: pair.slave } : { victim: pair.slave, peer: pair.master };
}

/** Both sides up again (the slave reconnects by itself). */
async function reconnected(pair: Pair): Promise<void> {
  await waitUntil(() => pair.master.connected && pair.slave.connected, LONG, 'the next connection');
}

/** `count` frames of `size` bytes from `from` arrive whole at `to` (queue 0), byte for byte. */
async function framesPass(t: ExecutionContext, from: MemifInterface, to: MemifInterface, size: number, count: number): Promise<void> {
  const frames = Array.from({ length: count }, (_, k) => {
    const f = new Uint8Array(size);
    for (let i = 0; i < size; i++) f[i] = (i * 7 + k * 13) & 0xff;
    return f;
  });
  let sent = 0;
  const got: Uint8Array[] = [];
  const batch = new PacketBatch(64);
  await waitUntil(
    () => {
      if (sent < count) sent += from.send(0, frames.slice(sent));
      let n;
      while ((n = to.rx(0, batch)) > 0) {
        for (let i = 0; i < n; i = batch.packetEnd(i)) got.push(batch.packet(i));
        to.refill(0, batch);
      }
      return got.length >= count;
    },
    LONG,
    () => `${count} frames of ${size} bytes (${sent} sent, ${got.length} received)`,
  );
  t.is(got.length, count);
  t.true(got.every((f, k) => f.length === size && Buffer.compare(f, frames[k]) === 0), `${count} frames of ${size} bytes, byte for byte`);
}

/** Every burst call throws the same NotConnectedError. */
function laterCallsAgree(t: ExecutionContext, victim: MemifInterface, reason: string): void {
  const batch = new PacketBatch(8);
  const calls: Array<[string, () => unknown]> = [
    ['rx', () => victim.rx(0, batch)],
    ['refill', () => victim.refill(0, 1)],
    ['alloc', () => victim.alloc(0, batch)],
    ['send', () => victim.send(0, new Uint8Array(60))],
    ['rx again', () => victim.rx(0, batch)],
  ];
  for (const [name, call] of calls) {
    const err = t.throws(call, { instanceOf: NotConnectedError }, name);
    t.is(err?.reason, reason, `${name}: the same reason`);
  }
}

for (const role of ROLES) {
  test(`${role} receiving: a ring the peer corrupted -> NotConnectedError with the reason, link down at once, later calls agree, next connection works`, async (t) => {
    const pair = await connectedPair(t);
    const { victim, peer } = sides(pair, role);
    const seen: string[] = [];
    victim.on('disconnect', (r) => seen.push(`disconnect: ${r}`));
    victim.on('error', () => seen.push('error'));
    const peerDown = nextEvent<[string]>(peer, 'disconnect', LONG, 'the DISCONNECT at the peer');
    const ring = txRing(peer);
    if (role === 'master') ring.setHead(ring.head() + 5000);
    else ring.setTail(ring.tail() + 5000);

    const err = t.throws(() => victim.rx(0, new PacketBatch(64)), { instanceOf: NotConnectedError });
    t.is(err?.code, 'ERR_NMEMIF_NOT_CONNECTED');
    const want = role === 'master' ? 'head out of range on rx queue 0' : 'tail out of range on rx queue 0';
    t.is(err?.reason, want);
    t.regex(err?.message ?? '', new RegExp(want));
    t.deepEqual(seen, [`disconnect: ${want}`], "'disconnect' with the reason before the call threw; no 'error' by default");
    t.false(victim.connected);
    t.false(victim.queue(0).connected);
    t.is(victim.lastDisconnectReason, want);
    t.is(victim.details().lastDownCause, 3, 'cause: violation');
    laterCallsAgree(t, victim, want);
    t.is((await peerDown)[0], want, 'the peer was told why');
    await reconnected(pair);
    await framesPass(t, peer, victim, 1000, 100);
  });
}

test('errorOnViolation: the violation is also an "error" event (ProtocolError with the reason), after "disconnect"', async (t) => {
  const pair = await connectedPair(t, { master: { errorOnViolation: true } });
  const seen: string[] = [];
  let error: ProtocolError | undefined;
  pair.master.on('disconnect', (r) => seen.push(`disconnect: ${r}`));
  pair.master.on('error', (e) => {
    seen.push('error');
    error = e as ProtocolError;
  });
  publishEndlessChain(pair.slave);
  const err = t.throws(() => pair.master.rx(0, new PacketBatch(64)), { instanceOf: NotConnectedError });
  t.is(err?.reason, 'incomplete chain on rx queue 0');
  t.deepEqual(seen, ['disconnect: incomplete chain on rx queue 0', 'error']);
  t.true(error instanceof ProtocolError);
  t.is(error?.code, 'ERR_NMEMIF_PROTOCOL');
  t.is(error?.reason, 'incomplete chain on rx queue 0');
  await reconnected(pair);
});

for (const role of ROLES) {
  test(`${role} receiving: a chain that never ends is refused at once (DISCONNECT "incomplete chain"), not left in the ring; next connection works`, async (t) => {
    const pair = await connectedPair(t);
    const { victim, peer } = sides(pair, role);
    const peerDown = nextEvent<[string]>(peer, 'disconnect', LONG, 'the DISCONNECT at the peer');
    publishEndlessChain(peer);
    const err = t.throws(() => victim.rx(0, new PacketBatch(64)), { instanceOf: NotConnectedError });
    t.is(err?.reason, 'incomplete chain on rx queue 0');
    t.is((await peerDown)[0], 'incomplete chain on rx queue 0');
    await reconnected(pair);
    await framesPass(t, peer, victim, 60, 200);
  });

  test(`${role} receiving: a legal 300-buffer chain reaches a 64-entry batch whole`, async (t) => {
    const pair = await connectedPair(t, { slave: { bufferSize: 128 } });
    const { victim, peer } = sides(pair, role);
    const out = new PacketBatch(512);
    t.is(peer.alloc(0, out, 300), 300);
    for (let k = 0; k < 300; k++) {
      const v = out.view(k);
      t.is(v.length, 128);
      for (let j = 0; j < 128; j++) v[j] = (k + j * 3) & 0xff;
      out.setLen(k, 128);
      out.setNext(k, k < 299);
    }
    t.is(peer.tx(0, out, 300), 300);
    const batch = new PacketBatch(64);
    let n = 0;
    await waitUntil(() => (n = victim.rx(0, batch)) > 0, LONG, 'the chain');
    t.is(n, 300);
    t.is(batch.packetCount(), 1);
    t.is(batch.packetLength(0), 300 * 128);
    const whole = batch.packet(0);
    t.true(whole.every((b, i) => b === ((Math.floor(i / 128) + (i % 128) * 3) & 0xff)), 'byte for byte');
    victim.refill(0, batch);
    t.true(victim.connected && peer.connected);
  });

  test(`${role} receiving: 65,535-byte frames pass whole (send() chains them, rx() and packet() size from the frame)`, async (t) => {
    const pair = await connectedPair(t);
    const { victim, peer } = sides(pair, role);
    await framesPass(t, peer, victim, 65535, 20);
    await framesPass(t, peer, victim, 9216, 50);
  });
}

test('in a worker thread: the violation it finds -> NotConnectedError with the reason there, "disconnect" everywhere, later calls agree, the worker is served again after the reconnect', async (t) => {
  const pair = await connectedPair(t);
  const file = path.join(__dirname, 'fixtures', 'queue-violation-worker.ts');
  const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, {
    eval: true,
    workerData: { handle: pair.master.transferQueue(0) },
  });
  t.teardown(() => worker.terminate());
  const messages: Array<Record<string, unknown>> = [];
  worker.on('message', (m) => messages.push(m));
  const event = (name: string, k = 1) => waitUntil(() => messages.filter((m) => m.event === name).length >= k, LONG, `worker event ${name}`);
  await event('connect');

  const mainDown = nextEvent<[string]>(pair.master, 'disconnect', LONG, 'the owner thread to see the link down');
  const peerDown = nextEvent<[string]>(pair.slave, 'disconnect', LONG, 'the DISCONNECT at the peer');
  const ring = txRing(pair.slave);
  ring.setHead(ring.head() + 5000);
  worker.postMessage({ cmd: 'report' }); // the worker bursts (a send would rewrite the head)
  await event('error');
  const want = 'head out of range on rx queue 0';
  const error = messages.find((m) => m.event === 'error')!;
  // Every burst call from then on (the worker may drain more than once) throws the same.
  for (const m of messages.filter((m) => m.event === 'error' || m.event === 'later')) {
    t.like(m, { name: 'NotConnectedError', code: 'ERR_NMEMIF_NOT_CONNECTED', reason: want, connected: false });
  }
  t.true(messages.filter((m) => m.event === 'later').length >= 3);
  const down = messages.filter((m) => m.event === 'disconnect');
  t.is(down.length, 1, 'one "disconnect" in the worker');
  t.is(down[0].reason, want);
  t.true(messages.indexOf(down[0]) < messages.indexOf(error), 'emitted before the call threw');
  t.is((await mainDown)[0], want);
  t.is((await peerDown)[0], want);

  await reconnected(pair);
  await event('connect', 2);
  const before = messages.filter((m) => m.event === 'report').length;
  let sent = 0;
  await waitUntil(
    () => {
      if (sent < 100) sent += pair.slave.send(0, Array.from({ length: 100 - sent }, () => new Uint8Array(100)));
      worker.postMessage({ cmd: 'report' });
      const r = messages.filter((m) => m.event === 'report');
      return r.length > before && (r[r.length - 1].got as number) >= 100;
    },
    LONG,
    'the worker to receive 100 frames on the next connection',
  );
  t.is(messages.filter((m) => m.event === 'disconnect').length, 1);
  await within(worker.terminate(), LONG, 'the worker to end');
});
