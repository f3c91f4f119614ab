/**
 * memif across processes (test/fixtures/memif-peer.ts is the other side): byte-exact traffic
 * both ways with either role in the child; a peer killed with SIGKILL (disconnect, reconnect
 * to a new process, no fd leak); a child ended by SIGTERM, SIGINT, process.exit() or an
 * uncaught exception removes its socket file and its peer gets a DISCONNECT saying why; a
 * worker_thread owning one end that closes, exits or is terminated
 * (test/fixtures/memif-worker-end.ts).
 *
 * The tests are serial: each one starts one to three tsx processes, and the machine is small.
 */
import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import { MemifSocket } from '../src/memif/socket';
import type { MemifInterface } from '../src/memif/interface';
import { abstractName, connected, nextEvent, socketPath, waitUntil } from './helpers/memif';
import { Receiver, sendAll } from './helpers/packets';
import { lastJson, runFixture } from './helpers/fixture';
import { Peer, type PeerEvent } from './helpers/peer';

/** Starting a tsx process takes a while on a loaded machine. */
const START_MS = 20_000;
const QUEUES = 2;
const BUFFER_SIZE = 2048;

function peer(t: ExecutionContext, name: string, args: string[]): Peer {
  const p = new Peer('memif-peer.ts', args, name);
  t.teardown(() => p.stop());
  return p;
}

function ourSocket(t: ExecutionContext, path: string): MemifSocket {
  const s = new MemifSocket({ path, reconnectMinMs: 50, reconnectMaxMs: 200 });
  t.teardown(() => s.close());
  return s;
}

function ourInterface(sock: MemifSocket, role: 'master' | 'slave'): MemifInterface {
  return sock.createInterface({ role, id: 1, rxQueues: QUEUES, txQueues: QUEUES, bufferSize: BUFFER_SIZE });
}

/** Sends `perQueue` on every queue of `iface`, alternating copy and in-place tx per queue. */
function sendEveryQueue(iface: MemifInterface, perQueue: number): Promise<unknown> {
  const dir = iface.role === 'master' ? 'm2s' : 's2m';
  return Promise.all(Array.from({ length: QUEUES }, (_, q) => sendAll(iface, q, perQueue, dir, q % 2 === 0 ? 'alloc' : 'copy')));
}

/** Checks what the child reported in its "done" line. */
function childReceivedAll(t: ExecutionContext, done: PeerEvent, perQueue: number, who: string): void {
  t.deepEqual(done.errors, [], `${who}: ${String(done.errorCount)} bad packets`);
  t.deepEqual(done.counts, new Array(QUEUES).fill(perQueue), `${who}: packets per queue`);
}

function weReceivedAll(t: ExecutionContext, rx: Receiver, perQueue: number, who: string): void {
  t.deepEqual(rx.errors, [], `${who}: ${rx.errorCount} bad packets`);
  t.deepEqual(rx.counts, new Array(QUEUES).fill(perQueue), `${who}: packets per queue`);
}

// ---- loopback across two processes ----------------------------------------------------------------

for (const [ours, where] of [
  ['master', 'path'],
  ['slave', 'path'],
  ['master', 'abstract'],
] as const) {
  const theirs = ours === 'master' ? 'slave' : 'master';
  test.serial(`across processes (${where} socket): ${ours} here, ${theirs} in a child: 2 queues both ways, byte-exact, then the child ends by itself`, async (t) => {
    const path = where === 'path' ? socketPath(t) : abstractName('proc');
    const perQueue = 5000;
    let sock: MemifSocket | null = null;
    if (ours === 'master') sock = ourSocket(t, path); // listening before the child starts
    let iface = sock === null ? null : ourInterface(sock, 'master');
    const child = peer(t, `${theirs} child`, ['--role', theirs, '--path', path, '--send', String(perQueue), '--expect', String(perQueue)]);
    await child.next('ready', START_MS);
    if (iface === null) {
      sock = ourSocket(t, path);
      iface = ourInterface(sock, 'slave');
    }
    const me = iface;
    const rx = new Receiver(me, ours === 'master' ? 's2m' : 'm2s', QUEUES, { bufferSize: BUFFER_SIZE });
    await connected(me, 10_000, `our ${ours} to connect to the child`);
    await child.next('connect', 10_000);
    t.is(me.details().peerAppName, 'nmemif');
    await sendEveryQueue(me, perQueue);
    const done = await child.next('done', 15_000);
    await waitUntil(() => rx.total >= perQueue * QUEUES, 15_000, () => `our ${ours} to receive everything: ${JSON.stringify(rx.counts)}`);
    childReceivedAll(t, done, perQueue, `${theirs} child`);
    weReceivedAll(t, rx, perQueue, `our ${ours}`);
    const stats = me.stats();
    t.deepEqual(stats.rx.map((s) => s.packets), new Array(QUEUES).fill(perQueue));
    t.deepEqual(stats.tx.map((s) => s.packets), new Array(QUEUES).fill(perQueue));

    // The child closes its socket: we get its DISCONNECT, and it exits without process.exit().
    const down = nextEvent<[string]>(me, 'disconnect', 5000, `our ${ours} to see the child close`);
    child.command('close');
    const [reason] = await down;
    t.is(reason, 'socket closed');
    const exit = await child.exited(10_000, 'to exit by itself after closing its socket');
    t.deepEqual(exit, { code: 0, signal: null });
  });
}

// ---- a peer killed with SIGKILL -------------------------------------------------------------------

for (const where of ['path', 'abstract'] as const) {
test.serial(`kill -9 of the master process (${where} socket): our slave sees the disconnect and reconnects to a new master process; traffic flows again`, async (t) => {
  const path = where === 'path' ? socketPath(t) : abstractName('kill');
  const perQueue = 1000;
  const args = ['--role', 'master', '--path', path, '--send', String(perQueue), '--expect', String(perQueue)];
  const m1 = peer(t, 'master #1', args);
  await m1.next('ready', START_MS);
  const sock = ourSocket(t, path);
  const slave = ourInterface(sock, 'slave');
  const rx = new Receiver(slave, 'm2s', QUEUES, { bufferSize: BUFFER_SIZE });
  await connected(slave, 10_000);
  await sendEveryQueue(slave, perQueue);
  childReceivedAll(t, await m1.next('done', 15_000), perQueue, 'master #1');
  await waitUntil(() => rx.total >= perQueue * QUEUES, 10_000, () => `packets from master #1: ${JSON.stringify(rx.counts)}`);
  weReceivedAll(t, rx, perQueue, 'our slave (from master #1)');

  const down = nextEvent<[string]>(slave, 'disconnect', 5000, 'our slave to notice that master #1 died');
  m1.kill('SIGKILL');
  t.is((await m1.exited(5000)).signal, 'SIGKILL');
  const [reason] = await down;
  t.log(`disconnect reason after kill -9: "${reason}"`);
  t.true(typeof reason === 'string' && reason.length > 0, 'a reason is given');
  t.false(slave.connected);
  if (where === 'path') t.true(fs.statSync(path).isSocket(), 'a killed master leaves its socket file behind');
  rx.reset();

  // A new master process replaces the stale file and our slave finds it on its own.
  const m2 = peer(t, 'master #2', args);
  await m2.next('ready', START_MS);
  await connected(slave, 10_000, 'our slave to reconnect to master #2');
  await sendEveryQueue(slave, perQueue);
  childReceivedAll(t, await m2.next('done', 15_000), perQueue, 'master #2');
  await waitUntil(() => rx.total >= perQueue * QUEUES, 10_000, () => `packets from master #2: ${JSON.stringify(rx.counts)}`);
  weReceivedAll(t, rx, perQueue, 'our slave (from master #2)');
});
}

test.serial('kill -9 of the slave process: our master sees the disconnect, keeps listening, and a new slave process connects', async (t) => {
  const path = socketPath(t);
  const perQueue = 1000;
  const sock = ourSocket(t, path);
  const master = ourInterface(sock, 'master');
  const rx = new Receiver(master, 's2m', QUEUES, { bufferSize: BUFFER_SIZE });
  const args = ['--role', 'slave', '--path', path, '--send', String(perQueue), '--expect', String(perQueue)];
  const s1 = peer(t, 'slave #1', args);
  await connected(master, START_MS, 'slave #1 to connect');
  await sendEveryQueue(master, perQueue);
  childReceivedAll(t, await s1.next('done', 15_000), perQueue, 'slave #1');
  await waitUntil(() => rx.total >= perQueue * QUEUES, 10_000, () => `packets from slave #1: ${JSON.stringify(rx.counts)}`);
  weReceivedAll(t, rx, perQueue, 'our master (from slave #1)');

  const down = nextEvent<[string]>(master, 'disconnect', 5000, 'our master to notice that slave #1 died');
  s1.kill('SIGKILL');
  const [reason] = await down;
  t.log(`disconnect reason after kill -9: "${reason}"`);
  t.true(reason.length > 0);
  t.true(fs.statSync(path).isSocket(), 'still listening');
  t.is(sock.interfaces.length, 1);
  rx.reset();

  const s2 = peer(t, 'slave #2', args);
  await connected(master, START_MS, 'slave #2 to connect');
  await sendEveryQueue(master, perQueue);
  childReceivedAll(t, await s2.next('done', 15_000), perQueue, 'slave #2');
  await waitUntil(() => rx.total >= perQueue * QUEUES, 10_000, () => `packets from slave #2: ${JSON.stringify(rx.counts)}`);
  weReceivedAll(t, rx, perQueue, 'our master (from slave #2)');
});

for (const counting of ['slave', 'master'] as const) {
  const other = counting === 'slave' ? 'master' : 'slave';
  test.serial(`no fd leak: a ${counting} whose peer process is killed with -9 and replaced, then closed, has exactly the fds it had before`, async (t) => {
    // The counting side runs in a child of its own: ava runs other test files in threads of
    // this process, so this process's fd table is not ours alone to count.
    const path = socketPath(t);
    const perQueue = 300;
    const traffic = ['--send', String(perQueue), '--expect', String(perQueue)];
    const peerArgs = ['--role', other, '--path', path, ...traffic];
    let p1: Peer | null = null;
    if (other === 'master') {
      p1 = peer(t, `${other} #1`, peerArgs);
      await p1.next('ready', START_MS);
    }
    const me = peer(t, `${counting} (counting fds)`, ['--role', counting, '--path', path, '--count-fds', ...traffic]);
    await me.next('ready', START_MS);
    if (p1 === null) p1 = peer(t, `${other} #1`, peerArgs);
    childReceivedAll(t, await me.next('done', START_MS), perQueue, `${counting}, from ${other} #1`);
    childReceivedAll(t, await p1.next('done', 15_000), perQueue, `${other} #1`);

    p1.kill('SIGKILL');
    const d = await me.next('disconnect', 5000);
    t.true(typeof d.reason === 'string' && d.reason.length > 0);

    const p2 = peer(t, `${other} #2`, peerArgs);
    await me.next('connect', START_MS);
    childReceivedAll(t, await me.next('done', 15_000), perQueue, `${counting}, from ${other} #2`);
    childReceivedAll(t, await p2.next('done', 15_000), perQueue, `${other} #2`);

    // While connected the memif resources show up in the fd table (so the check below can see them).
    me.command('fds');
    const during = (await me.next('fds-now', 5000)).now as string[];
    const kinds = (l: string[], k: string) => l.filter((x) => x.includes(k)).length;
    me.command('close');
    const fds = await me.next('fds', 10_000);
    const before = fds.before as string[];
    t.true(kinds(during, 'eventfd') > kinds(before, 'eventfd'), `interrupt eventfds while connected: ${kinds(during, 'eventfd')} vs ${kinds(before, 'eventfd')}`);
    t.true(kinds(during, 'socket') > kinds(before, 'socket'), 'a control socket while connected');
    if (counting === 'slave') t.true(kinds(during, 'memfd') > kinds(before, 'memfd'), 'the region memfd while connected (the slave owns it)');
    t.deepEqual(fds.after, fds.before, 'fds after close (memfds, eventfds, sockets, timerfds) are those from before the socket was created');
    t.deepEqual(await me.exited(10_000, 'to exit by itself after close'), { code: 0, signal: null });
    await p2.next('disconnect', 5000);
  });
}

// ---- a child that ends: signals and process.exit() -------------------------------------------------

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test.serial(`${signal} to a child with a master socket: it ends by that signal, its socket file is removed, our slave gets DISCONNECT "socket closed"`, async (t) => {
    const path = socketPath(t);
    const child = peer(t, 'master child', ['--role', 'master', '--path', path]);
    await child.next('ready', START_MS);
    t.true(fs.statSync(path).isSocket());
    const sock = ourSocket(t, path);
    const slave = ourInterface(sock, 'slave');
    await connected(slave, 10_000);
    const down = nextEvent<[string]>(slave, 'disconnect', 5000, `our slave to get the child's DISCONNECT after ${signal}`);
    child.kill(signal);
    const exit = await child.exited(10_000, `to end after ${signal}`);
    t.deepEqual(exit, { code: null, signal }, `the library re-raises ${signal} after cleanup, so the child ends as it would have`);
    t.false(fs.existsSync(path), 'the socket file is gone');
    const [reason] = await down;
    t.is(reason, 'socket closed');
  });
}

test.serial('SIGTERM to a child that has its own SIGTERM handler: the handler gets it with every socket open; they are closed when it exits', async (t) => {
  const path = socketPath(t);
  const child = peer(t, 'master child', ['--role', 'master', '--path', path, '--own-sigterm']);
  await child.next('ready', START_MS);
  const sock = ourSocket(t, path);
  const slave = ourInterface(sock, 'slave');
  await connected(slave, 10_000);
  const down = nextEvent<[string]>(slave, 'disconnect', 10_000, "our slave to get the child's DISCONNECT at its exit");
  child.kill('SIGTERM');
  const seen = await child.next('sigterm', 5000);
  t.is(seen.closed, false, "the program's own handler runs with the socket still open (the library leaves the signal to it)");
  t.deepEqual(await child.exited(10_000), { code: 0, signal: null }, 'not killed by the signal: its own handler exits 0');
  const [reason] = await down;
  t.is(reason, 'socket closed', 'the socket was closed at exit');
  t.false(fs.existsSync(path), 'the socket file is removed at exit');
});

test.serial('SIGTERM to a child whose socket has handleSignals: false: the library adds no listener, the signal ends it at once (the socket file stays)', async (t) => {
  const path = socketPath(t);
  const child = peer(t, 'master child', ['--role', 'master', '--path', path, '--no-handle-signals']);
  await child.next('ready', START_MS);
  const sock = ourSocket(t, path);
  const slave = ourInterface(sock, 'slave');
  await connected(slave, 10_000);
  const down = nextEvent<[string]>(slave, 'disconnect', 10_000, 'our slave to see the child go');
  child.kill('SIGTERM');
  t.deepEqual(await child.exited(10_000), { code: null, signal: 'SIGTERM' });
  await down;
  t.true(fs.existsSync(path), 'no cleanup ran on the signal: the file is left for the next master to replace');
});

test.serial('process.exit() in a child with a master socket: exit code kept, socket file removed, our slave gets DISCONNECT "socket closed"', async (t) => {
  const path = socketPath(t);
  const child = peer(t, 'master child', ['--role', 'master', '--path', path]);
  await child.next('ready', START_MS);
  const sock = ourSocket(t, path);
  const slave = ourInterface(sock, 'slave');
  await connected(slave, 10_000);
  const down = nextEvent<[string]>(slave, 'disconnect', 5000, "our slave to get the child's DISCONNECT");
  child.command('exit 3');
  t.deepEqual(await child.exited(10_000), { code: 3, signal: null });
  t.false(fs.existsSync(path));
  const [reason] = await down;
  t.is(reason, 'socket closed');
});

test.serial('process.exit() in a slave child right after it received everything: our master gets DISCONNECT "socket closed" and keeps listening', async (t) => {
  const path = socketPath(t);
  const perQueue = 500;
  const sock = ourSocket(t, path);
  const master = ourInterface(sock, 'master');
  const child = peer(t, 'slave child', ['--role', 'slave', '--path', path, '--expect', String(perQueue), '--exit-when-done', '0']);
  await connected(master, START_MS, 'the slave child to connect');
  const down = nextEvent<[string]>(master, 'disconnect', 15_000, "our master to get the child's DISCONNECT");
  await sendEveryQueue(master, perQueue);
  childReceivedAll(t, await child.next('done', 15_000), perQueue, 'slave child');
  t.deepEqual(await child.exited(10_000), { code: 0, signal: null });
  const [reason] = await down;
  t.is(reason, 'socket closed');
  t.true(fs.statSync(path).isSocket(), 'our master still listens');
});

test.serial('an uncaught exception in a child with a master socket: it exits 1, its socket file is removed, our slave gets DISCONNECT "socket closed"', async (t) => {
  const path = socketPath(t);
  const child = peer(t, 'master child', ['--role', 'master', '--path', path]);
  await child.next('ready', START_MS);
  const sock = ourSocket(t, path);
  const slave = ourInterface(sock, 'slave');
  await connected(slave, 10_000);
  const down = nextEvent<[string]>(slave, 'disconnect', 5000, "our slave to get the child's DISCONNECT");
  child.command('throw');
  t.deepEqual(await child.exited(10_000), { code: 1, signal: null });
  t.regex(child.stderr, /uncaught in memif-peer/);
  t.false(fs.existsSync(path));
  const [reason] = await down;
  t.is(reason, 'socket closed');
});

// ---- a worker_thread that owns one end ---------------------------------------------------------------

interface WorkerEndResult {
  reason: string | null;
  stillConnected: boolean;
  fileExists: boolean;
  leaked: string[];
}

for (const role of ['master', 'slave'] as const) {
  for (const how of ['close', 'exit', 'terminate'] as const) {
    const what = { close: 'closes its socket and ends', exit: 'calls process.exit()', terminate: 'is terminated (worker.terminate())' }[how];
    test.serial(`a worker_thread owning a ${role} ${what}: the peer gets a DISCONNECT${role === 'master' ? ', the socket file is removed' : ''}, no fd is left open`, async (t) => {
      // In a child process: the fd table of this process is shared with other test files.
      const path = socketPath(t);
      const r = await runFixture('memif-worker-end.ts', { args: ['--role', role, '--path', path, '--how', how], timeoutMs: 40_000 });
      t.false(r.timedOut, `the fixture finished: ${r.stderr.slice(-800)}`);
      t.is(r.code, 0, r.stderr.slice(-800));
      const res = lastJson<WorkerEndResult>(r);
      t.is(typeof res.reason, 'string', `the main thread's ${role === 'master' ? 'slave' : 'master'} saw the link go down within 3 s (reason ${JSON.stringify(res.reason)})`);
      t.false(res.stillConnected, 'the peer does not keep believing the link is up');
      if (role === 'master') t.false(res.fileExists, "the ended worker's socket file is removed");
      t.deepEqual(res.leaked, [], "no fd of the ended worker's memif socket stays open");
    });
  }
}
