/**
 * nmemif-sender against a real DPDK peer, `dpdk-testpmd` with a `net_memif` port:
 *  - testpmd --forward-mode=icmpecho (answers ARP and ICMP echo): every echo answered and
 *    matched by the sender, testpmd's counters agree;
 *  - testpmd rxonly, in both role assignments: testpmd counts exactly --count frames.
 *
 * Driven the proven way (test/helpers/testpmd.ts): the server listens first, testpmd forwards
 * only once the sender reports the link up, the sender holds the link (--hold) until testpmd
 * has printed its counters with "stop", and only then does the link go down. Serial (testpmd
 * busy-polls one of the two CPUs); skipped with the reason when dpdk-testpmd is missing.
 */
import test, { type ExecutionContext } from 'ava';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from './helpers/memif';
import { Testpmd, testpmdSkipReason, waitListening, type ForwardMode } from './helpers/testpmd';
import { ToolProcess, hasStackTrace } from './helpers/tools';

if (testpmdSkipReason !== null) console.log(`30.tools.dpdk: skipping every test: ${testpmdSkipReason}`);

function tpTest(title: string, fn: (t: ExecutionContext) => Promise<void>): void {
  if (testpmdSkipReason === null) test.serial(title, fn);
  else test.skip(`${title} [skipped: ${testpmdSkipReason}]`, fn);
}

interface SenderJson {
  sent: number;
  replies: number;
  lost: number;
  bad_replies: number;
  duplicates: number;
  pps: number;
  latency_us: { p50: number; p99: number };
}

/**
 * Runs nmemif-sender against testpmd in `mode`; `senderRole` client means testpmd is the
 * server (started first). Returns the sender's JSON and testpmd's forward statistics.
 */
async function againstTestpmd(t: ExecutionContext, mode: string, senderRole: 'client' | 'server', senderArgs: string[]) {
  const sock = path.join(tempDir(t), 'memif.sock');
  const tpRole = senderRole === 'client' ? 'server' : 'client';
  const memif = `role=${senderRole},socket=${sock},id=0,bsize=2048,rsize=10`;
  const args = ['--memif', memif, '--json', '--hold', '25', '--link-timeout', '60', ...senderArgs];
  let tp: Testpmd;
  let sender: ToolProcess;
  if (tpRole === 'server') {
    tp = await Testpmd.start(t, { role: 'server', socket: sock, forwardMode: mode as ForwardMode, tag: `tools-${mode}`, lifetimeMs: 120_000 });
    await waitListening(sock, 10_000, 'testpmd');
    sender = new ToolProcess(t, 'nmemif-sender', args, 120_000);
  } else {
    sender = new ToolProcess(t, 'nmemif-sender', args, 120_000);
    await waitListening(sock, 10_000, 'nmemif-sender');
    tp = await Testpmd.start(t, { role: 'client', socket: sock, forwardMode: mode as ForwardMode, tag: `tools-${mode}-c`, lifetimeMs: 120_000 });
  }
  await sender.waitFor(/link up/, 15_000);
  tp.forward();
  await sender.waitFor(/^\{.*\}$/m, 30_000, 'stdout');
  // "sent" counts frames put in the ring; up to a ring of them (1024) may still be on their way
  // into testpmd: give its forwarding lcore a moment before "stop" reads the counters.
  await sleep(500);
  const stats = await tp.stop();
  sender.kill('SIGTERM');
  const exit = await sender.done;
  await tp.quit();
  t.false(hasStackTrace(exit.stderr), exit.stderr);
  const s = sender.json<SenderJson>();
  t.log(`sender: ${JSON.stringify(s)}`);
  t.log(`testpmd: ${JSON.stringify(stats)}`);
  return { s, stats, exit };
}

tpTest('sender → testpmd icmpecho (testpmd server): every echo answered, ARP resolved', async (t) => {
  const N = 5000;
  const { s, stats, exit } = await againstTestpmd(t, 'icmpecho', 'client', ['--count', String(N), '--size', '60-1400', '--wait', '10']);
  t.is(exit.code, 0, exit.stderr);
  t.regex(exit.stderr, /192\.168\.1\.1 is at ([0-9a-f]{2}:){5}[0-9a-f]{2}/, 'testpmd answered our ARP request');
  t.is(s.sent, N);
  t.is(s.replies, N);
  t.is(s.lost, 0);
  t.is(s.bad_replies, 0);
  t.is(s.duplicates, 0);
  // testpmd saw our ARP request(s) and every echo request, and answered each.
  t.true(stats.rxPackets >= N + 1 && stats.rxPackets <= N + 3, `testpmd RX-packets ${stats.rxPackets}`);
  t.is(stats.txPackets, stats.rxPackets);
});

for (const role of ['client', 'server'] as const) {
  tpTest(`sender (${role}) → testpmd rxonly: exactly --count frames counted`, async (t) => {
    const N = 100_000;
    const { s, stats, exit } = await againstTestpmd(t, 'rxonly', role, ['--proto', 'udp', '--count', String(N), '--dst-mac', '02:00:00:00:00:01', '--size', '64']);
    t.is(exit.code, 0, exit.stderr);
    t.is(s.sent, N);
    t.is(stats.rxPackets, N, 'testpmd RX-packets');
    t.is(stats.rxDropped, 0);
  });
}
