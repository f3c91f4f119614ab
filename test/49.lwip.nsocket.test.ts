/**
 * nstack.createSocket('udp4') over lwIP between two processes (test/fixtures/lwip-nsocket-peer.ts
 * on both ends, registered with the nStack registry): a one-way blast from a fresh stack, whose
 * first datagrams wait for ARP, arrives; the sink's count is what the sender's callbacks
 * reported sent; a datagram lwIP refuses gets its error in the callback; the sink ends on
 * SIGTERM without logging an error.
 */
import test, { type ExecutionContext } from 'ava';
import * as path from 'node:path';
import { tempDir } from './helpers/memif';
import { START_MS, lwipSkipReason } from './helpers/lwip';
import { Peer } from './helpers/peer';

if (lwipSkipReason !== null) test(`lwIP nSocket tests skipped: ${lwipSkipReason}`, (t) => t.pass());
const lwipTest = lwipSkipReason === null ? test.serial : test.serial.skip;

/** How long the sink may take to read what is still on its way, once the sender is done. */
const DRAIN_MS = 30_000;

function peer(t: ExecutionContext, name: string, args: string[]): Peer {
  const p = new Peer('lwip-nsocket-peer.ts', args, name);
  t.teardown(() => p.stop());
  return p;
}

interface BlastResult {
  sent: number;
  ok: number;
  errors: Record<string, number>;
  offLink: string | null;
}

/** The sink's count, asked until it reaches `want` or stops moving for DRAIN_MS. */
async function drained(sink: Peer, want: number): Promise<number> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    sink.command('count');
    const n = (await sink.next('count', START_MS)).received as number;
    if (n >= want) return n;
    if (n !== last) {
      last = n;
      since = performance.now();
    } else if (performance.now() - since > DRAIN_MS) {
      return n;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

lwipTest('UDP one-way blast from a fresh stack (256 sends in flight while ARP resolves): every datagram sent without error arrives', async (t) => {
  const p = path.join(tempDir(t, 'nmemif-lwip-ns-'), 'm.sock');
  const sink = peer(t, 'sink', ['--role', 'master', '--path', p, '--ip', '10.63.0.1/24', 'udp-sink', '--port', '9000']);
  await sink.next('ready', START_MS);
  // Fewer datagrams than the memif ring holds: a slow sink cannot make the link drop any.
  const count = 900;
  const blast = peer(t, 'blast', ['--role', 'slave', '--path', p, '--ip', '10.63.0.2/24', 'udp-blast', '--dst', '10.63.0.1', '--port', '9000', '--count', String(count), '--window', '256', '--size', '64']);
  const r = (await blast.next('blast-result', 120_000)) as unknown as BlastResult;
  t.log(`sender: ${JSON.stringify(r)}`);
  t.is(r.offLink, 'EHOSTUNREACH', 'a datagram lwIP refuses reaches its callback as an error');
  t.is(r.sent, count);
  t.is(r.ok + Object.values(r.errors).reduce((a, b) => a + b, 0), count, 'every send called back once');
  t.true(r.ok > 0, 'some datagrams were sent without error');
  const received = await drained(sink, r.ok);
  t.is(received, r.ok, 'the sink received exactly the datagrams the sender was told were sent');
  const exit = await blast.exited(START_MS, 'to end by itself after closing its stacks');
  t.is(exit.code, 0, blast.stderr.slice(-1000));

  sink.kill('SIGTERM');
  const stopped = await sink.next('stopped', START_MS);
  t.is(stopped.received, received);
  const sinkExit = await sink.exited(START_MS);
  t.is(sinkExit.code, 0);
  t.notRegex(sink.stderr, /ERROR/, 'closing the sink logs no error');
  t.notRegex(blast.stderr, /ERROR/, 'the sender logs no error');
});
