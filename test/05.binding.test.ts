/**
 * The native addon on its own: sys primitives (errors with errno codes), constants, and
 * FdWatch (uv_poll) callbacks, stop/close, ownership of the fd.
 */
import test from 'ava';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { native, sys } from '../src/native';
import { until } from './helpers/until';
import * as C from '../src/nstack/constants';

const { FdWatch } = native;
const POLLNVAL = 0x20;

/** What fd refers to ('socket:[1234]'), or null when closed. Test files run in parallel
 * threads of one process, so a closed number may be reused at once: compare identities. */
function fdTarget(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

test('constants: the TypeScript copies match the C headers', (t) => {
  const c = native.constants;
  t.is(C.EPOLLIN, c.EPOLLIN);
  t.is(C.EPOLLPRI, c.EPOLLPRI);
  t.is(C.EPOLLOUT, c.EPOLLOUT);
  t.is(C.EPOLLERR, c.EPOLLERR);
  t.is(C.EPOLLHUP, c.EPOLLHUP);
  t.is(C.EPOLLRDHUP, c.EPOLLRDHUP);
  t.is(C.EPOLLET, c.EPOLLET);
  t.is(C.EPOLLONESHOT, c.EPOLLONESHOT);
  // poll(2) bits are the same numbers, which lets sys.poll() feed EventPoll's masks.
  t.deepEqual(
    [c.POLLIN, c.POLLPRI, c.POLLOUT, c.POLLERR, c.POLLHUP, c.POLLRDHUP],
    [c.EPOLLIN, c.EPOLLPRI, c.EPOLLOUT, c.EPOLLERR, c.EPOLLHUP, c.EPOLLRDHUP],
  );
  t.is(c.POLLNVAL, POLLNVAL);
  t.is(FdWatch.OWN_FD, c.FDWATCH_OWN_FD);
});

test('sys: failed calls throw Errors with code = errno name, errno and syscall', (t) => {
  const err = t.throws(() => sys.close(999_999)) as Error & { code: string; errno: number; syscall: string };
  t.is(err.code, 'EBADF');
  t.is(err.errno, -9);
  t.is(err.syscall, 'close');
  t.regex(err.message, /^EBADF: .+, close$/);
  t.throws(() => sys.epollCtl(999_999, 'add', 0, C.EPOLLIN), { code: 'EBADF' });
  t.throws(() => sys.eventfdWrite(999_999, 1), { code: 'EBADF' });
  t.throws(() => sys.socketpair('raw' as never), { instanceOf: RangeError });
  t.throws(() => sys.close(-1), { instanceOf: RangeError });
  t.throws(() => sys.close('3' as never), { instanceOf: TypeError });
});

test('sys: eventfd counter, semaphore mode, and the u64 range', (t) => {
  const fd = sys.eventfd(5);
  t.is(sys.eventfdRead(fd), 5n);
  t.is(sys.eventfdRead(fd), 0n); // empty: EAGAIN is 0n
  sys.eventfdWrite(fd, 2n ** 40n);
  sys.eventfdWrite(fd, 1);
  t.is(sys.eventfdRead(fd), 2n ** 40n + 1n);
  t.throws(() => sys.eventfdWrite(fd, 2n ** 64n - 1n), { code: 'EINVAL' }); // the kernel's limit
  t.throws(() => sys.eventfdWrite(fd, -1), { instanceOf: RangeError });
  sys.close(fd);
  const sem = sys.eventfd(3, true);
  t.is(sys.eventfdRead(sem), 1n);
  t.is(sys.eventfdRead(sem), 1n);
  sys.close(sem);
});

test('sys: socketpair read/write return bytes or -errno; shutdown; poll', (t) => {
  for (const type of ['stream', 'seqpacket', 'dgram'] as const) {
    const [a, b] = sys.socketpair(type);
    const buf = new Uint8Array(16);
    t.is(sys.read(a, buf), -native.constants.EAGAIN, `${type}: empty`);
    t.is(sys.poll(a, C.EPOLLIN | C.EPOLLOUT), C.EPOLLOUT);
    t.is(sys.write(b, new Uint8Array([1, 2, 3])), 3);
    t.is(sys.poll(a, C.EPOLLIN), C.EPOLLIN);
    t.is(sys.read(a, buf.subarray(4)), 3);
    t.deepEqual([...buf.subarray(4, 7)], [1, 2, 3]);
    if (type !== 'dgram') {
      sys.shutdown(b, 'wr');
      t.is(sys.poll(a, C.EPOLLIN | C.EPOLLRDHUP), C.EPOLLIN | C.EPOLLRDHUP);
      t.is(sys.read(a, buf), 0, `${type}: end of stream`);
    }
    sys.close(a);
    sys.close(b);
  }
  t.is(sys.write(999_999, new Uint8Array(1)), -9); // -EBADF, no throw
  t.is(sys.read(999_999, new Uint8Array(1)), -9);
  t.is(sys.poll(999_999, C.EPOLLIN), POLLNVAL);
});

test('sys: epoll probe, with data and epollWaitInto', (t) => {
  const ep = sys.epollCreate();
  const [a, b] = [sys.eventfd(), sys.eventfd()];
  sys.epollCtl(ep, 'add', a, C.EPOLLIN);
  sys.epollCtl(ep, 'add', b, C.EPOLLIN | C.EPOLLET, 4242);
  t.throws(() => sys.epollCtl(ep, 'add', a, C.EPOLLIN), { code: 'EEXIST' });
  t.throws(() => sys.epollCtl(ep, 'mod', ep, C.EPOLLIN), { code: 'EINVAL' });
  t.deepEqual(sys.epollWait(ep, 8, 0), []);
  sys.eventfdWrite(a, 1);
  sys.eventfdWrite(b, 1);
  const pairs = sys.epollWait(ep, 8, 0).sort((x, y) => x[0] - y[0]);
  t.deepEqual(pairs, [[a, C.EPOLLIN], [4242, C.EPOLLIN]].sort((x, y) => x[0] - y[0]));
  const out = new Int32Array(8);
  t.is(sys.epollWaitInto(ep, out, 0, 1), 1); // maxEvents 1: a (level-triggered) only
  t.deepEqual([out[0], out[1]], [a, C.EPOLLIN]);
  sys.epollCtl(ep, 'del', a);
  t.is(sys.epollWaitInto(ep, out), 0);
  t.throws(() => sys.epollWaitInto(ep, new Float64Array(2) as never), { instanceOf: TypeError });
  for (const fd of [ep, a, b]) sys.close(fd);
});

test('sys: timerfd expirations', async (t) => {
  const fd = sys.timerfd();
  sys.timerfdSet(fd, 5, 5);
  await sleep(40);
  const n = sys.timerfdRead(fd);
  t.true(n >= 3n, `${n} expirations`);
  sys.timerfdSet(fd, 0); // disarm
  sys.timerfdRead(fd);
  await sleep(15);
  t.is(sys.timerfdRead(fd), 0n);
  sys.close(fd);
});

test('FdWatch: callback with (0, revents) when the fd is ready, until stopped', async (t) => {
  const fd = sys.eventfd();
  const calls: Array<[number, number]> = [];
  const w = new FdWatch(fd, (status, revents) => {
    calls.push([status, revents]);
    sys.eventfdRead(fd);
  });
  t.false(w.active);
  w.start(C.EPOLLIN);
  t.true(w.active);
  t.is(w.fd, fd);
  sys.eventfdWrite(fd, 1);
  t.true(await until(() => calls.length >= 1), 'callback within 5 s');
  await sleep(20); // and only once: the callback drained the eventfd
  t.deepEqual(calls, [[0, C.EPOLLIN]]);
  w.stop();
  t.false(w.active);
  sys.eventfdWrite(fd, 1);
  await sleep(20);
  t.is(calls.length, 1);
  w.start(C.EPOLLIN | C.EPOLLOUT); // level-triggered: readable now, and always writable
  t.true(await until(() => calls.length >= 2), 'second callback within 5 s');
  t.deepEqual(calls[1], [0, C.EPOLLIN | C.EPOLLOUT]);
  w.start(0); // 0 stops too
  t.false(w.active);
  w.close();
  w.close(); // idempotent
  t.true(w.closed);
  t.throws(() => w.start(C.EPOLLIN), { code: 'EBADF' });
  t.is(sys.poll(fd, C.EPOLLOUT), C.EPOLLOUT); // not owned: still open
  sys.close(fd);
});

test('FdWatch: OWN_FD closes the fd with the handle; ref/unref; RDHUP', async (t) => {
  const [a, b] = sys.socketpair();
  const seen: number[] = [];
  const w = new FdWatch(a, (_status, revents) => {
    seen.push(revents);
    w.stop();
  }, FdWatch.OWN_FD);
  t.true(w.hasRef());
  w.unref();
  t.false(w.hasRef());
  w.ref();
  w.start(C.EPOLLRDHUP);
  sys.shutdown(b, 'wr');
  t.true(await until(() => seen.length >= 1), 'RDHUP within 5 s');
  t.deepEqual(seen, [C.EPOLLRDHUP]);
  const identity = fdTarget(a);
  t.regex(identity ?? '', /^socket:/);
  w.close();
  t.not(fdTarget(a), identity); // closed synchronously by close()
  sys.close(b);
});

test('FdWatch: bad arguments and fds libuv refuses', (t) => {
  t.throws(() => new FdWatch(-1, () => {}), { instanceOf: RangeError });
  t.throws(() => new FdWatch(0, 'x' as never), { instanceOf: TypeError });
  t.throws(() => new FdWatch(0, () => {}, 2), { instanceOf: RangeError });
  const file = openSync(__filename, 'r');
  try {
    t.throws(() => new FdWatch(file, () => {}), { code: 'EPERM' }); // regular files cannot be polled
  } finally {
    closeSync(file);
  }
  const fd = sys.eventfd();
  const w = new FdWatch(fd, () => {});
  t.throws(() => w.start(C.EPOLLET), { instanceOf: RangeError });
  w.close();
  sys.close(fd);
});
