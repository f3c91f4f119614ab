/**
 * The stack registry: the kernel stack by default, registerStack() with a third-party stack
 * (an in-memory loopback stack), the default stack by priority, nRD sending a socket to the
 * plane the rules say (bind, connect and send time), unregister and closeStacks() recycling,
 * one registry per thread.
 */
import test from 'ava';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { AlreadyRegisteredError, ClosedError, InvalidArgumentError, NoStackError } from '../src/errors';
import {
  closeStacks,
  connect,
  createSocket,
  getStack,
  listStacks,
  registerStack,
  route,
  setRules,
  unregisterStack,
  type StackModule,
} from '../src/nstack';
import { createLoopbackStack } from './helpers/loopback-stack';
import { bound } from './helpers/bounds';
import { until } from './helpers/until';

test.afterEach.always(() => closeStacks('test done'));

/** Resolves with the next 'message' of `sock`. */
function nextMessage(sock: ReturnType<typeof createSocket>): Promise<[Buffer, { address: string; port: number }]> {
  return once(sock, 'message') as Promise<[Buffer, { address: string; port: number }]>;
}

test.serial('every thread starts with the kernel stack on plane nstack-linux, the default for both protocols', (t) => {
  t.deepEqual(listStacks().map((s) => [s.name, s.plane]), [['kernel', 'nstack-linux']]);
  const r = route('127.0.0.1', 'udp');
  t.is(r.plane, 'nstack-linux');
  t.is(r.stack, 'kernel');
  t.is(r.rule, null);
  t.regex(r.reason, /highest-priority stack/);
  t.is(route('::1', 'tcp').stack, 'kernel');
});

test.serial('registerStack() checks the module and calls moduleInit() once', (t) => {
  const lo = createLoopbackStack();
  registerStack(lo);
  t.is(lo.initCalls, 1);
  t.is(getStack('loopback'), lo);
  t.throws(() => registerStack(lo), { instanceOf: AlreadyRegisteredError, message: /"loopback" is already registered/ });
  t.throws(() => registerStack(createLoopbackStack({ name: 'other' })), { instanceOf: AlreadyRegisteredError, message: /plane "nstack-test" is already served/ });
  t.is(lo.initCalls, 1);
  const broken = { ...createLoopbackStack({ name: 'broken', plane: 'p2' }), recvBatch: undefined } as unknown as StackModule;
  t.throws(() => registerStack(broken), { instanceOf: InvalidArgumentError, message: /stack "broken": recvBatch\(\) is missing/ });
  t.throws(() => registerStack({ ...createLoopbackStack({ name: 'x', plane: 'p3' }), protocols: ['sctp'] } as unknown as StackModule), { instanceOf: InvalidArgumentError, message: /protocols/ });
  t.throws(() => registerStack({ ...createLoopbackStack({ name: 'y', plane: 'p4' }), priority: -1 }), { instanceOf: InvalidArgumentError, message: /priority/ });
  const failing = { ...createLoopbackStack({ name: 'z', plane: 'p5' }), moduleInit: () => { throw new Error('no hugepages'); } };
  t.throws(() => registerStack(failing), { message: 'no hugepages' });
  t.deepEqual(listStacks().map((s) => s.name), ['kernel', 'loopback']);
});

test.serial('without rules, the highest-priority stack that carries the protocol takes the socket (ties: first registered)', (t) => {
  registerStack(createLoopbackStack({ priority: 0 })); // udp only
  t.is(route('8.8.8.8', 'udp').stack, 'loopback');
  t.is(route('8.8.8.8', 'tcp').stack, 'kernel');
  registerStack(createLoopbackStack({ name: 'second', plane: 'nstack-second', priority: 0 }));
  t.is(route('8.8.8.8', 'udp').stack, 'loopback');
});

test.serial('nRD sends each socket to the plane the rules say, at send time: 10.0.0.0/8 to the loopback stack, the rest to the kernel', async (t) => {
  const lo = createLoopbackStack();
  registerStack(lo);
  setRules({ default: 'nstack-linux', rules: [{ prefix: '10.0.0.0/8', plane: 'nstack-test' }] });

  // The same code for both planes: a receiver bound to an address, a sender sending to it.
  async function roundTrip(address: string): Promise<{ sender: string | null; receiver: string | null; from: string }> {
    const rx = createSocket('udp4');
    const tx = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => rx.bind(0, address, resolve));
      const port = rx.address().port;
      const got = nextMessage(rx);
      tx.send(`to ${address}`, port, address);
      const [msg, rinfo] = await got;
      t.is(msg.toString(), `to ${address}`);
      return { sender: tx.stackName, receiver: rx.stackName, from: rinfo.address };
    } finally {
      rx.close();
      tx.close();
    }
  }
  const memif = await roundTrip('10.0.0.5');
  t.deepEqual([memif.sender, memif.receiver], ['loopback', 'loopback']);
  const kernel = await roundTrip('127.0.0.1');
  t.deepEqual([kernel.sender, kernel.receiver], ['kernel', 'kernel']);
  t.is(kernel.from, '127.0.0.1');

  const s = createSocket('udp4');
  s.send('x', 9, '10.9.9.9');
  await until(() => s.route !== null, bound(5000));
  t.is(s.route?.plane, 'nstack-test');
  t.is(s.route?.rule?.index, 0);
  t.regex(s.route!.reason, /rules\[0\] \(10\.0\.0\.0\/8\)/);
  t.is(route('10.1.1.1', 'udp').stack, 'loopback');
  t.is(route('11.1.1.1', 'udp').stack, 'kernel');
  t.is(route('11.1.1.1', 'udp').reason, 'default plane of the rules');
});

test.serial('the stack is chosen once: a socket bound on one plane sends everything through it', async (t) => {
  const lo = createLoopbackStack();
  registerStack(lo);
  setRules({ rules: [{ prefix: '10.0.0.0/8', plane: 'nstack-test' }] });
  const rx = createSocket('udp4');
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => rx.bind(4000, '10.0.0.2', resolve));
    await new Promise<void>((resolve) => s.bind(0, '10.0.0.1', resolve));
    t.is(s.stackName, 'loopback');
    // 127.0.0.1 would go to the kernel, but the socket already lives on the loopback stack.
    s.send('x', 4000, '127.0.0.1');
    await until(() => lo.unroutable === 1, bound(5000));
    t.is(lo.unroutable, 1);
    const got = nextMessage(rx);
    s.send('y', 4000, '10.0.0.2');
    const [msg, rinfo] = await got;
    t.is(msg.toString(), 'y');
    t.is(rinfo.address, '10.0.0.1');
  } finally {
    rx.close();
    s.close();
  }
});

test.serial('a stack can be pinned per socket; a plane or stack that cannot carry the socket is a NoStackError', async (t) => {
  registerStack(createLoopbackStack());
  const pinned = createSocket({ type: 'udp4', stack: 'loopback' });
  await new Promise<void>((resolve) => pinned.bind(0, '127.0.0.1', resolve));
  t.is(pinned.stackName, 'loopback');
  pinned.close();

  setRules({ rules: [{ prefix: '10.0.0.0/8', plane: 'nstack-nowhere' }] });
  const r = route('10.0.0.1', 'udp');
  t.is(r.plane, 'nstack-nowhere');
  t.is(r.stack, null);
  const s = createSocket('udp4');
  const [err] = (await once(s.bind(0, '10.0.0.1'), 'error')) as [NoStackError];
  t.true(err instanceof NoStackError);
  t.is(err.code, 'ERR_NMEMIF_NO_STACK');
  t.regex(err.message, /plane "nstack-nowhere".*no registered stack serves it with udp/);
  s.close();

  // The loopback stack does not carry TCP.
  const tcp = connect({ port: 80, host: '127.0.0.1', stack: 'loopback' });
  const [terr] = (await once(tcp, 'error')) as [NoStackError];
  t.true(terr instanceof NoStackError);
  t.regex(terr.message, /does not carry tcp/);
  const missing = createSocket({ type: 'udp4', stack: 'nope' });
  const [merr] = (await once(missing.bind(0), 'error')) as [NoStackError];
  t.regex(merr.message, /no stack named "nope".*registered: kernel \(nstack-linux\), loopback \(nstack-test\)/);
  missing.close();
});

test.serial('unregisterStack() closes the sockets it carries, then recycles it; the kernel sockets stay', async (t) => {
  const lo = createLoopbackStack({ priority: 5 }); // below the kernel: unpinned sockets stay there
  registerStack(lo);
  const a = createSocket({ type: 'udp4', stack: 'loopback' });
  const k = createSocket('udp4');
  await new Promise<void>((resolve) => a.bind(0, '10.0.0.1', resolve));
  await new Promise<void>((resolve) => k.bind(0, '127.0.0.1', resolve));
  t.is(lo.openSockets, 1);
  const closed = once(a, 'close');
  unregisterStack('loopback', 'operator said so');
  await closed;
  t.true(a.closed);
  t.false(k.closed);
  t.is(lo.recycled, 'operator said so');
  t.is(lo.openSockets, 0);
  t.is(getStack('loopback'), undefined);
  t.throws(() => a.send('x', 1, '10.0.0.2'), { instanceOf: ClosedError });
  k.close();
});

test.serial('closeStacks() closes every socket of the thread and recycles every stack; the next use starts afresh', async (t) => {
  const lo = createLoopbackStack({ priority: 5 });
  registerStack(lo);
  const kernelStack = getStack('kernel') as StackModule & { openSockets: number };
  const u = createSocket({ type: 'udp4', stack: 'loopback' });
  const k = createSocket('udp4');
  await new Promise<void>((resolve) => u.bind(0, '10.0.0.1', resolve));
  await new Promise<void>((resolve) => k.bind(0, '127.0.0.1', resolve));
  t.is(kernelStack.openSockets, 1);
  const closes = Promise.all([once(u, 'close'), once(k, 'close')]);
  closeStacks('shutting down');
  await closes;
  t.is(lo.recycled, 'shutting down');
  t.is(kernelStack.openSockets, 0);
  t.deepEqual(listStacks().map((s) => s.name), ['kernel']);
  t.not(getStack('kernel'), kernelStack);
});

test('each thread has its own registry: a worker does not see the stacks of the main thread', async (t) => {
  registerStack(createLoopbackStack({ name: 'main-only', plane: 'nstack-main' }));
  const file = path.join(__dirname, '..', 'src', 'nstack');
  const code = `
    require('tsx/cjs');
    const { parentPort } = require('node:worker_threads');
    const ns = require(${JSON.stringify(file)});
    parentPort.postMessage(ns.listStacks().map((s) => s.name));
  `;
  const worker = new Worker(code, { eval: true });
  const [names] = (await once(worker, 'message')) as [string[]];
  await once(worker, 'exit');
  t.deepEqual(names, ['kernel']);
  t.true(listStacks().some((s) => s.name === 'main-only'));
});
