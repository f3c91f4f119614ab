/**
 * UDP nSockets over the kernel stack: node:dgram's surface (bind, send, 'message', connect,
 * close, address), echo byte-exact, recvBatch into a reusable list, and errors (Node-style
 * errno errors from the stack, our classes for misuse).
 */
import test from 'ava';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { ClosedError, InvalidArgumentError, InvalidStateError, StackError } from '../src/errors';
import { createDatagramList, createSocket, datagramAt, EventPoll, EPOLLIN, type UdpSocket } from '../src/nstack';
import { bound } from './helpers/bounds';
import { until } from './helpers/until';

function bindTo(sock: UdpSocket, address = '127.0.0.1', port = 0): Promise<number> {
  return new Promise((resolve) => sock.bind(port, address, () => resolve(sock.address().port)));
}

/** Payload i: a 4-byte index, then bytes that depend on it, `size` bytes in all. */
function payload(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(i, 0);
  for (let k = 4; k < size; k++) b[k] = (i * 7 + k * 13) & 0xff;
  return b;
}

/** Sends `count` datagrams of 4..1472 bytes with at most `window` unanswered; resolves with the replies. */
async function echoRun(client: UdpSocket, port: number, address: string, count: number, window: number): Promise<Map<number, Buffer>> {
  const replies = new Map<number, Buffer>();
  let next = 0;
  const sendMore = () => {
    while (next < count && next - replies.size < window) {
      const i = next++;
      client.send(payload(i, 4 + ((i * 97) % 1469)), port, address);
    }
  };
  client.on('message', (msg) => {
    replies.set(msg.readUInt32BE(0), msg);
    sendMore();
  });
  sendMore();
  await until(() => replies.size === count, bound(60_000));
  return replies;
}

test('echo over the kernel stack: every reply byte-exact (IPv4), with the sender address in rinfo', async (t) => {
  const server = createSocket('udp4', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  const client = createSocket('udp4');
  try {
    const port = await bindTo(server);
    const replies = await echoRun(client, port, '127.0.0.1', 3000, 16);
    t.is(replies.size, 3000);
    for (let i = 0; i < 3000; i++) {
      if (!replies.get(i)?.equals(payload(i, 4 + ((i * 97) % 1469)))) t.fail(`reply ${i} differs`);
    }
    t.is(server.stackName, 'kernel');
    t.is(client.route?.plane, 'nstack-linux');
    t.deepEqual(server.address(), { address: '127.0.0.1', family: 'IPv4', port });
  } finally {
    server.close();
    client.close();
  }
});

test('echo over IPv6 (::1)', async (t) => {
  const server = createSocket('udp6', (msg, rinfo) => {
    t.is(rinfo.family, 'IPv6');
    server.send(msg, rinfo.port, rinfo.address);
  });
  const client = createSocket('udp6');
  try {
    const port = await bindTo(server, '::1');
    const replies = await echoRun(client, port, '::1', 200, 8);
    t.is(replies.size, 200);
    t.true(replies.get(199)!.equals(payload(199, 4 + ((199 * 97) % 1469))));
  } finally {
    server.close();
    client.close();
  }
});

test('interoperates with node:dgram both ways, including host names resolved before the stack', async (t) => {
  const plain = dgram.createSocket('udp4', (msg, rinfo) => plain.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => plain.bind(0, '127.0.0.1', resolve));
  const ours = createSocket('udp4');
  try {
    const got = once(ours, 'message');
    ours.send('hello through localhost', plain.address().port, 'localhost');
    const [msg, rinfo] = (await got) as [Buffer, { port: number }];
    t.is(msg.toString(), 'hello through localhost');
    t.is(rinfo.port, plain.address().port);
  } finally {
    plain.close();
    ours.close();
  }
});

test("send()'s argument forms: offset/length, arrays of chunks, strings, callbacks with the byte count", async (t) => {
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  try {
    const port = await bindTo(rx);
    const got: string[] = [];
    rx.on('message', (m) => got.push(m.toString()));
    const counts: number[] = [];
    await new Promise<void>((resolve) => tx.send(Buffer.from('xxabcxx'), 2, 3, port, '127.0.0.1', (err, n) => (counts.push(n), resolve())));
    await new Promise<void>((resolve) => tx.send(['pa', Buffer.from('rt'), new Uint8Array([115])], port, '127.0.0.1', (err, n) => (counts.push(n), resolve())));
    await new Promise<void>((resolve) => tx.send('string', port, (err, n) => (counts.push(n), resolve()))); // address defaults to 127.0.0.1
    await until(() => got.length === 3, bound(5000));
    t.deepEqual(got, ['abc', 'parts', 'string']);
    t.deepEqual(counts, [3, 5, 6]);
  } finally {
    rx.close();
    tx.close();
  }
});

test('connect(): sends go to the peer; remoteAddress(); a connected socket refuses an address', async (t) => {
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  try {
    const port = await bindTo(rx);
    t.throws(() => tx.remoteAddress(), { instanceOf: InvalidStateError });
    await new Promise<void>((resolve) => tx.connect(port, '127.0.0.1', resolve));
    t.deepEqual(tx.remoteAddress(), { address: '127.0.0.1', family: 'IPv4', port });
    const got = once(rx, 'message');
    tx.send('to the peer');
    const [msg, rinfo] = (await got) as [Buffer, { port: number }];
    t.is(msg.toString(), 'to the peer');
    t.is(rinfo.port, tx.address().port);
    t.throws(() => tx.send('x', port, '127.0.0.1'), { instanceOf: InvalidStateError, message: /connected/ });
    t.throws(() => tx.connect(port), { instanceOf: InvalidStateError });
  } finally {
    rx.close();
    tx.close();
  }
});

test('recvBatch() fills a reusable DatagramList: contents, senders, pending count, objects reused', async (t) => {
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  const ep = new EventPoll<string>();
  try {
    const port = await bindTo(rx);
    const txPort = await bindTo(tx);
    ep.add(rx, EPOLLIN, 'rx');
    for (let i = 0; i < 40; i++) tx.send(payload(i, 100 + i), port, '127.0.0.1');
    const list = createDatagramList({ count: 16, bytes: 64 * 1024 });
    const seen: number[] = [];
    let firstAddress: object | undefined;
    let sawPending = false;
    while (seen.length < 40) {
      const ready = await ep.wait(4, bound(10_000));
      t.deepEqual(ready.map((r) => r.data), ['rx']);
      const n = rx.recvBatch(list);
      t.is(list.count, n);
      if (list.pending > 0) sawPending = true;
      for (let i = 0; i < n; i++) {
        const d = datagramAt(list, i);
        const idx = Buffer.from(d.buffer, d.byteOffset, 4).readUInt32BE(0);
        t.true(Buffer.from(d).equals(payload(idx, 100 + idx)));
        t.deepEqual({ ...list.addresses[i] }, { address: '127.0.0.1', port: txPort, family: 4 });
        seen.push(idx);
      }
      firstAddress ??= list.addresses[0];
    }
    t.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i));
    t.true(sawPending, 'a batch of 16 left datagrams pending');
    t.true(list.addresses[0] === firstAddress, "the same object, refilled");
    t.is(rx.recvBatch(list), 0);
    t.is(list.pending, 0);
  } finally {
    ep.close();
    rx.close();
    tx.close();
  }
});

test('datagrams wait in the stack while nobody listens, and flow once a message listener comes', async (t) => {
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  try {
    const port = await bindTo(rx);
    for (let i = 0; i < 5; i++) tx.send(`m${i}`, port, '127.0.0.1');
    await until(() => (rx.poll() & EPOLLIN) !== 0, bound(5000));
    const got: string[] = [];
    rx.on('message', (m) => got.push(m.toString()));
    await until(() => got.length === 5, bound(5000));
    t.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4']);
  } finally {
    rx.close();
    tx.close();
  }
});

test('stack errors are Node-style: EADDRINUSE on bind (an error event), EMSGSIZE to the send callback', async (t) => {
  const a = createSocket('udp4');
  const b = createSocket('udp4');
  try {
    const port = await bindTo(a);
    b.bind(port, '127.0.0.1');
    const [err] = (await once(b, 'error')) as [StackError];
    t.true(err instanceof StackError);
    t.is(err.code, 'EADDRINUSE');
    t.is(err.errno, -98);
    t.is(err.syscall, 'bind');
    t.is(err.message, `bind EADDRINUSE 127.0.0.1:${port}`);
    const [serr] = await new Promise<[Error | null, number]>((resolve) => a.send(Buffer.alloc(70_000), port, '127.0.0.1', (e, n) => resolve([e, n])));
    t.is((serr as StackError).code, 'EMSGSIZE');
  } finally {
    a.close();
    b.close();
  }
});

test('misuse: bad arguments and calls in the wrong state throw our errors with stable codes', async (t) => {
  const s = createSocket('udp4');
  t.throws(() => s.address(), { instanceOf: InvalidStateError, code: 'ERR_NMEMIF_INVALID_STATE' });
  t.throws(() => s.send('x', 0, '127.0.0.1'), { instanceOf: InvalidArgumentError, message: /port must be an integer from 1 to 65535/ });
  t.throws(() => s.send('x', 70000), { instanceOf: InvalidArgumentError });
  t.throws(() => s.send(42 as unknown as string, 9), { instanceOf: InvalidArgumentError });
  t.throws(() => s.bind(-1), { instanceOf: InvalidArgumentError });
  t.throws(() => s.setTTL(0), { instanceOf: InvalidArgumentError });
  t.throws(() => s.getRecvBufferSize(), { instanceOf: InvalidStateError });
  t.throws(() => createSocket('udp5' as 'udp4'), { instanceOf: InvalidArgumentError });
  await bindTo(s);
  t.throws(() => s.bind(0), { instanceOf: InvalidStateError, message: /already bound/ });
  s.close();
  await once(s, 'close');
  t.throws(() => s.send('x', 9), { instanceOf: ClosedError, code: 'ERR_NMEMIF_CLOSED' });
  t.throws(() => s.recvBatch(createDatagramList()), { instanceOf: ClosedError });
  t.notThrows(() => s.close()); // idempotent
});

test('socket options reach the kernel: buffer sizes, TTL, broadcast', async (t) => {
  const s = createSocket({ type: 'udp4', recvBufferSize: 1 << 16 });
  try {
    await bindTo(s);
    t.true(s.getRecvBufferSize() >= 1 << 16); // Linux doubles what it was given
    s.setSendBufferSize(1 << 17);
    t.true(s.getSendBufferSize() >= 1 << 17);
    t.is(s.setTTL(7), 7);
    t.notThrows(() => s.setBroadcast(true));
  } finally {
    s.close();
  }
});

test('close() fails the sends still waiting for room with ClosedError and emits close', async (t) => {
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  const port = await bindTo(rx);
  await bindTo(tx);
  // Enough sends at once that some wait in the socket for room (the stack takes a bounded number).
  const results: Array<Error | null> = [];
  for (let i = 0; i < 2000; i++) tx.send(Buffer.alloc(8), port, '127.0.0.1', (err) => results.push(err));
  tx.close();
  await once(tx, 'close');
  await until(() => results.length === 2000, bound(5000));
  const refused = results.filter((e) => e !== null);
  t.true(refused.every((e) => e instanceof ClosedError));
  t.true(refused.length > 0, 'some sends were still queued');
  rx.close();
});

test("send callbacks come after a turn of the loop, as dgram's: a sender that sends again from each callback lets I/O run", async (t) => {
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  try {
    const port = await bindTo(rx);
    let received = 0;
    rx.on('message', () => received++);
    const count = 3000;
    const window = 64;
    let sent = 0;
    let inflight = 0;
    let receivedAtEnd = -1;
    let immediateRan = false;
    let immediateAtEnd = false;
    setImmediate(() => (immediateRan = true));
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (inflight < window && sent < count) {
          inflight++;
          sent++;
          tx.send(Buffer.alloc(8), port, '127.0.0.1', onSent);
        }
        if (inflight === 0) {
          receivedAtEnd = received;
          immediateAtEnd = immediateRan;
          resolve();
        }
      };
      const onSent = (err: Error | null): void => {
        inflight--;
        if (err !== null) t.fail(`send failed: ${err.message}`);
        pump();
      };
      pump();
    });
    t.true(immediateAtEnd, 'an immediate queued before the blast ran before its last callback');
    t.true(receivedAtEnd > 0, 'datagrams were read by the same loop while it sent');
  } finally {
    tx.close();
    rx.close();
  }
});
