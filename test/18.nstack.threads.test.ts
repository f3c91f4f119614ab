/**
 * Sending from other threads (the reactor pattern): worker_threads queue whole messages in an
 * nSocket's multi-producer queue, the owning thread sends them. Every message arrives once and
 * whole; an idle owner wakes at once (eventfd); everything but sending fails with
 * WrongThreadError in a worker; a closed socket refuses with ClosedError.
 */
import test from 'ava';
import { once } from 'node:events';
import * as path from 'node:path';
import { Worker, threadId } from 'node:worker_threads';
import { ClosedError, InvalidArgumentError } from '../src/errors';
import {
  EPOLLIN,
  EventPoll,
  attachSocket,
  closeStacks,
  createDatagramList,
  createServer,
  createSocket,
  connect,
  datagramAt,
  registerStack,
  type SendQueueHandle,
} from '../src/nstack';
import { FRAME_HEADER, checkFrame } from './helpers/frames';
import { createLoopbackStack } from './helpers/loopback-stack';
import { bound } from './helpers/bounds';
import { until } from './helpers/until';

test.afterEach.always(() => closeStacks('test done'));

const fixture = path.join(__dirname, 'fixtures', 'nstack-sender.ts');

function startSender(job: { handle: SendQueueHandle; sender: number; count: number; port?: number; address?: string; delayMs?: number; probe?: string }): Worker {
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(fixture)});`, { eval: true, workerData: job });
}

/** The worker's next message; rejects if it exits first (instead of waiting forever). */
function report<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`the sender worker exited (code ${code}) before reporting`));
    worker.once('exit', onExit);
    worker.once('error', reject);
    worker.once('message', (m: T) => {
      worker.off('exit', onExit);
      worker.off('error', reject);
      resolve(m);
    });
  });
}

/** Counts frames per sender: each (sender, seq) once, whole. */
class Tally {
  readonly seen: Uint8Array;
  received = 0;
  duplicates = 0;
  readonly bad: string[] = [];
  constructor(readonly senders: number, readonly perSender: number) {
    this.seen = new Uint8Array(senders * perSender);
  }
  add(frame: Uint8Array): { sender: number; seq: number } | null {
    const r = checkFrame(frame);
    if (typeof r === 'string') {
      if (this.bad.length < 5) this.bad.push(r);
      return null;
    }
    const i = r.sender * this.perSender + r.seq;
    if (r.sender >= this.senders || r.seq >= this.perSender) this.bad.push(`unexpected sender ${r.sender} seq ${r.seq}`);
    else if (this.seen[i]++) this.duplicates++;
    else this.received++;
    return r;
  }
}

test.serial('4 workers x 100,000 datagrams through one UDP socket: every datagram arrives once and whole', async (t) => {
  registerStack(createLoopbackStack({ queueLimit: 512 })); // lossless: counting is exact
  const WORKERS = 4;
  const EACH = 100_000;
  const tx = createSocket({ type: 'udp4', stack: 'loopback' });
  const rx = createSocket({ type: 'udp4', stack: 'loopback' });
  await new Promise<void>((resolve) => tx.bind(5000, '10.0.0.1', resolve));
  await new Promise<void>((resolve) => rx.bind(6000, '10.0.0.2', resolve));
  const handle = tx.shareSend({ bytes: 1 << 18 }); // small: producers meet a full queue often
  const tally = new Tally(WORKERS, EACH);
  const ep = new EventPoll<null>();
  const list = createDatagramList({ count: 256 });
  let wrongSource = 0;
  ep.add(rx, EPOLLIN, null);
  ep.onReady(() => {
    const n = rx.recvBatch(list);
    for (let i = 0; i < n; i++) {
      tally.add(datagramAt(list, i));
      if (list.addresses[i].port !== 5000 || list.addresses[i].address !== '10.0.0.1') wrongSource++;
    }
  });
  const workers = Array.from({ length: WORKERS }, (_, w) => startSender({ handle, sender: w, count: EACH, port: 6000, address: '10.0.0.2' }));
  try {
    const reports = await Promise.all(workers.map((w) => report<{ sent: number }>(w)));
    t.deepEqual(reports.map((r) => r.sent), [EACH, EACH, EACH, EACH]);
    t.true(await until(() => tally.received + tally.duplicates + tally.bad.length >= WORKERS * EACH, bound(120_000)), `received ${tally.received}`);
    t.deepEqual(tally.bad, []);
    t.is(tally.duplicates, 0);
    t.is(tally.received, WORKERS * EACH);
    t.is(wrongSource, 0);
  } finally {
    ep.close();
    await Promise.all(workers.map((w) => w.terminate()));
  }
});

test.serial('4 workers write whole messages through one TCP socket (kernel stack): never cut or interleaved, in order per worker', async (t) => {
  const WORKERS = 4;
  const EACH = 20_000;
  const tally = new Tally(WORKERS, EACH);
  const lastSeq = new Int32Array(WORKERS).fill(-1);
  let outOfOrder = 0;
  let pending: Buffer = Buffer.alloc(0);
  const accepted: Array<{ destroy(): unknown }> = [];
  const server = createServer((s) => {
    accepted.push(s);
    s.on('data', (d: Buffer) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      let off = 0;
      while (pending.length - off >= FRAME_HEADER) {
        const len = pending.readUInt32BE(off);
        if (len < FRAME_HEADER || len > 1_000_000) {
          tally.bad.push(`frame length ${len} at a frame boundary: the stream is corrupt`);
          s.destroy();
          return;
        }
        if (pending.length - off < len) break;
        const r = tally.add(pending.subarray(off, off + len));
        if (r !== null) {
          if (r.seq <= lastSeq[r.sender]) outOfOrder++;
          lastSeq[r.sender] = r.seq;
        }
        off += len;
      }
      pending = pending.subarray(off);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect(server.address()!.port, '127.0.0.1');
  await once(client, 'connect');
  const handle = client.shareSend({ bytes: 1 << 18 });
  const workers = Array.from({ length: WORKERS }, (_, w) => startSender({ handle, sender: w, count: EACH }));
  try {
    await Promise.all(workers.map((w) => report(w)));
    t.true(await until(() => tally.received + tally.bad.length >= WORKERS * EACH, bound(120_000)), `received ${tally.received}`);
    t.deepEqual(tally.bad, []);
    t.is(tally.duplicates, 0);
    t.is(tally.received, WORKERS * EACH);
    t.is(outOfOrder, 0);
  } finally {
    // Our end of the connection too: closing the stacks after the test aborts a socket that is
    // still open with an 'error' (ClosedError), which nobody here listens for.
    client.destroy();
    for (const s of accepted) s.destroy();
    server.close();
    await Promise.all(workers.map((w) => w.terminate()));
  }
});

test.serial('an idle owner wakes at once when a worker queues a datagram (eventfd, no polling)', async (t) => {
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  await new Promise<void>((resolve) => rx.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => tx.bind(0, '127.0.0.1', resolve));
  const arrived = once(rx, 'message').then(() => performance.timeOrigin + performance.now());
  const worker = startSender({ handle: tx.shareSend(), sender: 9, count: 1, port: rx.address().port, address: '127.0.0.1', delayMs: 300 });
  try {
    const [sent, at] = await Promise.all([report<{ sentAt: number }>(worker), arrived]);
    const latency = at - sent.sentAt;
    t.log(`queued in the worker -> received by the owner: ${latency.toFixed(2)} ms`);
    t.true(latency < bound(2000), `woke after ${latency} ms`); // no timer runs the drain: only the eventfd can
  } finally {
    rx.close();
    tx.close();
    await worker.terminate();
  }
});

test.serial('in a worker, everything but sending throws WrongThreadError; after the owner closed, ClosedError', async (t) => {
  const tx = createSocket('udp4');
  await new Promise<void>((resolve) => tx.bind(0, '127.0.0.1', resolve));
  const handle = tx.shareSend();
  const probe = startSender({ handle, sender: 0, count: 0, probe: 'owner-only' });
  const errors = await report<Record<string, { code: string; name: string; message: string }>>(probe);
  for (const call of ['recvBatch', 'bind', 'close', 'on']) {
    t.is(errors[call].code, 'ERR_NMEMIF_WRONG_THREAD', call);
    t.true(errors[call].message.includes(`runs on the socket's owning thread (thread ${threadId}, this is thread `), errors[call].message);
    t.regex(errors[call].message, /other threads may only send \(send\(\)\/write\(\)\)/);
  }
  await probe.terminate();

  const late = startSender({ handle, sender: 0, count: 0, port: 9, address: '127.0.0.1', probe: 'after-close' });
  await report(late); // ready
  tx.close();
  late.postMessage('go');
  const after = await report<{ code: string }>(late);
  t.is(after.code, 'ERR_NMEMIF_CLOSED');
  await late.terminate();
});

test.serial('the queue checks what it is given: a message larger than the queue, a bad handle, the wrong protocol', async (t) => {
  const tx = createSocket('udp4');
  await new Promise<void>((resolve) => tx.bind(0, '127.0.0.1', resolve));
  const remote = attachSocket(tx.shareSend({ bytes: 4096 })); // the same thread may attach too
  t.true(remote.maxMessage < 4096);
  t.throws(() => remote.send(Buffer.alloc(5000), 9, '127.0.0.1'), { instanceOf: InvalidArgumentError, message: /bigger than the send queue/ });
  t.throws(() => remote.send('x', 9, 'localhost'), { instanceOf: InvalidArgumentError, message: /must be an IP address/ });
  t.throws(() => remote.write('x'), { message: /use send\(\) on a UDP socket/ });
  t.throws(() => attachSocket({ kind: 'nope' } as unknown as SendQueueHandle), { instanceOf: InvalidArgumentError });
  const unbound = createSocket('udp4');
  t.throws(() => unbound.shareSend(), { message: /bind\(\) or connect\(\)/ });
  unbound.close();
  tx.close();
  t.throws(() => remote.send('x', 9, '127.0.0.1'), { instanceOf: ClosedError });
});
