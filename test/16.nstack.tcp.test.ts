/**
 * TCP nSockets over the kernel stack: node:net's surface (connect, createServer, listen,
 * address, close), echo byte-exact with SHA-256 both ways, backpressure (write() false, then
 * 'drain' once the reader reads), half-close, interop with node:net, and Node-style errors.
 */
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as net from 'node:net';
import { InvalidStateError, StackError } from '../src/errors';
import { connect, createServer, type TcpServer, type TcpSocket } from '../src/nstack';
import { bound } from './helpers/bounds';
import { until } from './helpers/until';

function listening(server: TcpServer | net.Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port)));
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads `sock` to its end. */
async function readAll(sock: TcpSocket | net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  sock.on('data', (d: Buffer) => chunks.push(d));
  await once(sock, 'end');
  return Buffer.concat(chunks);
}

/** Resolves once `sock` emitted 'close' (at once if it already did). */
async function closed(sock: TcpSocket | net.Socket): Promise<void> {
  if (!sock.closed) await once(sock, 'close');
}

/** Writes `data` in pieces, honouring write()'s backpressure, then ends. */
async function writeAll(sock: TcpSocket | net.Socket, data: Buffer, piece = 60_000): Promise<void> {
  for (let off = 0; off < data.length; off += piece) {
    if (!sock.write(data.subarray(off, off + piece))) await once(sock, 'drain');
  }
  sock.end();
}

test('echo of 8 MiB over the kernel stack: SHA-256 equal both ways; addresses as node:net gives them', async (t) => {
  const server = createServer((sock) => sock.pipe(sock));
  const port = await listening(server);
  t.deepEqual(server.address(), { address: '127.0.0.1', family: 'IPv4', port });
  t.true(server.listening);
  t.is(server.stackName, 'kernel');
  const data = randomBytes(8 << 20);
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  t.is(client.remoteAddress, '127.0.0.1');
  t.is(client.remotePort, port);
  t.is(client.remoteFamily, 'IPv4');
  t.is(client.localAddress, '127.0.0.1');
  t.true(client.localPort! > 0);
  t.is(client.route?.plane, 'nstack-linux');
  const [echoed] = await Promise.all([readAll(client), writeAll(client, data)]);
  t.is(echoed.length, data.length);
  t.is(sha(echoed), sha(data));
  t.is(client.bytesWritten, data.length);
  t.is(client.bytesRead, data.length);
  await closed(client);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  t.false(server.listening);
});

test('IPv6: listen on ::1 and connect to it', async (t) => {
  const server = createServer((sock) => sock.end(`hello ${sock.remoteFamily}`));
  const port = await listening(server, '::1');
  try {
    const c = connect({ port, host: '::1' });
    const got = await readAll(c);
    t.is(got.toString(), 'hello IPv6');
  } finally {
    server.close();
  }
});

test('interoperates with node:net: our client to its server, its client to our server', async (t) => {
  const plain = net.createServer((s) => s.pipe(s));
  const plainPort = await listening(plain);
  const ours = createServer((s) => s.pipe(s));
  const oursPort = await listening(ours);
  try {
    const data = randomBytes(1 << 20);
    const c1 = connect(plainPort, '127.0.0.1');
    const [e1] = await Promise.all([readAll(c1), writeAll(c1, data)]);
    t.is(sha(e1), sha(data));
    const c2 = net.connect(oursPort, '127.0.0.1');
    const [e2] = await Promise.all([readAll(c2), writeAll(c2, data)]);
    t.is(sha(e2), sha(data));
  } finally {
    plain.close();
    ours.close();
  }
});

test('backpressure: against a reader that does not read, write() turns false; all arrives and drain comes once it reads', async (t) => {
  let serverSide: TcpSocket | null = null;
  const server = createServer((s) => (serverSide = s)); // no 'data' listener: nothing is read
  const port = await listening(server);
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  await until(() => serverSide !== null, bound(5000));
  const piece = randomBytes(64 * 1024);
  let written = 0;
  // Write until the chain (our stream, the stack, the kernel buffers) is full.
  while (client.write(piece)) {
    written += piece.length;
    if (written > 256 << 20) break;
  }
  written += piece.length;
  t.true(written < 256 << 20, `write() never returned false after ${written} bytes`);
  t.true(client.writableNeedDrain);
  const drained = once(client, 'drain');
  let received = 0;
  let ok = true;
  serverSide!.on('data', (d: Buffer) => {
    for (let i = 0; i < d.length; i += 4093) if (d[i] !== piece[(received + i) % piece.length]) ok = false;
    received += d.length;
  });
  await drained;
  client.end();
  await once(serverSide!, 'end');
  t.is(received, written);
  t.true(ok, 'bytes arrived in order');
  client.destroy();
  server.close();
});

test('half-close: after the client ends, the server still writes and the client still reads', async (t) => {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => {
      // The client's side is closed; ours is still open.
      s.write('you said: ');
      s.end(Buffer.concat(parts));
    });
  });
  const port = await listening(server);
  try {
    const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    client.end('ping');
    await once(client, 'finish');
    t.is(client.readyState, 'readOnly');
    const got = await readAll(client);
    t.is(got.toString(), 'you said: ping');
    await closed(client);
  } finally {
    server.close();
  }
});

test('without allowHalfOpen a socket ends its side when the peer ends (as in net)', async (t) => {
  const serverEnded = { value: false };
  const server = createServer((s) => {
    s.on('data', () => undefined);
    s.on('finish', () => (serverEnded.value = true));
  });
  const port = await listening(server);
  try {
    const client = connect(port, '127.0.0.1');
    client.resume();
    client.end('bye');
    await once(client, 'end'); // the server ended its side by itself
    t.true(await until(() => serverEnded.value, bound(5000)));
  } finally {
    server.close();
  }
});

test('Node-style errors: ECONNREFUSED on connect, EADDRINUSE on listen, ECONNRESET or EPIPE after the peer aborts', async (t) => {
  // A port nobody listens on.
  const probe = net.createServer();
  const free = await listening(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const c = connect(free, '127.0.0.1');
  const [err] = (await once(c, 'error')) as [StackError];
  t.true(err instanceof StackError);
  t.is(err.code, 'ECONNREFUSED');
  t.is(err.errno, -111);
  t.is(err.syscall, 'connect');
  t.is(err.message, `connect ECONNREFUSED 127.0.0.1:${free}`);
  await closed(c);

  const a = createServer();
  const port = await listening(a);
  const b = createServer();
  b.listen(port, '127.0.0.1');
  const [lerr] = (await once(b, 'error')) as [StackError];
  t.is(lerr.code, 'EADDRINUSE');
  t.is(lerr.syscall, 'listen');
  t.false(b.listening);

  // The server aborts a connection with unread data: the client sees a reset.
  a.on('connection', (s) => {
    s.once('data', () => s.destroy());
  });
  const victim = connect(port, '127.0.0.1');
  victim.resume();
  const failed = once(victim, 'error') as Promise<[StackError]>;
  const big = Buffer.alloc(1 << 20);
  const pump = setInterval(() => victim.write(big), 5);
  try {
    const [rerr] = await failed;
    t.true(['ECONNRESET', 'EPIPE'].includes(rerr.code), rerr.code);
  } finally {
    clearInterval(pump);
    a.close();
  }
});

test('server: close() stops listening at once; close fires after the last connection; getConnections; misuse', async (t) => {
  const server = createServer((s) => s.resume());
  const port = await listening(server);
  t.throws(() => server.listen(0), { instanceOf: InvalidStateError });
  const c1 = connect(port, '127.0.0.1');
  c1.resume();
  await once(c1, 'connect');
  const connections = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
  let count = 0;
  for (let i = 0; i < 1000 && count === 0; i++) count = await connections(); // accepted on the server's side by now or soon
  t.is(count, 1);
  let closed = false;
  server.close(() => (closed = true));
  t.false(server.listening);
  const refused = connect(port, '127.0.0.1');
  const [err] = (await once(refused, 'error')) as [StackError];
  t.is(err.code, 'ECONNREFUSED');
  t.false(closed, 'a connection is still open');
  c1.end();
  t.true(await until(() => closed, bound(5000)));
  const [notRunning] = await new Promise<[Error | undefined]>((resolve) => server.close((e) => resolve([e])));
  t.true(notRunning instanceof InvalidStateError);
});
