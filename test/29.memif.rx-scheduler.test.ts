/**
 * The rx scheduler alone, against a recording target: adaptive mode masks on an interrupt,
 * polls while packets come, keeps polling after the last one (its window), then unmasks and
 * looks once more; an idle adaptive queue costs no loop turns. (The 'edge' trigger: the level
 * trigger's refire is test 27's.)
 */
import test from 'ava';
import { RxScheduler, type RxTarget } from '../src/memif/rx-scheduler';
import { waitUntil } from './helpers/memif';

function recorder(queues: number) {
  const log: string[] = [];
  const masked = new Array<boolean>(queues).fill(false);
  const rx = new Array<number>(queues).fill(0);
  const target: RxTarget = {
    active: () => true,
    connectedQueues: () => queues,
    lent: () => false,
    pending: () => 0,
    ref: () => true,
    mask: (q, polling) => {
      masked[q] = polling;
      log.push(`${polling ? 'mask' : 'unmask'} ${q}`);
    },
    emitRx: (q) => {
      rx[q]++;
    },
  };
  return { target, log, masked, rx };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

test('adaptive: an interrupt masks the queue and polls it while packets come, then unmasks and looks once more', async (t) => {
  const r = recorder(1);
  const s = new RxScheduler(1, 'adaptive', 'edge', r.target);
  t.teardown(() => s.stop());
  s.applyAll();
  await turn();
  t.false(r.masked[0], 'idle: interrupts on');
  s.interrupt(0);
  t.true(r.masked[0], 'after an interrupt: masked, polled');
  // Packets on every poll: it stays masked, however many turns that takes.
  for (let k = 0; k < 50; k++) {
    s.busy[0] = 1;
    await turn();
    t.true(r.masked[0], `still masked while busy (turn ${k})`);
  }
  const polled = r.rx[0];
  t.true(polled >= 50, 'polled on each turn');
  // Silence: it goes back to interrupts by itself, and looks once after unmasking.
  await waitUntil(() => !r.masked[0], 30000, () => 'the idle adaptive queue to unmask');
  t.deepEqual(r.log.slice(-2), ['mask 0', 'unmask 0']);
  const afterUnmask = r.rx[0];
  for (let k = 0; k < 20; k++) await turn();
  t.is(r.rx[0], afterUnmask, 'unmasked and idle: no more polls');
});

test('adaptive: a packet every other poll keeps the queue masked (no interrupt needed in between)', async (t) => {
  const r = recorder(1);
  const s = new RxScheduler(1, 'adaptive', 'edge', r.target);
  t.teardown(() => s.stop());
  s.applyAll();
  s.interrupt(0);
  // Answers to what was just sent, found by polls: one mask, no unmask.
  for (let k = 0; k < 60; k++) {
    if (k % 2 === 0) s.busy[0] = 1;
    await turn();
  }
  t.true(r.masked[0]);
  t.deepEqual(r.log, ['unmask 0', 'mask 0']);
});
