/**
 * Options and the edges of the memif API: every bad option is an InvalidArgumentError that
 * names the field; socket path problems are SocketPathErrors with stable codes (and leave
 * other people's files alone); duplicate interfaces and closed objects have their own errors.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ClosedError, DuplicateInterfaceError, InvalidArgumentError, NmemifError, SocketPathError } from '../src/errors';
import { PacketBatch } from '../src/memif/batch';
import { MemifSocket } from '../src/memif/socket';
import type { InterfaceOptions, SocketOptions } from '../src/memif/options';
import { abstractName, connected, connectedPair, nextEvent, socketPath, tempDir } from './helpers/memif';

/** A socket that is closed when the test ends. */
function open(t: import('ava').ExecutionContext, opts: SocketOptions | string): MemifSocket {
  const s = new MemifSocket(opts);
  t.teardown(() => s.close());
  return s;
}

// ---- interface options ------------------------------------------------------------------------

const badInterfaceOptions: Array<[string, Record<string, unknown>, RegExp]> = [
  ['unknown key', { role: 'master', bogus: 1 }, /bogus/],
  ['unknown key (a typo of a real one)', { rxQueue: 2 }, /rxQueue\b/],
  ['id -1', { id: -1 }, /\bid\b/],
  ['id 2^32', { id: 2 ** 32 }, /\bid\b/],
  ['id 1.5', { id: 1.5 }, /\bid\b/],
  ['id as a string', { id: '1' }, /\bid\b/],
  ['rxQueues 0', { rxQueues: 0 }, /rxQueues/],
  ['rxQueues 256', { rxQueues: 256 }, /rxQueues/],
  ['txQueues 0', { txQueues: 0 }, /txQueues/],
  ['txQueues 256', { txQueues: 256 }, /txQueues/],
  ['log2RingSize 15', { log2RingSize: 15 }, /log2RingSize/],
  ['log2RingSize 0', { log2RingSize: 0 }, /log2RingSize/],
  ['bufferSize 63', { bufferSize: 63 }, /bufferSize/],
  ['bufferSize 65536', { bufferSize: 65536 }, /bufferSize/],
  ['secret of 24 characters', { secret: 'x'.repeat(24) }, /secret/],
  ['secret of 12 two-byte characters (24 bytes)', { secret: 'é'.repeat(12) }, /secret/],
  ['name of 32 characters', { name: 'n'.repeat(32) }, /name/],
  ['role "boss"', { role: 'boss' }, /role/],
  ['mode "fast"', { mode: 'fast' }, /mode/],
  ['rxMode "lazy"', { rxMode: 'lazy' }, /rxMode/],
];

for (const role of ['master', 'slave'] as const) {
  for (const [what, opts, field] of badInterfaceOptions) {
    test(`createInterface (${role} socket): ${what} -> InvalidArgumentError naming the field`, (t) => {
      const sock = open(t, socketPath(t));
      const err = t.throws(() => sock.createInterface({ role, ...opts } as InterfaceOptions), { instanceOf: InvalidArgumentError });
      t.is(err?.code, 'ERR_NMEMIF_INVALID_ARG');
      t.true(err instanceof NmemifError);
      t.regex(err?.message ?? '', field);
      t.deepEqual(sock.interfaces, [], 'nothing was created');
      t.is(sock.options.path.endsWith('memif.sock'), true);
    });
  }
}

test('the limits themselves are accepted: id 0 and 2^32-1, 1 and 255 queues, log2RingSize 1 and 14, bufferSize 64 and 65535, 23-byte secret', (t) => {
  const sock = open(t, socketPath(t));
  const ok: InterfaceOptions[] = [
    { role: 'master', id: 0, rxQueues: 255, txQueues: 255, log2RingSize: 14, secret: 'x'.repeat(23) },
    { role: 'master', id: 2 ** 32 - 1, rxQueues: 1, txQueues: 1, log2RingSize: 1 },
    { role: 'slave', id: 7, bufferSize: 64, name: 'n'.repeat(31), mode: 'ip', rxMode: 'polling' },
    { role: 'slave', id: 8, bufferSize: 65535, mode: 'punt-inject', rxMode: 'adaptive' },
    { role: 'server', id: 9 },
    { role: 'client', id: 9 },
  ];
  for (const o of ok) t.notThrows(() => sock.createInterface(o), JSON.stringify(o));
  t.is(sock.interfaces.length, ok.length);
  t.deepEqual(
    sock.interfaces.map((i) => i.role),
    ['master', 'master', 'slave', 'slave', 'master', 'slave'],
  );
});

test('interface options that are not an object -> InvalidArgumentError', (t) => {
  const sock = open(t, socketPath(t));
  const err = t.throws(() => sock.createInterface(null as unknown as InterfaceOptions), { instanceOf: InvalidArgumentError });
  t.is(err?.code, 'ERR_NMEMIF_INVALID_ARG');
});

// ---- socket options ------------------------------------------------------------------------------

const badSocketOptions: Array<[string, unknown, RegExp]> = [
  ['unknown key', { path: '/tmp/x.sock', colour: 'red' }, /colour/],
  ['path of 108 bytes', '/tmp/' + 'p'.repeat(103), /path/],
  ['empty path', '', /path/],
  ['"@" alone', '@', /path/],
  ['path with a NUL', '/tmp/a\0b', /path/],
  ['"abstract:" prefix', 'abstract:foo', /@name/],
  ['appName of 32 bytes', { path: '/tmp/x.sock', appName: 'a'.repeat(32) }, /appName/],
  ['reconnectMinMs 0', { path: '/tmp/x.sock', reconnectMinMs: 0 }, /reconnectMinMs/],
  ['reconnectMaxMs below reconnectMinMs', { path: '/tmp/x.sock', reconnectMinMs: 500, reconnectMaxMs: 100 }, /reconnectMaxMs/],
  ['handshakeTimeoutMs 0.5', { path: '/tmp/x.sock', handshakeTimeoutMs: 0.5 }, /handshakeTimeoutMs/],
  ['allowUnsealedRegions "yes"', { path: '/tmp/x.sock', allowUnsealedRegions: 'yes' }, /allowUnsealedRegions/],
  ['a number', 42, /socket options/],
];

for (const [what, opts, field] of badSocketOptions) {
  test(`new MemifSocket: ${what} -> InvalidArgumentError naming the field`, (t) => {
    const err = t.throws(() => new MemifSocket(opts as SocketOptions), { instanceOf: InvalidArgumentError });
    t.is(err?.code, 'ERR_NMEMIF_INVALID_ARG');
    t.regex(err?.message ?? '', field);
  });
}

test('run-time arguments: setRxMode with a bad queue or mode, a batch of 0 or more than the largest ring (16384)', (t) => {
  const sock = open(t, socketPath(t));
  const iface = sock.createInterface({ role: 'master', rxQueues: 2 });
  for (const q of [-1, 2, 0.5]) {
    const err = t.throws(() => iface.setRxMode(q, 'polling'), { instanceOf: InvalidArgumentError });
    t.regex(err?.message ?? '', /queue/);
  }
  const err = t.throws(() => iface.setRxMode(0, 'sleepy' as 'polling'), { instanceOf: InvalidArgumentError });
  t.regex(err?.message ?? '', /mode/);
  t.is(iface.rxMode(0), 'interrupt', 'a rejected change leaves the mode as it was');
  for (const n of [0, 16385, 1.5]) {
    t.throws(() => new PacketBatch(n), { instanceOf: InvalidArgumentError, code: 'ERR_NMEMIF_INVALID_ARG' } as never);
  }
});

// ---- socket paths ---------------------------------------------------------------------------------

test('missing directory: new MemifSocket throws SocketPathError ERR_NMEMIF_SOCKET_DIR_MISSING, whatever the role to come', (t) => {
  const p = path.join(tempDir(t), 'no', 'such', 'dir', 'memif.sock');
  const err = t.throws(() => open(t, p), { instanceOf: SocketPathError });
  t.is(err?.code, 'ERR_NMEMIF_SOCKET_DIR_MISSING');
  t.is(err?.path, p);
  t.true(err?.message.includes(p));
  t.false(fs.existsSync(path.dirname(p)), 'no directory was created');
  // A file where the directory should be: the same code (ENOTDIR).
  const file = path.join(tempDir(t), 'a-file');
  fs.writeFileSync(file, '');
  t.is(t.throws(() => open(t, path.join(file, 'memif.sock')), { instanceOf: SocketPathError })?.code, 'ERR_NMEMIF_SOCKET_DIR_MISSING');
  // An abstract name has no directory.
  t.notThrows(() => open(t, abstractName('nodir')));
});

test('a live memif listener at the path: ERR_NMEMIF_ADDRESS_IN_USE, and the listener keeps working', async (t) => {
  const p = socketPath(t);
  const first = open(t, p);
  const master = first.createInterface({ role: 'master', id: 1 });
  const second = open(t, p);
  const err = t.throws(() => second.createInterface({ role: 'master', id: 2 }), { instanceOf: SocketPathError });
  t.is(err?.code, 'ERR_NMEMIF_ADDRESS_IN_USE');
  t.is(err?.path, p);
  // The first socket's file was not replaced: a slave still reaches its master.
  const slave = second.createInterface({ role: 'slave', id: 1 });
  await Promise.all([connected(master), connected(slave)]);
  t.true(fs.statSync(p).isSocket());
});

test('a live listener of another kind (a node net.Server) at the path: ERR_NMEMIF_ADDRESS_IN_USE, its file left alone', async (t) => {
  const p = socketPath(t);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(p, resolve));
  t.teardown(() => server.close());
  const ino = fs.statSync(p).ino;
  const sock = open(t, p);
  const err = t.throws(() => sock.createInterface({ role: 'master', id: 1 }), { instanceOf: SocketPathError });
  t.is(err?.code, 'ERR_NMEMIF_ADDRESS_IN_USE');
  t.is(fs.statSync(p).ino, ino, 'the server keeps its socket file');
  await new Promise<void>((resolve, reject) => {
    const c = net.connect(p, () => {
      c.destroy();
      resolve();
    });
    c.on('error', reject);
  });
});

test('a regular file at the path: ERR_NMEMIF_NOT_A_SOCKET and the file is left intact', (t) => {
  const p = socketPath(t);
  fs.writeFileSync(p, 'precious data\n');
  const before = fs.statSync(p);
  const sock = open(t, p);
  const err = t.throws(() => sock.createInterface({ role: 'master', id: 1 }), { instanceOf: SocketPathError });
  t.is(err?.code, 'ERR_NMEMIF_NOT_A_SOCKET');
  t.is(err?.path, p);
  sock.close();
  const after = fs.statSync(p);
  t.true(after.isFile());
  t.is(after.ino, before.ino);
  t.is(fs.readFileSync(p, 'utf8'), 'precious data\n');
});

test('a directory at the path: a SocketPathError, and the directory is left intact', (t) => {
  const p = socketPath(t);
  fs.mkdirSync(p);
  fs.writeFileSync(path.join(p, 'inside'), 'x');
  const sock = open(t, p);
  const err = t.throws(() => sock.createInterface({ role: 'master', id: 1 }), { instanceOf: SocketPathError });
  t.is(err?.code, 'ERR_NMEMIF_NOT_A_SOCKET');
  sock.close();
  t.is(fs.readFileSync(path.join(p, 'inside'), 'utf8'), 'x');
});

test('a stale socket file (its listener was killed) is replaced, the master works, and close() removes it', async (t) => {
  const p = socketPath(t);
  // A process that binds and listens, then dies without unlinking.
  const r = spawnSync(
    process.execPath,
    ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", p],
    { timeout: 10_000 },
  );
  t.is(r.signal, 'SIGKILL', `the helper process died by SIGKILL (status ${r.status}, ${String(r.stderr)})`);
  t.true(fs.statSync(p).isSocket(), 'the stale socket file is there');
  const refused = await new Promise<string | undefined>((resolve) => {
    const c = net.connect(p, () => {
      c.destroy();
      resolve('connected');
    });
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
  });
  t.is(refused, 'ECONNREFUSED', 'nobody listens on the stale file');
  const a = open(t, p);
  const master = a.createInterface({ role: 'master', id: 3 });
  t.true(fs.statSync(p).isSocket());
  const b = open(t, p);
  const slave = b.createInterface({ role: 'slave', id: 3 });
  await Promise.all([connected(master), connected(slave)]);
  a.close();
  t.false(fs.existsSync(p), 'close() removed the socket file it created');
});

test('a master socket removes its file on close(); a slave-only socket never creates one', async (t) => {
  const p = socketPath(t);
  const slaveOnly = open(t, p);
  slaveOnly.createInterface({ role: 'slave', id: 1 });
  t.false(fs.existsSync(p));
  const m = open(t, p);
  m.createInterface({ role: 'master', id: 1 });
  t.true(fs.statSync(p).isSocket());
  slaveOnly.close();
  t.true(fs.existsSync(p), "closing the other socket object does not touch the master's file");
  m.close();
  t.false(fs.existsSync(p));
});

test('an abstract socket: no file anywhere, a second listener on the name is ERR_NMEMIF_ADDRESS_IN_USE', async (t) => {
  const name = abstractName('opt');
  const a = open(t, name);
  const master = a.createInterface({ role: 'master', id: 1 });
  const b = open(t, name);
  const err = t.throws(() => b.createInterface({ role: 'master', id: 2 }), { instanceOf: SocketPathError });
  t.is(err?.code, 'ERR_NMEMIF_ADDRESS_IN_USE');
  const slave = b.createInterface({ role: 'slave', id: 1 });
  await Promise.all([connected(master), connected(slave)]);
  t.is(master.details().socketPath, name);
});

// ---- duplicates -----------------------------------------------------------------------------------

test('duplicate id + role on one socket: DuplicateInterfaceError; other ids, or the other role, are fine', (t) => {
  const sock = open(t, socketPath(t));
  const m1 = sock.createInterface({ role: 'master', id: 1 });
  let err = t.throws(() => sock.createInterface({ role: 'master', id: 1 }), { instanceOf: DuplicateInterfaceError });
  t.is(err?.code, 'ERR_NMEMIF_DUPLICATE_INTERFACE');
  err = t.throws(() => sock.createInterface({ role: 'server', id: 1, rxQueues: 3 }), { instanceOf: DuplicateInterfaceError });
  t.is(err?.code, 'ERR_NMEMIF_DUPLICATE_INTERFACE');
  t.notThrows(() => sock.createInterface({ role: 'master', id: 2 }));
  t.notThrows(() => sock.createInterface({ role: 'slave', id: 1 }));
  err = t.throws(() => sock.createInterface({ role: 'client', id: 1 }), { instanceOf: DuplicateInterfaceError });
  t.is(err?.code, 'ERR_NMEMIF_DUPLICATE_INTERFACE');
  t.is(sock.interfaces.length, 3);
  // Once closed, its id is free again.
  m1.close();
  t.notThrows(() => sock.createInterface({ role: 'master', id: 1 }));
});

// ---- closed objects -------------------------------------------------------------------------------

const batch = new PacketBatch(4);
const dataCalls: Array<[string, (i: import('../src/memif/interface').MemifInterface) => unknown]> = [
  ['rx', (i) => i.rx(0, batch)],
  ['refill', (i) => i.refill(0, 1)],
  ['alloc', (i) => i.alloc(0, batch)],
  ['tx', (i) => i.tx(0, batch, 0)],
  ['swap', (i) => i.swap(0, 0, batch, 0)],
  ['send', (i) => i.send(0, new Uint8Array(60))],
  ['details', (i) => i.details()],
  ['stats', (i) => i.stats()],
  ['disconnect', (i) => i.disconnect()],
];

test('a closed interface: every call throws ClosedError; close() again is a no-op', async (t) => {
  const { master, slave, masterSocket } = await connectedPair(t);
  const down = nextEvent<[string]>(slave, 'disconnect', 3000, 'the slave to see the master interface close');
  master.close();
  t.true(master.closed);
  t.false(master.connected);
  t.notThrows(() => master.close());
  for (const [name, call] of dataCalls) {
    const err = t.throws(() => call(master), { instanceOf: ClosedError }, name);
    t.is(err?.code, 'ERR_NMEMIF_CLOSED', name);
    t.regex(err?.message ?? '', new RegExp(name), `${name}: the message names the call`);
  }
  const [reason] = await down;
  t.is(reason, 'interface deleted');
  t.false(masterSocket.interfaces.includes(master), 'socket.interfaces no longer lists an interface after its close()');
});

test('a closed socket: createInterface throws ClosedError, its interfaces are closed too; close() again is a no-op', async (t) => {
  const { master, slave, masterSocket, slaveSocket, path: p } = await connectedPair(t);
  const down = nextEvent<[string]>(slave, 'disconnect', 3000, 'the slave to see the master socket close');
  masterSocket.close();
  t.true(masterSocket.closed);
  t.notThrows(() => masterSocket.close());
  const err = t.throws(() => masterSocket.createInterface({ role: 'master', id: 5 }), { instanceOf: ClosedError });
  t.is(err?.code, 'ERR_NMEMIF_CLOSED');
  t.true(master.closed);
  t.deepEqual(masterSocket.interfaces, []);
  for (const [name, call] of dataCalls) t.throws(() => call(master), { instanceOf: ClosedError }, name);
  t.false(fs.existsSync(p));
  const [reason] = await down;
  t.is(reason, 'socket closed');
  slaveSocket.close();
  t.true(slave.closed);
  t.throws(() => slave.send(0, new Uint8Array(60)), { instanceOf: ClosedError });
});

test('closing an interface emits its own "disconnect" ("interface deleted") before it is gone; the peer gets the same reason', async (t) => {
  const { master, slave } = await connectedPair(t);
  const own: string[] = [];
  master.on('disconnect', (r) => own.push(r));
  const peer = nextEvent<[string]>(slave, 'disconnect', 3000, 'the slave to get DISCONNECT');
  master.close();
  t.deepEqual(own, ['interface deleted'], 'synchronously, from close()');
  t.is(master.lastDisconnectReason, 'interface deleted');
  t.is((await peer)[0], 'interface deleted');
});

test('closing a socket emits "disconnect" ("socket closed") on each of its connected interfaces', async (t) => {
  const { master, masterSocket, slave } = await connectedPair(t);
  const second = masterSocket.createInterface({ role: 'master', id: 2 });
  const slave2 = slave.socket.createInterface({ role: 'slave', id: 2 });
  await Promise.all([connected(second), connected(slave2)]);
  const own: string[] = [];
  master.on('disconnect', (r) => own.push(`1:${r}`));
  second.on('disconnect', (r) => own.push(`2:${r}`));
  const peers = Promise.all([nextEvent<[string]>(slave, 'disconnect', 3000), nextEvent<[string]>(slave2, 'disconnect', 3000)]);
  masterSocket.close();
  t.deepEqual(own.sort(), ['1:socket closed', '2:socket closed']);
  t.deepEqual((await peers).map(([r]) => r), ['socket closed', 'socket closed']);
});

test('a bad queue number is an InvalidArgumentError (code ERR_NMEMIF_INVALID_ARG) for every data-path call', async (t) => {
  const { slave } = await connectedPair(t, { shared: { rxQueues: 2, txQueues: 2 } });
  const b = new PacketBatch(4);
  const calls: Array<[string, (q: number) => unknown]> = [
    ['rx', (q) => slave.rx(q, b)],
    ['refill', (q) => slave.refill(q, 1)],
    ['alloc', (q) => slave.alloc(q, b)],
    ['send', (q) => slave.send(q, new Uint8Array(60))],
  ];
  // Collected and compared at once, so a failure lists every call that got it wrong.
  const got: string[] = [];
  const want: string[] = [];
  const describe = (f: () => unknown): string => {
    try {
      f();
      return 'no error';
    } catch (err) {
      const e = err as Error & { code?: string };
      return `${e instanceof InvalidArgumentError ? 'InvalidArgumentError' : e.constructor.name} ${e.code ?? '(no code)'}`;
    }
  };
  for (const q of [2, 255, -1, 1.5, 65536, Number.NaN]) {
    for (const [name, call] of calls) {
      got.push(`${name}(${q}): ${describe(() => call(q))}`);
      want.push(`${name}(${q}): InvalidArgumentError ERR_NMEMIF_INVALID_ARG`);
    }
  }
  // Other malformed arguments of send().
  for (const bad of ['x', ['x'], 42]) {
    got.push(`send(${JSON.stringify(bad)}): ${describe(() => slave.send(0, bad as unknown as Uint8Array[]))}`);
    want.push(`send(${JSON.stringify(bad)}): InvalidArgumentError ERR_NMEMIF_INVALID_ARG`);
  }
  t.deepEqual(got, want);
});

test('closing from inside event handlers is safe: a socket in "disconnect", an interface in "rx", a socket in "connect"', async (t) => {
  // socket.close() from its interface's 'disconnect' handler
  const one = await connectedPair(t);
  const closedInDisconnect = nextEvent<[string]>(one.slave, 'disconnect', 3000, 'the slave to see the disconnect');
  one.slave.on('disconnect', () => one.slaveSocket.close());
  one.master.disconnect('bye');
  t.is((await closedInDisconnect)[0], 'bye');
  t.true(one.slaveSocket.closed);
  t.true(one.slave.closed);

  // iface.close() from its own 'rx' handler
  const two = await connectedPair(t);
  const rxSeen = new Promise<void>((resolve) =>
    two.master.once('rx', () => {
      two.master.close();
      resolve();
    }),
  );
  t.is(two.slave.send(0, new Uint8Array(100)), 1);
  await nextEvent(two.slave, 'disconnect', 3000, 'the slave to see the master interface deleted from an rx handler');
  await rxSeen;
  t.true(two.master.closed);

  // socket.close() from a 'connect' handler; the peer sees "socket closed"
  const p = socketPath(t);
  const a = open(t, p);
  const m = a.createInterface({ role: 'master', id: 1 });
  const b = open(t, p);
  const s = b.createInterface({ role: 'slave', id: 1 });
  s.once('connect', () => b.close());
  const [reason] = await nextEvent<[string]>(m, 'disconnect', 3000, 'the master to see the slave socket closed from its connect handler');
  t.is(reason, 'socket closed');
  t.true(b.closed);
  t.false(a.closed);
});
