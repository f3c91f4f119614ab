/**
 * EventPoll across threads and processes: wake-ups written by worker_threads, fds released on
 * close, on garbage collection and when a busy worker is terminated, exceptions from
 * callbacks, and which states keep the process alive.
 */
import test from 'ava';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventPoll } from '../src/nstack/event-poll';
import { nativeFile, sys } from '../src/native';
import { EPOLLIN } from '../src/nstack/constants';
import { lastJson, runFixture as runFixtureNow, type FixtureOptions, type FixtureResult } from './helpers/fixture';
import { until } from './helpers/until';
import type { FdKinds } from './fixtures/fds';

// At most two child processes at a time: each one starts tsx, and the machine has 2 cores.
let running = 0;
const queue: Array<() => void> = [];
async function runFixture(name: string, options?: FixtureOptions): Promise<FixtureResult> {
  if (running >= 2) await new Promise<void>((resolve) => queue.push(resolve));
  running++;
  try {
    return await runFixtureNow(name, options);
  } finally {
    running--;
    queue.shift()?.();
  }
}

/** A worker that loads the addon directly and writes 1 to `fd`, `times` times, after
 * `delayMs`. Resolves when it has exited. */
function writer(fd: number, times: number, delayMs: number): Promise<unknown> {
  const code = `
    const { workerData: w } = require('node:worker_threads');
    const { sys } = require(w.nativeFile);
    setTimeout(() => { for (let i = 0; i < w.times; i++) sys.eventfdWrite(w.fd, 1); }, w.delayMs);
  `;
  const worker = new Worker(code, { eval: true, workerData: { nativeFile: nativeFile(), fd, times, delayMs } });
  return once(worker, 'exit');
}

test('a worker_thread writing the wake fd interrupts a pending wait() and calls onWake()', async (t) => {
  const ep = new EventPoll();
  try {
    const counts: bigint[] = [];
    ep.onWake((count) => counts.push(count));
    const start = performance.now();
    const exited = writer(ep.wakeFd, 1, 30);
    const events = await ep.wait(8, 120_000);
    const elapsed = performance.now() - start;
    t.deepEqual(events, []);
    t.true(elapsed < 60_000, `woken after ${elapsed} ms, not by the timeout`);
    t.deepEqual(counts, [1n]);
    await exited;
  } finally {
    ep.close();
  }
});

test('wake-ups from a worker coalesce: the counts add up to the number of writes', async (t) => {
  const ep = new EventPoll();
  try {
    let total = 0n;
    ep.onWake((count) => (total += count));
    await writer(ep.wakeFd, 1000, 0);
    t.true(await until(() => total >= 1000n));
    await sleep(10);
    t.is(total, 1000n);
  } finally {
    ep.close();
  }
});

test('a member fd written by a worker_thread is reported to the main thread', async (t) => {
  const ep = new EventPoll<string>();
  const fd = sys.eventfd();
  try {
    ep.add(fd, EPOLLIN, 'from worker');
    const exited = writer(fd, 3, 20);
    t.deepEqual(await ep.wait(8, 5000), [{ events: EPOLLIN, data: 'from worker' }]);
    await exited;
    t.is(sys.eventfdRead(fd), 3n);
  } finally {
    ep.close();
    sys.close(fd);
  }
});

test('post(): tasks run in order on the loop, and interrupt a pending wait()', async (t) => {
  const ep = new EventPoll();
  try {
    const ran: number[] = [];
    const pending = ep.wait(8, 5000);
    ep.post(() => ran.push(1));
    ep.post(() => ran.push(2));
    t.deepEqual(ran, []); // not synchronously
    t.deepEqual(await pending, []);
    t.deepEqual(ran, [1, 2]);
  } finally {
    ep.close();
  }
});

test('terminating workers busy with FdWatch and EventPoll neither crashes nor leaks fds', async (t) => {
  const r = await runFixture('worker-terminate.ts', { args: ['6'], timeoutMs: 60_000 });
  t.is(r.signal, null, r.stderr);
  t.is(r.code, 0, r.stderr);
  const out = lastJson<{ before: FdKinds; after: FdKinds; rounds: number; events: number }>(r);
  t.deepEqual(out.after, out.before);
  t.true(out.events > 0, 'the workers were dispatching events when terminated');
});

test('no fd leak: close() releases everything, and so does garbage collection', async (t) => {
  const r = await runFixture('fd-leak.ts', { nodeArgs: ['--expose-gc'], timeoutMs: 60_000 });
  t.false(r.timedOut, 'the process must exit by itself once everything is closed');
  t.is(r.code, 0, r.stderr);
  type Ours = Omit<FdKinds, 'other'>;
  const out = lastJson<{ before: Ours; afterClose: Ours; abandoned: Ours; afterGc: Ours; gc: boolean }>(r);
  t.true(out.gc);
  t.deepEqual(out.afterClose, out.before);
  t.is(out.abandoned.eventpoll, out.before.eventpoll + 20); // the GC path had work to do
  t.deepEqual(out.afterGc, out.before);
});

test('exceptions from FdWatch callbacks and onReady handlers reach uncaughtException', async (t) => {
  const r = await runFixture('uncaught.ts');
  t.is(r.code, 0, r.stderr);
  t.deepEqual(lastJson(r), {
    caught: ['from FdWatch', 'from handler 0', 'from handler 1', 'from handler 2'],
    handled: [0, 1, 2],
  });
});

for (const [mode, staysAlive] of [
  ['handler', true],
  ['wait', true],
  ['handler-unref', false],
  ['wait-unref', false],
  ['wait-timeout-unref', false],
  ['closed', false],
  ['idle', false],
  ['post', false],
] as const) {
  test(`keep-alive: ${mode} -> ${staysAlive ? 'keeps the process alive' : 'lets it exit'}`, async (t) => {
    // One that must stay alive is still running 2 s after its last statement (it cannot exit
    // later by itself); one that may exit gets a generous bound, so a loaded machine cannot
    // turn a slow exit into "kept alive".
    const r = await runFixture('keep-alive.ts', { args: [mode], timeoutMs: 60_000, killAfter: { marker: 'started', ms: staysAlive ? 2000 : 30_000 } });
    t.true(r.stdout.includes('started'), r.stderr);
    t.is(r.timedOut, staysAlive, `ran for ${Math.round(r.ms)} ms`);
    if (!staysAlive) t.is(r.code, 0, r.stderr);
    if (mode === 'post') t.true(r.stdout.includes('task ran'));
  });
}
