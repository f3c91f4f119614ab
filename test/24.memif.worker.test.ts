/**
 * A queue pair handed to a worker_thread is owned by it alone: the worker receives on it
 * (mapping the shared memory itself), the main thread's bursts on it fail with
 * ERR_NMEMIF_INVALID_STATE while its other queues keep working, the worker follows the link
 * across a reconnect, and after reclaimQueue() the worker's calls fail cleanly.
 */
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import test from 'ava';
import { PacketBatch } from '../src/memif';
import type { MemifInterface } from '../src/memif/interface';
import { connectedPair, waitUntil, within } from './helpers/memif';

interface Report {
  event: string;
  got: number;
  bad: number;
  connects: number;
  disconnects: number;
  lastError: string;
  connected: boolean;
}

function startWorker(handle: unknown): { worker: Worker; next: (event: string) => Promise<Report>; report: () => Promise<Report> } {
  const file = path.join(__dirname, 'fixtures', 'queue-worker.ts');
  const worker = new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true, workerData: { handle } });
  const waiting: Array<{ event: string; resolve: (r: Report) => void }> = [];
  worker.on('message', (msg: Report) => {
    const k = waiting.findIndex((w) => w.event === msg.event);
    if (k >= 0) waiting.splice(k, 1)[0].resolve(msg);
  });
  const next = (event: string): Promise<Report> =>
    within(new Promise<Report>((resolve) => waiting.push({ event, resolve })), 10000, `worker event ${event}`);
  const report = (): Promise<Report> => {
    const p = next('report');
    worker.postMessage({ cmd: 'report' });
    return p;
  };
  return { worker, next, report };
}

/** Sends `count` numbered packets of `size` bytes on `queue`, starting at `first`. */
async function sendNumbered(iface: MemifInterface, queue: number, first: number, count: number, size = 128): Promise<void> {
  let seq = first;
  while (seq < first + count) {
    const burst: Uint8Array[] = [];
    for (let k = 0; k < 64 && seq + k < first + count; k++) {
      const p = new Uint8Array(size).fill((seq + k) & 0xff);
      new DataView(p.buffer).setUint32(0, seq + k, true);
      burst.push(p);
    }
    seq += iface.send(queue, burst);
    await new Promise((r) => setImmediate(r));
  }
}

test('a transferred queue is served by the worker alone; other queues stay on the main thread', async (t) => {
  const { master, slave } = await connectedPair(t, { shared: { rxQueues: 2, txQueues: 2 } });
  const handle = master.transferQueue(1);
  t.deepEqual(master.transferQueue(1), handle, 'transferring again gives the same handle');
  const w = startWorker(handle);
  t.teardown(() => w.worker.terminate());
  await w.next('ready');
  await w.next('connect');

  const err = t.throws(() => master.rx(1, new PacketBatch(8)));
  t.is((err as { code?: string }).code, 'ERR_NMEMIF_INVALID_STATE');
  t.throws(() => master.send(1, new Uint8Array(64)), { code: 'ERR_NMEMIF_INVALID_STATE' });

  // queue 1 to the worker, queue 0 to the main thread, at the same time
  let main0 = 0;
  const batch = new PacketBatch(64);
  master.on('rx', (q) => {
    if (q !== 0) return;
    let n;
    while ((n = master.rx(0, batch)) > 0) {
      main0 += batch.packetCount();
      master.refill(0, batch);
    }
  });
  await Promise.all([sendNumbered(slave, 1, 0, 20000), sendNumbered(slave, 0, 0, 5000)]);
  await waitUntil(() => main0 === 5000, 10000, () => `main thread queue 0: ${main0}/5000`);
  let r: Report = await w.report();
  for (let k = 0; k < 200 && r.got < 20000; k++) {
    await new Promise((res) => setTimeout(res, 10));
    r = await w.report();
  }
  t.is(r.got, 20000);
  t.is(r.bad, 0);
  t.is(main0, 5000);
});

test('the worker follows a reconnect, and reclaimQueue() takes the queue back', async (t) => {
  const { master, slave } = await connectedPair(t, { shared: { rxQueues: 2, txQueues: 2 } });
  const w = startWorker(master.transferQueue(1));
  t.teardown(() => w.worker.terminate());
  await w.next('ready');
  await w.next('connect');
  await sendNumbered(slave, 1, 0, 1000);
  await new Promise((res) => setTimeout(res, 5)); // let some traffic through
  let r = await w.report();
  for (let k = 0; k < 200 && r.got < 1000; k++) r = await w.report();
  t.is(r.got, 1000);

  const down = w.next('disconnect');
  // Listened for before anything else is awaited: the worker is told about the new connection at
  // once (the lease's eventfd), possibly before the report below comes back.
  const up = w.next('connect');
  slave.disconnect('test: bounce the link');
  await down;
  t.false((await w.report()).connected);
  await up; // the slave reconnects by itself; the worker remaps on its own
  w.worker.postMessage({ cmd: 'expect', seq: 5000 });
  await w.report(); // the worker takes messages in order: 'expect' is applied before frames 5000.. are sent
  await within(new Promise<void>((res) => (slave.connected ? res() : slave.once('connect', () => res()))), 30000, 'slave reconnect');
  await sendNumbered(slave, 1, 5000, 1000);
  r = await w.report();
  for (let k = 0; k < 200 && r.got < 2000; k++) r = await w.report();
  t.is(r.got, 2000);
  t.is(r.bad, 0);
  t.is(r.disconnects, 1);
  t.is(r.connects, 2);

  master.reclaimQueue(1);
  await sendNumbered(slave, 1, 9000, 10);
  const after = await w.report();
  t.is(after.got, 2000); // nothing more reaches the worker
  t.is(after.lastError, 'ERR_NMEMIF_NOT_CONNECTED');
  const batch = new PacketBatch(64);
  await waitUntil(() => master.rx(1, batch) > 0, 30000, 'main thread receives on the reclaimed queue');
  t.is(batch.count > 0, true);
});

test('terminating a worker that owns a queue does not disturb the interface', async (t) => {
  const { master, slave } = await connectedPair(t, { shared: { rxQueues: 2, txQueues: 2 } });
  const w = startWorker(master.transferQueue(1));
  await w.next('ready');
  await w.next('connect');
  let done = false;
  const sending = sendNumbered(slave, 1, 0, 5000).then(() => {
    done = true;
  });
  await new Promise((res) => setTimeout(res, 5)); // let some traffic through
  await w.worker.terminate(); // mid-traffic
  master.reclaimQueue(1);
  const batch = new PacketBatch(256);
  let got = 0;
  await waitUntil(
    () => {
      let n;
      while ((n = master.rx(1, batch)) > 0) {
        got += batch.packetCount();
        master.refill(1, batch);
      }
      return done;
    },
    10000,
    () => `the sender to finish once the main thread drains the reclaimed queue (${got} received)`,
  );
  await sending;
  t.true(got > 0);
  t.true(master.connected && slave.connected);
});
