/**
 * EventPoll semantics, checked against the kernel's own epoll: every scenario runs the same
 * operations on a kernel epoll instance, an EventPoll over the real fds and an EventPoll over
 * virtual sources mirroring them (see helpers/epoll-compare.ts), and asserts that all three
 * report exactly the expected events at each step.
 */
import test, { type ExecutionContext } from 'ava';
import { Trio, sorted, type Seen } from './helpers/epoll-compare';
import {
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLRDHUP,
} from '../src/nstack/constants';

async function step(t: ExecutionContext, trio: Trio, label: string, expected: Seen): Promise<void> {
  const seen = await trio.check();
  t.deepEqual(sorted(seen.kernel), expected, `${label}: kernel epoll`);
  t.deepEqual(sorted(seen.real), expected, `${label}: EventPoll, real fds`);
  t.deepEqual(sorted(seen.virtual), expected, `${label}: EventPoll, virtual sources`);
}

function withTrio(fn: (t: ExecutionContext, trio: Trio) => Promise<void>) {
  return async (t: ExecutionContext) => {
    const trio = new Trio();
    try {
      await fn(t, trio);
    } finally {
      trio.close();
    }
  };
}

test(
  'level-triggered: reported while ready, again and again, until drained',
  withTrio(async (t, trio) => {
    trio.eventfd('a');
    trio.ctl('add', 'a', EPOLLIN);
    await step(t, trio, 'idle', []);
    trio.write('a');
    await step(t, trio, 'written', [['a', 'IN']]);
    await step(t, trio, 'still ready', [['a', 'IN']]);
    trio.drain('a');
    await step(t, trio, 'drained', []);
    trio.write('a');
    await step(t, trio, 'written again', [['a', 'IN']]);
  }),
);

test(
  'level-triggered: an fd already ready when added is reported at once',
  withTrio(async (t, trio) => {
    trio.eventfd('a');
    trio.eventfd('w');
    trio.write('a');
    trio.ctl('add', 'a', EPOLLIN);
    trio.ctl('add', 'w', EPOLLOUT); // an eventfd is writable
    await step(t, trio, 'added', [
      ['a', 'IN'],
      ['w', 'OUT'],
    ]);
  }),
);

test(
  'edge-triggered: once per arrival, also when the previous one was not consumed',
  withTrio(async (t, trio) => {
    trio.eventfd('a');
    trio.ctl('add', 'a', EPOLLIN | EPOLLET);
    trio.write('a');
    await step(t, trio, 'first arrival', [['a', 'IN']]);
    await step(t, trio, 'no new arrival', []);
    trio.write('a'); // not drained: the kernel still reports the new arrival
    await step(t, trio, 'second arrival', [['a', 'IN']]);
    await step(t, trio, 'nothing new', []);
    trio.drain('a');
    await step(t, trio, 'drained', []);
    trio.write('a');
    await step(t, trio, 'third arrival', [['a', 'IN']]);
  }),
);

test(
  'edge-triggered on OUT: a wake-up for IN does not count, reading the eventfd does',
  withTrio(async (t, trio) => {
    trio.eventfd('b');
    trio.ctl('add', 'b', EPOLLOUT | EPOLLET);
    await step(t, trio, 'writable when added', [['b', 'OUT']]);
    await step(t, trio, 'no new edge', []);
    trio.write('b'); // wakes waiters with EPOLLIN only
    await step(t, trio, 'IN wake-up ignored', []);
    trio.drain('b'); // wakes waiters with EPOLLOUT
    await step(t, trio, 'OUT wake-up', [['b', 'OUT']]);
  }),
);

test(
  'one-shot: one event, then disabled until mod() re-arms it',
  withTrio(async (t, trio) => {
    trio.eventfd('a');
    trio.ctl('add', 'a', EPOLLIN | EPOLLONESHOT);
    trio.write('a');
    await step(t, trio, 'fires', [['a', 'IN']]);
    await step(t, trio, 'disabled', []);
    trio.write('a');
    await step(t, trio, 'disabled, new arrival ignored', []);
    trio.ctl('mod', 'a', EPOLLIN | EPOLLONESHOT);
    await step(t, trio, 're-armed while ready', [['a', 'IN']]);
    await step(t, trio, 'disabled again', []);
    trio.drain('a');
    trio.ctl('mod', 'a', EPOLLIN | EPOLLONESHOT);
    await step(t, trio, 're-armed, not ready', []);
    trio.write('a');
    await step(t, trio, 'fires again', [['a', 'IN']]);
  }),
);

test(
  'one-shot with edge-triggered: same rules',
  withTrio(async (t, trio) => {
    trio.eventfd('a');
    trio.ctl('add', 'a', EPOLLIN | EPOLLET | EPOLLONESHOT);
    trio.write('a');
    await step(t, trio, 'fires', [['a', 'IN']]);
    trio.write('a');
    await step(t, trio, 'disabled', []);
    trio.ctl('mod', 'a', EPOLLIN | EPOLLET | EPOLLONESHOT);
    await step(t, trio, 're-armed while ready', [['a', 'IN']]);
  }),
);

test(
  'mod() changes the interest and re-checks readiness',
  withTrio(async (t, trio) => {
    trio.eventfd('a');
    trio.ctl('add', 'a', EPOLLIN);
    trio.write('a');
    await step(t, trio, 'IN', [['a', 'IN']]);
    trio.ctl('mod', 'a', EPOLLOUT);
    await step(t, trio, 'OUT only', [['a', 'OUT']]);
    trio.ctl('mod', 'a', EPOLLIN | EPOLLOUT);
    await step(t, trio, 'both', [['a', 'IN|OUT']]);
    trio.drain('a');
    await step(t, trio, 'drained', [['a', 'OUT']]);
    trio.ctl('mod', 'a', EPOLLIN);
    await step(t, trio, 'IN, not ready', []);
    trio.ctl('mod', 'a', EPOLLIN | EPOLLET);
    trio.write('a');
    await step(t, trio, 'now edge-triggered', [['a', 'IN']]);
    await step(t, trio, 'edge consumed', []);
  }),
);

test(
  'del() removes a member at once, even a ready one; it can be added again',
  withTrio(async (t, trio) => {
    trio.eventfd('a');
    trio.eventfd('b');
    trio.ctl('add', 'a', EPOLLIN);
    trio.ctl('add', 'b', EPOLLIN);
    trio.write('a');
    trio.write('b');
    trio.ctl('del', 'a');
    await step(t, trio, 'a deleted while ready', [['b', 'IN']]);
    trio.ctl('add', 'a', EPOLLIN);
    await step(t, trio, 'a back', [
      ['a', 'IN'],
      ['b', 'IN'],
    ]);
    trio.ctl('del', 'a');
    trio.ctl('del', 'b');
    await step(t, trio, 'all deleted', []);
  }),
);

test(
  'hang-ups: peer shutdown (RDHUP) and close (HUP) are reported, HUP without being asked',
  withTrio(async (t, trio) => {
    trio.socketpair('s');
    trio.socketpair('r');
    trio.socketpair('w');
    trio.ctl('add', 's', EPOLLIN);
    trio.ctl('add', 'r', EPOLLIN | EPOLLRDHUP);
    trio.ctl('add', 'w', 0); // nothing asked: only ERR/HUP can come
    trio.write('s', 10);
    await step(t, trio, 'data', [['s', 'IN']]);
    trio.drain('s');
    await step(t, trio, 'drained', []);
    trio.shutdownPeer('r', 'wr');
    await step(t, trio, 'peer shut down its writing side', [['r', 'IN|RDHUP']]);
    trio.closePeer('s');
    trio.closePeer('w');
    await step(t, trio, 'peers closed', [
      ['r', 'IN|RDHUP'],
      ['s', 'IN|HUP'],
      ['w', 'HUP'],
    ]);
  }),
);

test(
  'hang-ups on SOCK_SEQPACKET with edge-triggered interest',
  withTrio(async (t, trio) => {
    trio.socketpair('q', 'seqpacket');
    trio.ctl('add', 'q', EPOLLIN | EPOLLRDHUP | EPOLLET);
    trio.write('q', 3);
    await step(t, trio, 'message', [['q', 'IN']]);
    await step(t, trio, 'edge consumed', []);
    trio.closePeer('q');
    await step(t, trio, 'peer closed', [['q', 'IN|HUP|RDHUP']]);
    await step(t, trio, 'edge consumed', []);
  }),
);

test(
  'maxEvents: level-triggered members take turns (round robin), in the kernel order',
  withTrio(async (t, trio) => {
    for (const name of ['a', 'b', 'c']) {
      trio.eventfd(name);
      trio.write(name);
      trio.ctl('add', name, EPOLLIN);
    }
    const expected = [
      ['a', 'b'],
      ['c', 'a'],
      ['b', 'c'],
      ['a', 'b'],
    ];
    for (const [i, names] of expected.entries()) {
      const seen = await trio.check(2);
      const order = (s: Seen) => s.map(([name]) => name);
      t.deepEqual(order(seen.kernel), names, `round ${i}: kernel epoll`);
      t.deepEqual(order(seen.real), names, `round ${i}: EventPoll, real fds`);
      t.deepEqual(order(seen.virtual), names, `round ${i}: EventPoll, virtual sources`);
    }
  }),
);

test(
  'many members, mixed modes, one random sequence: all three agree at every step',
  withTrio(async (t, trio) => {
    // Deterministic pseudo-random sequence (LCG) over 6 eventfds with mixed flags.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return (seed >>> 16) % n;
    };
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const modes = [EPOLLIN, EPOLLIN | EPOLLET, EPOLLIN | EPOLLONESHOT, EPOLLIN | EPOLLOUT, EPOLLOUT | EPOLLET, EPOLLIN];
    const added = new Set<string>();
    let checks = 0;
    let events = 0;
    for (const name of names) trio.eventfd(name);
    for (let i = 0; i < 300; i++) {
      const name = names[rand(names.length)];
      switch (rand(6)) {
        case 0:
          if (added.has(name)) trio.ctl('del', name);
          else trio.ctl('add', name, modes[rand(modes.length)]);
          if (added.has(name)) added.delete(name);
          else added.add(name);
          break;
        case 1:
          if (added.has(name)) trio.ctl('mod', name, modes[rand(modes.length)]);
          break;
        case 2:
        case 3:
          trio.write(name);
          break;
        case 4:
          trio.drain(name);
          break;
        default: {
          const seen = await trio.check();
          checks++;
          events += seen.kernel.length;
          t.deepEqual(sorted(seen.real), sorted(seen.kernel), `step ${i}: real fds vs kernel`);
          t.deepEqual(sorted(seen.virtual), sorted(seen.kernel), `step ${i}: virtual vs kernel`);
        }
      }
    }
    // The sequence must have exercised something: many checks, many of them non-empty.
    t.true(checks > 20, `${checks} checks`);
    t.true(events > 20, `${events} events seen`);
  }),
);
