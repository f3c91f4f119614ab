/**
 * EventPoll API: errors and their codes, wait() timing, the onReady() dispatch path, timer
 * members, virtual-source details, and hosting the memif core's fd-update contract.
 */
import test from 'ava';
import { openSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventPoll, type ReadyEvent } from '../src/nstack/event-poll';
import { sys } from '../src/native';
import { EPOLLERR, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLOUT, formatEvents } from '../src/nstack/constants';
import { FD_OPS } from '../src/abi';
import { ManualSource } from '../src/nstack/virtual-source';
import { until } from './helpers/until';
import {
  AbortError,
  AlreadyRegisteredError,
  ClosedError,
  InvalidArgumentError,
  InvalidStateError,
  NmemifError,
  NotRegisteredError,
} from '../src/errors';

/** Runs fn with a fresh EventPoll and eventfds; closes everything afterwards. */
async function withPoll<T>(nfds: number, fn: (ep: EventPoll<T>, fds: number[]) => Promise<void>): Promise<void> {
  const ep = new EventPoll<T>();
  const fds = Array.from({ length: nfds }, () => sys.eventfd());
  try {
    await fn(ep, fds);
  } finally {
    ep.close();
    for (const fd of fds) sys.close(fd);
  }
}

// ---- errors --------------------------------------------------------------------------------

test('add twice -> AlreadyRegisteredError; mod/del of a non-member -> NotRegisteredError', async (t) => {
  await withPoll<string>(2, async (ep, [a, b]) => {
    const src = new ManualSource();
    ep.add(a, EPOLLIN, 'a');
    ep.add(src, EPOLLIN, 'src');
    for (const target of [a, src]) {
      const err = t.throws(() => ep.add(target, EPOLLIN, 'again'), { instanceOf: AlreadyRegisteredError });
      t.is(err?.code, 'ERR_NMEMIF_ALREADY_REGISTERED');
      t.is(err?.errno, 'EEXIST');
      t.true(err instanceof NmemifError);
    }
    for (const target of [b, new ManualSource()]) {
      t.is(t.throws(() => ep.del(target), { instanceOf: NotRegisteredError })?.code, 'ERR_NMEMIF_NOT_REGISTERED');
      t.is(t.throws(() => ep.mod(target, EPOLLIN), { instanceOf: NotRegisteredError })?.errno, 'ENOENT');
    }
    t.is(ep.size, 2);
    ep.del(a);
    t.throws(() => ep.ctl('del', a), { code: 'ERR_NMEMIF_NOT_REGISTERED' });
    t.false(ep.has(a));
    t.true(ep.has(src));
  });
});

test('bad arguments -> InvalidArgumentError; fds epoll refuses -> the kernel errno', async (t) => {
  await withPoll<string>(1, async (ep, [a]) => {
    t.throws(() => ep.add(a, 0x100, 'x'), { instanceOf: InvalidArgumentError, code: 'ERR_NMEMIF_INVALID_ARG' });
    t.throws(() => ep.add(a, 1.5, 'x'), { instanceOf: InvalidArgumentError });
    t.throws(() => ep.add(-1, EPOLLIN, 'x'), { instanceOf: InvalidArgumentError });
    t.throws(() => ep.add({} as never, EPOLLIN, 'x'), { instanceOf: InvalidArgumentError });
    t.throws(() => ep.ctl('nope' as never, a, EPOLLIN), { instanceOf: InvalidArgumentError });
    await t.throwsAsync(ep.wait(0), { instanceOf: InvalidArgumentError });
    await t.throwsAsync(ep.wait(2000), { instanceOf: InvalidArgumentError });
    await t.throwsAsync(ep.wait(1, -2), { instanceOf: InvalidArgumentError });
    t.throws(() => new EventPoll({ batchSize: 0 }), { instanceOf: InvalidArgumentError });

    t.throws(() => ep.add(999_999, EPOLLIN, 'not open'), { code: 'EBADF' });
    const file = openSync(__filename, 'r');
    try {
      t.throws(() => ep.add(file, EPOLLIN, 'regular file'), { code: 'EPERM' });
    } finally {
      closeSync(file);
    }
    t.is(ep.size, 0);
  });
});

test('after close(): calls throw ClosedError, pending wait() rejects with it', async (t) => {
  const ep = new EventPoll();
  const fd = sys.eventfd();
  ep.add(fd, EPOLLIN, 'a');
  const pending = ep.wait(4, -1);
  ep.close();
  ep.close(); // idempotent
  await t.throwsAsync(pending, { instanceOf: ClosedError, code: 'ERR_NMEMIF_CLOSED' });
  await t.throwsAsync(ep.wait(4, 0), { instanceOf: ClosedError });
  t.throws(() => ep.add(fd, EPOLLIN, 'a'), { instanceOf: ClosedError });
  t.throws(() => ep.onReady(() => {}), { instanceOf: ClosedError });
  t.true(ep.closed);
  t.is(ep.size, 0);
  // close() left the member fd alone: it belongs to the caller.
  t.is(sys.poll(fd, EPOLLOUT), EPOLLOUT);
  sys.close(fd);
});

test('wait({ signal }): an abort rejects the pending wait with AbortError and frees it; an aborted signal rejects at once', async (t) => {
  await withPoll<string>(1, async (ep, [fd]) => {
    ep.add(fd, EPOLLIN, 'a');
    const ac = new AbortController();
    const pending = ep.wait(4, -1, { signal: ac.signal });
    ac.abort('enough');
    const err = await t.throwsAsync(pending, { instanceOf: AbortError });
    t.is(err?.code, 'ABORT_ERR');
    t.is(err?.cause, 'enough');
    await t.throwsAsync(ep.wait(4, -1, { signal: AbortSignal.abort() }), { instanceOf: AbortError });
    await t.throwsAsync(ep.wait(4, -1, { signal: {} as AbortSignal }), { instanceOf: InvalidArgumentError });
    // The aborted wait is gone: onReady() may be set (it refuses while waits are pending), and
    // a wait with a signal that never aborts resolves normally.
    t.notThrows(() => ep.onReady(() => {}));
    ep.onReady(null);
    const next = ep.wait(4, -1, { signal: new AbortController().signal });
    sys.eventfdWrite(fd, 1);
    t.deepEqual((await next).map((e) => e.data), ['a']);
  });
});

test('wait() and onReady() exclude each other', async (t) => {
  await withPoll(1, async (ep, [a]) => {
    ep.add(a, EPOLLIN, 'a');
    const pending = ep.wait(4, 200);
    t.throws(() => ep.onReady(() => {}), { instanceOf: InvalidStateError, code: 'ERR_NMEMIF_INVALID_STATE' });
    t.deepEqual(await pending, []);
    ep.onReady(() => {});
    await t.throwsAsync(ep.wait(4, 0), { instanceOf: InvalidStateError });
    ep.onReady(null);
    t.deepEqual(await ep.wait(4, 0), []);
  });
});

test('an fd closed without del(): del() and mod() clean up, add() of the reused number works', async (t) => {
  await withPoll<string>(0, async (ep) => {
    const old = sys.eventfd();
    ep.add(old, EPOLLIN, 'old');
    sys.close(old);
    t.throws(() => ep.mod(old, EPOLLIN), { instanceOf: NotRegisteredError }); // and forgotten
    t.false(ep.has(old));

    const again = sys.eventfd();
    ep.add(again, EPOLLIN, 'again');
    sys.close(again);
    t.notThrows(() => ep.del(again)); // tolerated, like epoll's implicit removal on close

    // The kernel hands out the lowest free number, so a new fd usually gets the old one back;
    // other test files run in threads of this process and may take it first: retry.
    let reusedOnce = false;
    for (let attempt = 0; attempt < 10 && !reusedOnce; attempt++) {
      const first = sys.eventfd();
      ep.add(first, EPOLLIN, 'first');
      sys.close(first);
      const reused = sys.eventfd();
      if (reused === first) {
        reusedOnce = true;
        ep.add(reused, EPOLLIN, 'reused');
        sys.eventfdWrite(reused, 1);
        t.deepEqual(await ep.wait(4, 0), [{ events: EPOLLIN, data: 'reused' }]);
        ep.del(reused);
      } else {
        ep.del(first);
      }
      sys.close(reused);
    }
    t.true(reusedOnce, 'no fd number was reused in 10 attempts');
  });
});

// ---- wait() --------------------------------------------------------------------------------

test('wait(): resolves when an fd becomes ready later, or with [] at the timeout', async (t) => {
  await withPoll<string>(1, async (ep, [a]) => {
    ep.add(a, EPOLLIN, 'a');
    let start = performance.now();
    t.deepEqual(await ep.wait(4, 60), []);
    const waited = performance.now() - start;
    t.true(waited >= 55 && waited < 30_000, `timed out after ${waited} ms`);

    setTimeout(() => sys.eventfdWrite(a, 3), 20);
    start = performance.now();
    // Woken by the write, not by the (far longer) timeout.
    t.deepEqual(await ep.wait(4, 120_000), [{ events: EPOLLIN, data: 'a' }]);
    t.true(performance.now() - start < 60_000);
    t.is(sys.eventfdRead(a), 3n);
  });
});

test('wait(): a virtual source notified later wakes it; pending waiters are served in order', async (t) => {
  await withPoll<string>(0, async (ep) => {
    const src = new ManualSource();
    ep.add(src, EPOLLIN | EPOLLET, 'src');
    const first = ep.wait(4, 5000);
    const second = ep.wait(4, 5000);
    setTimeout(() => src.raise(EPOLLIN), 10);
    t.deepEqual(await first, [{ events: EPOLLIN, data: 'src' }]);
    setTimeout(() => src.raise(EPOLLIN), 10); // edge-triggered: a new arrival for the second one
    t.deepEqual(await second, [{ events: EPOLLIN, data: 'src' }]);
  });
});

test('virtual sources: ERR and HUP are reported without being asked; stale notifies cost nothing', async (t) => {
  await withPoll<string>(0, async (ep) => {
    const src = new ManualSource();
    ep.add(src, EPOLLOUT, 'src');
    src.raise(EPOLLIN); // not watched: ignored
    t.deepEqual(await ep.wait(4, 0), []);
    src.raise(EPOLLERR);
    t.deepEqual(await ep.wait(4, 0), [{ events: EPOLLERR, data: 'src' }]);
    src.set(EPOLLHUP | EPOLLIN);
    t.deepEqual(await ep.wait(4, 0), [{ events: EPOLLHUP, data: 'src' }]);
    src.set(0);
    src.notify(EPOLLOUT); // says OUT, but poll() disagrees: nothing is reported
    t.deepEqual(await ep.wait(4, 0), []);
  });
});

test('virtual sources are subscribed while members, and released by del() and close()', (t) => {
  const ep = new EventPoll();
  const a = new ManualSource();
  const b = new ManualSource();
  ep.add(a, EPOLLIN, 'a');
  ep.add(b, EPOLLIN, 'b');
  t.is(a.subscriberCount, 1);
  ep.del(a);
  t.is(a.subscriberCount, 0);
  ep.close();
  t.is(b.subscriberCount, 0);
});

// ---- onReady() dispatch ------------------------------------------------------------------------

test('onReady(): level-triggered members are dispatched on every pass until drained', async (t) => {
  await withPoll<string>(1, async (ep, [a]) => {
    const src = new ManualSource();
    ep.add(a, EPOLLIN, 'fd');
    ep.add(src, EPOLLIN, 'virtual');
    const calls = { fd: 0, virtual: 0 };
    ep.onReady((events, data) => {
      t.is(events, EPOLLIN);
      const n = ++calls[data as 'fd' | 'virtual'];
      if (n === 3) {
        if (data === 'fd') sys.eventfdRead(a);
        else src.set(0);
      }
    });
    sys.eventfdWrite(a, 1);
    src.set(EPOLLIN);
    t.true(await until(() => calls.fd >= 3 && calls.virtual >= 3), JSON.stringify(calls));
    await sleep(30); // drained during the third call: nothing more may come
    t.deepEqual(calls, { fd: 3, virtual: 3 });
  });
});

test('onReady(): edge-triggered members are dispatched once per arrival', async (t) => {
  await withPoll<string>(1, async (ep, [a]) => {
    const src = new ManualSource();
    ep.add(a, EPOLLIN | EPOLLET, 'fd');
    ep.add(src, EPOLLIN | EPOLLET, 'virtual');
    const calls = { fd: 0, virtual: 0 };
    ep.onReady((_events, data) => calls[data as 'fd' | 'virtual']++);
    for (let i = 1; i <= 3; i++) {
      sys.eventfdWrite(a, 1); // never drained
      src.raise(EPOLLIN);
      t.true(await until(() => calls.fd >= i && calls.virtual >= i), `arrival ${i}: ${JSON.stringify(calls)}`);
    }
    await sleep(30); // still readable, but no new arrival: nothing more may come
    t.deepEqual(calls, { fd: 3, virtual: 3 });
  });
});

test('onReady(): a member deleted by an earlier call of the same pass is not delivered', async (t) => {
  await withPoll<string>(2, async (ep, fds) => {
    const names = ['a', 'b'];
    fds.forEach((fd, i) => {
      ep.add(fd, EPOLLIN | EPOLLONESHOT, names[i]);
      sys.eventfdWrite(fd, 1);
    });
    const seen: string[] = [];
    ep.onReady((_events, data) => {
      seen.push(data);
      const other = fds[names.indexOf(data) === 0 ? 1 : 0];
      if (ep.has(other)) ep.del(other);
    });
    t.true(await until(() => seen.length >= 1));
    await sleep(30);
    t.is(seen.length, 1, `delivered: ${seen.join(',')}`);
  });
});

test('onReady(): close() from a handler stops the pass', async (t) => {
  const fds = [sys.eventfd(), sys.eventfd(), sys.eventfd()];
  const ep = new EventPoll<number>();
  for (const fd of fds) {
    ep.add(fd, EPOLLIN, fd);
    sys.eventfdWrite(fd, 1);
  }
  let calls = 0;
  ep.onReady(() => {
    calls++;
    ep.close();
  });
  t.true(await until(() => calls >= 1));
  await sleep(30);
  t.is(calls, 1);
  for (const fd of fds) sys.close(fd);
});

test('onReady(): batchSize bounds a pass; the rest comes on the next turn of the loop', async (t) => {
  const fds = Array.from({ length: 5 }, () => sys.eventfd());
  const ep = new EventPoll<number>({ batchSize: 2 });
  const src = Array.from({ length: 3 }, () => new ManualSource(EPOLLIN));
  try {
    fds.forEach((fd, i) => {
      sys.eventfdWrite(fd, 1);
      ep.add(fd, EPOLLIN | EPOLLONESHOT, i);
    });
    src.forEach((s, i) => ep.add(s, EPOLLIN | EPOLLONESHOT, 100 + i));
    const passes: number[][] = [];
    let current: number[] | null = null;
    ep.onReady((_events, data) => {
      if (current === null) {
        current = [];
        passes.push(current);
        queueMicrotask(() => (current = null)); // microtasks run when a pass returns to the loop
      }
      current.push(data);
    });
    t.true(await until(() => passes.flat().length >= 8), JSON.stringify(passes));
    await sleep(20); // one-shot members: nothing more may come
    const all = passes.flat().sort((x, y) => x - y);
    t.deepEqual(all, [0, 1, 2, 3, 4, 100, 101, 102]);
    t.true(passes.every((p) => p.length <= 2), JSON.stringify(passes));
    t.true(passes.length >= 4);
  } finally {
    ep.close();
    for (const fd of fds) sys.close(fd);
  }
});

// ---- timers and the memif core's fd-update contract -------------------------------------------

test('a timerfd member fires on time, once per expiry', async (t) => {
  await withPoll<string>(0, async (ep) => {
    const tfd = sys.timerfd();
    try {
      ep.add(tfd, EPOLLIN, 'timer');
      const start = performance.now();
      sys.timerfdSet(tfd, 30);
      const events = await ep.wait(4, 120_000);
      const elapsed = performance.now() - start;
      t.deepEqual(events, [{ events: EPOLLIN, data: 'timer' }]);
      t.true(elapsed >= 25 && elapsed < 60_000, `${elapsed} ms`);
      t.is(sys.timerfdRead(tfd), 1n);
      t.deepEqual(await ep.wait(4, 0), []);
      ep.del(tfd);
    } finally {
      sys.close(tfd);
    }
  });
});

test('hosts members of the memif core fd-update contract (fd, op, epoll bits, token)', async (t) => {
  await withPoll<{ token: number }>(2, async (ep, [rx, ctl]) => {
    // What MemifSocket does with the binding's fd-update calls (the binding has mapped the C
    // core's readiness bits to epoll's already) ...
    const update = (fd: number, op: number, events: number, token: { token: number }) => {
      if (op === FD_OPS.ADD) ep.add(fd, events, token);
      else if (op === FD_OPS.MOD) ep.mod(fd, events, token);
      else ep.del(fd);
    };
    // ... and what goes back to nmif_fd_ready(token, revents); like the core, it acks the
    // interrupt eventfd (members are level-triggered).
    const ready: Array<[number, number]> = [];
    ep.onReady((events, token) => {
      ready.push([token.token, events]);
      if (token.token === 7) sys.eventfdRead(rx);
    });

    update(rx, FD_OPS.ADD, EPOLLIN, { token: 7 });
    update(ctl, FD_OPS.ADD, EPOLLIN, { token: 9 });
    sys.eventfdWrite(rx, 1);
    t.true(await until(() => ready.length >= 1));
    await sleep(20); // acked in the handler: level-triggered, but no longer ready
    t.deepEqual(ready.splice(0), [[7, EPOLLIN]]);

    update(ctl, FD_OPS.MOD, EPOLLIN | EPOLLOUT, { token: 9 });
    t.true(await until(() => ready.length >= 1));
    const writable = ready.splice(0);
    t.true(writable.length >= 1); // writable, level-triggered: once per pass
    t.true(writable.every(([token, ev]) => token === 9 && ev === EPOLLOUT), JSON.stringify(writable));
    update(ctl, FD_OPS.DEL, 0, { token: 9 });
    ready.length = 0;
    await sleep(30);
    t.deepEqual(ready, []); // after DEL the token is never passed again
  });
});

test('constants: formatEvents', (t) => {
  t.is(formatEvents(EPOLLIN | EPOLLHUP), 'IN|HUP');
  t.is(formatEvents(EPOLLIN | EPOLLET), 'IN|ET');
  t.is(formatEvents(0), '0');
});

test('wait() results are plain { events, data } objects', async (t) => {
  await withPoll<{ id: number }>(1, async (ep, [a]) => {
    const data = { id: 1 };
    ep.add(a, EPOLLOUT, data);
    const events: ReadyEvent<{ id: number }>[] = await ep.wait(1, 0);
    t.is(events.length, 1);
    t.is(events[0].data, data);
    t.is(events[0].events, EPOLLOUT);
  });
});
