/**
 * nSockets as EventPoll members (DMM's epoll over stack sockets): level-triggered, edge-
 * triggered and one-shot on UDP sockets; the stack's epCtl told of every membership (also of
 * one made before the stack was chosen); a DMM-style TCP loop (accept, read, write, RDHUP).
 */
import test from 'ava';
import { once } from 'node:events';
import {
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLRDHUP,
  EventPoll,
  closeStacks,
  connect,
  createDatagramList,
  createServer,
  createSocket,
  registerStack,
  type TcpSocket,
  type UdpSocket,
} from '../src/nstack';
import { bound } from './helpers/bounds';
import { createLoopbackStack } from './helpers/loopback-stack';

test.afterEach.always(() => closeStacks('test done'));

/** A receiver and a sender on the loopback stack (lossless, in memory). */
async function pair(): Promise<{ rx: UdpSocket; tx: UdpSocket; send: (text: string) => void }> {
  registerStack(createLoopbackStack());
  const rx = createSocket({ type: 'udp4', stack: 'loopback' });
  const tx = createSocket({ type: 'udp4', stack: 'loopback' });
  await new Promise<void>((resolve) => rx.bind(7000, '10.0.0.2', resolve));
  await new Promise<void>((resolve) => tx.bind(7001, '10.0.0.1', resolve));
  return { rx, tx, send: (text) => tx.send(text, 7000, '10.0.0.2') };
}

const quietly = (ep: EventPoll<string>) => ep.wait(8, 100); // "nothing reported" checks

test.serial('level-triggered: reported while datagrams wait, again and again, until they are read', async (t) => {
  const { rx, send } = await pair();
  const ep = new EventPoll<string>();
  try {
    ep.add(rx, EPOLLIN, 'rx');
    t.deepEqual(await quietly(ep), []);
    send('a');
    send('b');
    t.deepEqual(await ep.wait(8, bound(5000)), [{ events: EPOLLIN, data: 'rx' }]);
    t.deepEqual(await ep.wait(8, bound(5000)), [{ events: EPOLLIN, data: 'rx' }]); // still ready
    const list = createDatagramList({ count: 8 });
    t.is(rx.recvBatch(list), 2);
    t.deepEqual(await quietly(ep), []);
  } finally {
    ep.close();
  }
});

test.serial('edge-triggered: one report per arrival, none while the data just waits', async (t) => {
  const { rx, send } = await pair();
  const ep = new EventPoll<string>();
  try {
    ep.add(rx, EPOLLIN | EPOLLET, 'rx');
    send('a');
    t.deepEqual(await ep.wait(8, bound(5000)), [{ events: EPOLLIN, data: 'rx' }]);
    t.deepEqual(await quietly(ep), []); // not read, but no new arrival
    send('b');
    t.deepEqual(await ep.wait(8, bound(5000)), [{ events: EPOLLIN, data: 'rx' }]);
    t.is(rx.recvBatch(createDatagramList()), 2);
  } finally {
    ep.close();
  }
});

test.serial('one-shot: one report, then silence until mod() re-arms it', async (t) => {
  const { rx, send } = await pair();
  const ep = new EventPoll<string>();
  try {
    ep.add(rx, EPOLLIN | EPOLLONESHOT, 'rx');
    send('a');
    t.deepEqual(await ep.wait(8, bound(5000)), [{ events: EPOLLIN, data: 'rx' }]);
    send('b');
    t.deepEqual(await quietly(ep), []);
    ep.mod(rx, EPOLLIN | EPOLLONESHOT);
    t.deepEqual(await ep.wait(8, bound(5000)), [{ events: EPOLLIN, data: 'rx' }]);
  } finally {
    ep.close();
  }
});

test.serial('EPOLLOUT: a UDP socket that can send is writable; the onReady() handler form works too', async (t) => {
  const { rx, tx } = await pair();
  const ep = new EventPoll<UdpSocket>();
  try {
    const seen: Array<[number, UdpSocket]> = [];
    ep.add(tx, EPOLLOUT | EPOLLONESHOT, tx);
    ep.add(rx, EPOLLOUT | EPOLLONESHOT, rx);
    const done = new Promise<void>((resolve) => {
      ep.onReady((events, sock) => {
        seen.push([events, sock]);
        if (seen.length === 2) resolve();
      });
    });
    await done;
    t.deepEqual(seen.map(([e]) => e), [EPOLLOUT, EPOLLOUT]);
    t.deepEqual(new Set(seen.map(([, s]) => s)), new Set([tx, rx]));
  } finally {
    ep.close();
  }
});

test.serial("the stack's epCtl hears of every membership, also one made before nRD chose the stack", async (t) => {
  const lo = createLoopbackStack();
  registerStack(lo);
  const ep = new EventPoll<string>();
  const s = createSocket({ type: 'udp4', stack: 'loopback' });
  try {
    ep.add(s, EPOLLIN | EPOLLET, 'early'); // no stack socket yet: remembered
    t.deepEqual(lo.epCtlCalls, []);
    await new Promise<void>((resolve) => s.bind(0, '10.0.0.3', resolve));
    t.deepEqual(lo.epCtlCalls, [['add', (EPOLLIN | EPOLLET) >>> 0]]);
    ep.mod(s, EPOLLIN | EPOLLOUT);
    ep.del(s);
    t.deepEqual(lo.epCtlCalls.slice(1), [['mod', EPOLLIN | EPOLLOUT], ['del', 0]]);
  } finally {
    ep.close();
  }
});

test.serial('a DMM-style epoll loop over TCP: accept, read until empty, echo, close on RDHUP', async (t) => {
  // No 'connection' listener: the loop accepts. Half-open sockets: the loop decides when to end.
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address()!.port;
  const ep = new EventPoll<TcpSocket | 'server'>();
  let accepted = 0;
  let hangups = 0;
  ep.add(server, EPOLLIN, 'server');
  ep.onReady((events, who) => {
    if (who === 'server') {
      for (let c = server.accept(); c !== null; c = server.accept()) {
        accepted++;
        ep.add(c, EPOLLIN | EPOLLRDHUP, c);
      }
      return;
    }
    for (let d = who.read(); d !== null; d = who.read()) who.write(d);
    if (events & EPOLLRDHUP) {
      hangups++;
      ep.del(who);
      who.end();
    }
  });
  try {
    const clients = Array.from({ length: 4 }, (_, i) => {
      const c = connect(port, '127.0.0.1');
      const msg = Buffer.alloc(100_000 + i, i + 1);
      const chunks: Buffer[] = [];
      c.on('data', (d: Buffer) => chunks.push(d));
      c.end(msg);
      return once(c, 'end').then(() => Buffer.concat(chunks).equals(msg));
    });
    t.deepEqual(await Promise.all(clients), [true, true, true, true]);
    t.is(accepted, 4);
    t.is(hangups, 4);
  } finally {
    ep.close();
    server.close();
  }
});

test.serial('a socket closed under the loop (its stack recycled) reports EPOLLHUP so the loop can drop it', async (t) => {
  const { rx } = await pair();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const ep = new EventPoll<string>();
  try {
    ep.add(rx, EPOLLIN, 'udp');
    ep.add(server, EPOLLIN, 'server');
    t.deepEqual(await quietly(ep), []);
    closeStacks('stack went away');
    const got = await ep.wait(8, bound(5000));
    t.deepEqual(got.map((e) => [e.data, e.events]).sort(), [['server', EPOLLHUP], ['udp', EPOLLHUP]]);
  } finally {
    ep.close();
  }
});
