/**
 * The memif API's Node conventions: whenConnected({ signal, timeout }), AbortSignal on
 * packets(), a slave that cannot reach its socket says why ('connectionError' with the errno,
 * lastDisconnectReason), packets({ copy: true }) keeps frames the ring overwrites, a view of a
 * connection that went down throws StaleBufferError, ref()/unref() and handleSignals, and
 * Symbol.dispose / Symbol.asyncDispose.
 */
import test from 'ava';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AbortError, ClosedError, HandshakeError, InvalidArgumentError, StackError, StaleBufferError, TimeoutError } from '../src/errors';
import { PacketBatch } from '../src/memif/batch';
import type { MemifInterface } from '../src/memif/interface';
import { attachQueue, type MemifQueue } from '../src/memif/queue';
import { MemifSocket } from '../src/memif/socket';
import { lastJson, runFixture } from './helpers/fixture';
import { connected, connectedPair, nextEvent, socketPath, tempDir, waitUntil, within } from './helpers/memif';

/** A socket closed when the test ends. */
function open(t: Parameters<typeof socketPath>[0], options: ConstructorParameters<typeof MemifSocket>[0]): MemifSocket {
  const sock = new MemifSocket(options);
  t.teardown(() => sock.close());
  return sock;
}

// ---- whenConnected ----------------------------------------------------------------------------------

test('whenConnected() resolves when the link comes up, and at once when it is up', async (t) => {
  const p = socketPath(t);
  const slave = open(t, { path: p, reconnectMinMs: 10, reconnectMaxMs: 50 }).createInterface({ role: 'slave' });
  const up = slave.whenConnected({ timeout: 60_000 });
  const master = open(t, p).createInterface({ role: 'master' });
  await within(up, 30_000, 'whenConnected() of the slave');
  t.true(slave.connected);
  await within(master.whenConnected(), 30_000, 'whenConnected() of the master');
  await slave.queue(0).whenConnected();
  t.pass();
});

test('whenConnected({ timeout }): a slave with nobody listening rejects with TimeoutError, the reason and the connect error as cause', async (t) => {
  const p = socketPath(t);
  const slave = open(t, { path: p, reconnectMinMs: 10, reconnectMaxMs: 20 }).createInterface({ role: 'slave' });
  await nextEvent(slave, 'connectionError', 30_000);
  const err = await t.throwsAsync(slave.whenConnected({ timeout: 1 }), { instanceOf: TimeoutError });
  t.is(err?.code, 'ERR_NMEMIF_TIMEOUT');
  t.true(err!.message.includes('ENOENT'), err!.message);
  t.true(err!.cause instanceof StackError);
});

test('whenConnected({ signal }): an abort rejects with AbortError (ABORT_ERR, the reason as cause); an aborted signal at once', async (t) => {
  const slave = open(t, { path: socketPath(t), reconnectMinMs: 10, reconnectMaxMs: 20 }).createInterface({ role: 'slave' });
  const ac = new AbortController();
  const waiting = slave.whenConnected({ signal: ac.signal });
  ac.abort('stop');
  const err = await t.throwsAsync(waiting, { instanceOf: AbortError });
  t.is(err?.code, 'ABORT_ERR');
  t.is(err?.name, 'AbortError');
  t.is(err?.cause, 'stop');
  await t.throwsAsync(slave.whenConnected({ signal: AbortSignal.abort() }), { instanceOf: AbortError });
  await t.throwsAsync(slave.queue(0).whenConnected({ signal: AbortSignal.abort() }), { instanceOf: AbortError });
});

test('whenConnected(): closing the interface rejects with ClosedError; bad options are InvalidArgumentError', async (t) => {
  const slave = open(t, { path: socketPath(t) }).createInterface({ role: 'slave' });
  const waiting = slave.whenConnected();
  slave.close();
  await t.throwsAsync(waiting, { instanceOf: ClosedError });
  await t.throwsAsync(slave.whenConnected(), { instanceOf: ClosedError });
  const other = open(t, { path: socketPath(t) }).createInterface({ role: 'slave' });
  for (const bad of [{ timeout: -1 }, { timeout: Number.NaN }, { signal: {} }, 'soon']) {
    await t.throwsAsync(other.whenConnected(bad as never), { instanceOf: InvalidArgumentError }, JSON.stringify(bad));
  }
});

// ---- a slave that cannot connect ----------------------------------------------------------------------

test("a slave with no socket file to reach: 'connectionError' (StackError ENOENT, errno, syscall, address) and lastDisconnectReason", async (t) => {
  const p = socketPath(t);
  const slave = open(t, { path: p, reconnectMinMs: 10, reconnectMaxMs: 20 }).createInterface({ role: 'slave' });
  t.is(slave.lastDisconnectReason, '');
  const [err] = await nextEvent<[StackError]>(slave, 'connectionError', 30_000);
  t.true(err instanceof StackError);
  t.is(err.code, 'ENOENT');
  t.is(err.errno, -2);
  t.is(err.syscall, 'connect');
  t.is(err.address, p);
  t.is(slave.lastDisconnectReason, err.message);
  t.true(err.message.includes('ENOENT') && err.message.includes(p), err.message);
  // It keeps trying: the next attempt fails the same way.
  const [again] = await nextEvent<[StackError]>(slave, 'connectionError', 30_000, 'a second attempt');
  t.is(again.code, 'ENOENT');
  // And connects once a master listens.
  open(t, p).createInterface({ role: 'master' });
  await connected(slave);
  t.pass();
});

test("a slave with a wrong secret: 'connectionError' with a HandshakeError whose reason is the master's", async (t) => {
  const p = socketPath(t);
  open(t, p).createInterface({ role: 'master', secret: 'right' });
  const slave = open(t, { path: p, reconnectMinMs: 10, reconnectMaxMs: 20 }).createInterface({ role: 'slave', secret: 'wrong' });
  const [err] = await nextEvent<[HandshakeError]>(slave, 'connectionError', 30_000);
  t.true(err instanceof HandshakeError);
  t.is(err.code, 'ERR_NMEMIF_HANDSHAKE');
  t.regex(err.reason, /secret/i);
  t.is(slave.lastDisconnectReason, err.reason);
});

// ---- packets(): signal and copy ------------------------------------------------------------------------

test('packets({ signal }): aborting stops the iteration with an AbortError; the buffers it held go back to the peer', async (t) => {
  const { master, slave } = await connectedPair(t);
  const ac = new AbortController();
  t.is(slave.send(0, Array.from({ length: 10 }, () => new Uint8Array(60))), 10);
  let seen = 0;
  const err = await t.throwsAsync(
    (async () => {
      for await (const frame of master.packets(0, { signal: ac.signal })) {
        t.is(frame.byteLength, 60);
        if (++seen === 3) ac.abort();
      }
    })(),
    { instanceOf: AbortError },
  );
  t.is(err?.code, 'ABORT_ERR');
  t.is(seen, 3);
  // Nothing was left taken: every rx slot is the peer's again, so a full ring's worth still fits.
  const ring = master.details().rings.find((r) => r.direction === 'rx')!;
  t.is(ring.head, ring.tail, 'the burst was handed back');
  // A signal aborted already, and one that aborts while the iterator waits.
  await t.throwsAsync(master.packets(0, { signal: AbortSignal.abort() }).next(), { instanceOf: AbortError });
  const waiting = new AbortController();
  const next = master.packets(0, { signal: waiting.signal }).next();
  waiting.abort();
  await t.throwsAsync(next, { instanceOf: AbortError });
});

/** Sends `frames` on queue 0, waiting for 'drain' when the ring is full. */
async function sendAll(iface: MemifInterface, frames: Uint8Array[]): Promise<void> {
  for (let k = 0; k < frames.length; ) {
    const n = iface.send(0, frames.slice(k));
    k += n;
    if (k < frames.length) await within(once(iface.queue(0), 'drain'), 30_000, `'drain' after ${k} frames`);
  }
}

test('packets({ copy: true }) with an 8-slot ring: 40 frames kept until the end are all intact (views would have been overwritten)', async (t) => {
  const { master, slave } = await connectedPair(t, { shared: { log2RingSize: 3 } });
  const frames = Array.from({ length: 40 }, (_, k) => new Uint8Array(64).fill(k + 1));
  const kept: Uint8Array[] = [];
  const receiving = (async () => {
    for await (const frame of master.packets(0, { copy: true, batchSize: 4 })) {
      kept.push(frame);
      if (kept.length === frames.length) break;
    }
  })();
  await sendAll(slave, frames);
  await within(receiving, 30_000, '40 frames');
  t.true(kept.every((f) => Buffer.isBuffer(f)), 'copies are Buffers of their own');
  t.deepEqual(kept.map((f) => f[0]), frames.map((f) => f[0]));
  t.true(kept.every((f, k) => f.every((b) => b === k + 1)), 'every byte of every kept frame');
});

// ---- views of a connection that went down ---------------------------------------------------------------

test('a batch used after its connection went down throws StaleBufferError (ERR_NMEMIF_STALE_BUFFER), not a TypeError', async (t) => {
  const { master, slave, slaveSocket } = await connectedPair(t);
  t.is(slave.send(0, new Uint8Array(100).fill(7)), 1);
  const batch = new PacketBatch(8);
  await waitUntil(() => master.rx(0, batch) > 0 || batch.count > 0, 30_000, 'the frame');
  t.is(batch.view(0)[0], 7);
  const down = nextEvent(master, 'disconnect', 30_000);
  slaveSocket.close();
  await down;
  for (const use of [() => batch.view(0), () => batch.packet(0), () => batch.regionBytes(0), () => batch.copyPacket(0, new Uint8Array(100))]) {
    const err = t.throws(use, { instanceOf: StaleBufferError });
    t.is(err?.code, 'ERR_NMEMIF_STALE_BUFFER');
  }
});

// ---- process lifetime: ref/unref, handleSignals -----------------------------------------------------------

test('unref(): a connected pair (polled queues, traffic) and a retrying slave let the process exit; ref() sockets keep it alive', async (t) => {
  for (const mode of ['pair-unref', 'slave-unref'] as const) {
    const r = await runFixture('memif-lifetime.ts', { args: [mode, tempDir(t)], timeoutMs: 120_000, killAfter: { marker: mode === 'pair-unref' ? 'connected' : 'retrying', ms: 30_000 } });
    t.false(r.timedOut, `${mode}: still running 30 s after unref(): ${r.stdout}${r.stderr}`);
    t.is(r.code, 0, `${mode}: ${r.stderr}`);
  }
  const r = await runFixture('memif-lifetime.ts', { args: ['pair-ref', tempDir(t)], timeoutMs: 120_000 });
  t.true(r.stdout.includes('alive hasRef=true,true'), `a ref'd pair kept the process alive until it unref'd: ${r.stdout}${r.stderr}`);
  t.false(r.timedOut);
  t.is(r.code, 0, r.stderr);
});

test('handleSignals: by default open sockets add one SIGINT and one SIGTERM listener (removed with the last); with false, none', async (t) => {
  // Signals are the main thread's (ava runs this file in a worker): a process of its own.
  const r = await runFixture('memif-lifetime.ts', { args: ['signals', tempDir(t)], timeoutMs: 120_000 });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(lastJson(r), { before: [0, 0], quiet: [0, 0], two: [1, 1], one: [1, 1], none: [0, 0] });
});

// ---- Symbol.dispose -------------------------------------------------------------------------------------

test('using / await using close sockets, interfaces and queues at the end of the scope', async (t) => {
  const dir = tempDir(t);
  let sock: MemifSocket;
  let iface: MemifInterface;
  {
    using s = new MemifSocket(path.join(dir, 'a.sock'));
    using i = s.createInterface({ role: 'master' });
    sock = s;
    iface = i;
    t.true(fs.existsSync(path.join(dir, 'a.sock')));
  }
  t.true(iface.closed);
  t.true(sock.closed);
  t.false(fs.existsSync(path.join(dir, 'a.sock')));
  {
    await using s = new MemifSocket(path.join(dir, 'b.sock'));
    sock = s;
  }
  t.true(sock.closed);
  // A queue attached from a handle (as in a worker) lets the queue go at the end of its scope.
  const owner = open(t, path.join(dir, 'c.sock')).createInterface({ role: 'master' });
  let lessee: MemifQueue;
  {
    using q = attachQueue(owner.transferQueue(0));
    lessee = q;
    t.false(q.closed);
  }
  t.true(lessee.closed);
});
