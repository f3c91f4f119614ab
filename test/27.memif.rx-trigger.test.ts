/**
 * 'rx' is level-triggered by default: the README's pattern (one rx() per 'rx' event, a batch
 * smaller than what waits) loses nothing in any rx mode, because 'rx' fires again while the
 * queue still holds packets. With rxTrigger 'edge' it fires on the peer's interrupts only, and a
 * listener that drains the queue itself loses nothing either. The sender waits for 'drain'
 * when the ring is full (no polling of its own).
 */
import test, { type ExecutionContext } from 'ava';
import { once } from 'node:events';
import { PacketBatch } from '../src/memif/batch';
import type { MemifInterface } from '../src/memif/interface';
import type { RxMode, RxTrigger } from '../src/memif/options';
import { connectedPair, within, waitUntil } from './helpers/memif';

const FRAMES = 10_000;
const FRAME_BYTES = 64;

function frame(seq: number): Uint8Array {
  const f = new Uint8Array(FRAME_BYTES);
  new DataView(f.buffer).setUint32(0, seq, true);
  f[FRAME_BYTES - 1] = seq & 0xff;
  return f;
}

/** Sends `count` numbered frames on queue 0, waiting for 'drain' whenever the ring is full. */
async function sendFrames(iface: MemifInterface, count: number): Promise<{ waits: number }> {
  const q = iface.queue(0);
  let waits = 0;
  for (let seq = 0; seq < count; ) {
    const frames = Array.from({ length: Math.min(32, count - seq) }, (_, k) => frame(seq + k));
    const n = q.send(frames);
    seq += n;
    if (n < frames.length) {
      waits++;
      await within(once(q, 'drain'), 30_000, `'drain' after ${seq} frames`);
    }
  }
  return { waits };
}

/** The README's receive pattern on `iface`: one rx() per 'rx' event (or rx() until empty when
 * `drain`), every frame checked for its sequence number. */
function receive(iface: MemifInterface, batchSize: number, drain: boolean) {
  const batch = new PacketBatch(batchSize);
  const got = { frames: 0, wrong: 0, events: 0 };
  iface.on('rx', (q) => {
    got.events++;
    for (let n = iface.rx(q, batch); n > 0; n = drain ? iface.rx(q, batch) : 0) {
      for (let i = 0; i < n; i++) {
        const v = batch.view(i);
        const seq = new DataView(v.buffer, v.byteOffset, v.byteLength).getUint32(0, true);
        if (seq !== got.frames || v.byteLength !== FRAME_BYTES || v[FRAME_BYTES - 1] !== (seq & 0xff)) got.wrong++;
        got.frames++;
      }
      iface.refill(q, n);
    }
  });
  return got;
}

async function run(t: ExecutionContext, rxMode: RxMode, rxTrigger: RxTrigger | undefined, drain: boolean): Promise<void> {
  const master = rxTrigger === undefined ? { rxMode } : { rxMode, rxTrigger };
  const pair = await connectedPair(t, { master });
  t.is(pair.master.options.rxTrigger, rxTrigger ?? 'level');
  const got = receive(pair.master, 64, drain);
  const { waits } = await sendFrames(pair.slave, FRAMES);
  await waitUntil(() => got.frames >= FRAMES, 30_000, () => `${FRAMES} frames (got ${got.frames} in ${got.events} events)`);
  t.is(got.frames, FRAMES);
  t.is(got.wrong, 0, 'every frame in order and intact');
  t.is(pair.master.details().rings.find((r) => r.direction === 'rx')!.head, pair.master.details().rings.find((r) => r.direction === 'rx')!.tail, 'nothing left in the ring');
  t.log(`${got.events} 'rx' events, the sender waited for 'drain' ${waits} times`);
}

for (const mode of ['interrupt', 'polling', 'adaptive'] as const) {
  test(`${mode} mode, default trigger: one rx() per 'rx' event with a 64-buffer batch receives all ${FRAMES} frames`, (t) => run(t, mode, undefined, false));
}

test(`interrupt mode, rxTrigger 'edge': a listener that drains the queue receives all ${FRAMES} frames`, (t) => run(t, 'interrupt', 'edge', true));

test(`adaptive mode, rxTrigger 'edge': a listener that drains the queue receives all ${FRAMES} frames`, (t) => run(t, 'adaptive', 'edge', true));

/** Lets the event loop turn `n` times (each turn runs the immediates queued before it). */
async function turns(n: number): Promise<void> {
  for (let k = 0; k < n; k++) await new Promise<void>((resolve) => setImmediate(resolve));
}

for (const trigger of ['level', 'edge'] as const) {
  test(`one burst of 200 frames, 8 taken per event: '${trigger}' ${trigger === 'level' ? 'fires again until all are taken' : 'fires once (the listener must drain)'}`, async (t) => {
    const pair = await connectedPair(t, { master: { rxMode: 'interrupt', rxTrigger: trigger } });
    await turns(5); // the look each side takes right after link-up is over
    const got = receive(pair.master, 8, false);
    t.is(pair.slave.send(0, Array.from({ length: 200 }, (_, k) => frame(k))), 200);
    await waitUntil(() => got.events > 0, 30_000, 'the first rx event');
    if (trigger === 'level') {
      await waitUntil(() => got.frames === 200, 30_000, () => `200 frames (got ${got.frames})`);
      t.true(got.events >= 25, `one event per batch of 8 (${got.events})`);
      const events = got.events;
      await turns(10);
      t.is(got.events, events, 'no more once the queue is empty');
    } else {
      // The peer sent nothing more, so no interrupt: ten turns of the loop bring no event.
      await turns(10);
      t.is(got.events, 1);
      t.is(got.frames, 8);
      t.is(pair.master.rx(0, new PacketBatch(256)), 192, 'the rest waited in the ring');
    }
    t.is(got.wrong, 0);
  });
}
