/**
 * The tools against peers that go away, stop reading or send frames larger than the tools'
 * own: they carry on, end the way they say, and never die with a stack trace.
 *  - nmemif-sender resumes when its peer is killed and another comes (--count counts what was
 *    sent; the link-down time is reported);
 *  - nmemif-sender ends with 'stalled' (exit 1) when the peer stops reading;
 *  - a 9216-byte frame (VPP's Ethernet maximum, chained) reaches the responder and the sender
 *    without killing them, and they keep answering afterwards.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { MemifSocket } from '../src';
import { connected, tempDir } from './helpers/memif';
import { ToolProcess, hasStackTrace, runTool } from './helpers/tools';

const PERF = path.join(__dirname, '..', 'build', 'native', 'libmemif', 'tools', 'nmif-perf');

interface SenderJson {
  sent: number;
  replies: number;
  lost: number;
  link_downs: number;
  link_down_s: number;
  end_reason: string;
}

/** Runs nmif-perf to its end; resolves with its exit code and output. */
function perf(args: string[], limitMs = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(PERF, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const limit = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code, out, err });
    });
  });
}

test('nmemif-sender resumes when its peer is killed and a new one comes, and counts what it sent', async (t) => {
  const sock = path.join(tempDir(t), 'memif.sock');
  const responderArgs = ['--memif', `role=server,socket=${sock},id=1,mac=02:fe:00:00:00:01`, '--ip', '10.7.0.1', '--json'];
  const first = new ToolProcess(t, 'nmemif-responder', responderArgs, 120_000);
  await first.waitFor(/waiting for the link/, 30_000);
  // 4000 requests at 1000/s: the run lasts at least 4 s whatever the machine does.
  const sender = new ToolProcess(t, 'nmemif-sender', [
    '--memif', `role=client,socket=${sock},id=1,mac=02:fe:00:00:00:02`, '--src-ip', '10.7.0.2', '--dst-ip', '10.7.0.1',
    '--dst-mac', '02:fe:00:00:00:01', '--rate', '1000', '--count', '4000', '--wait', '2', '--link-timeout', '60',
    '--max-loss', '4000', '--json',
  ], 120_000);
  await sender.waitFor(/link up:/, 30_000);
  await new Promise((r) => setTimeout(r, 300));
  first.kill('SIGKILL');
  await sender.waitFor(/link down/, 30_000);
  const second = new ToolProcess(t, 'nmemif-responder', responderArgs, 120_000);
  await sender.waitFor(/link up again after/, 60_000);
  const exit = await sender.done;
  second.kill('SIGTERM');
  await second.done;
  t.is(exit.code, 0, sender.describe());
  t.false(hasStackTrace(exit.stderr), sender.describe());
  const r = sender.json<SenderJson>();
  t.log(JSON.stringify(r));
  t.is(r.sent, 4000, 'every frame of --count was sent, across the outage');
  t.is(r.end_reason, 'count');
  t.true(r.link_downs >= 1);
  t.true(r.link_down_s > 0);
  t.true(r.replies > 0 && r.replies <= r.sent);
  t.is(r.lost, r.sent - r.replies);
});

test('nmemif-sender ends with "stalled" when its peer stops reading', async (t) => {
  const p = path.join(tempDir(t), 'memif.sock');
  const sock = new MemifSocket(p);
  t.teardown(() => sock.close());
  // A master that never reads its rx queue: the sender's ring fills and stays full.
  const deaf = sock.createInterface({ role: 'master', id: 2, rxMode: 'polling' });
  const sender = new ToolProcess(t, 'nmemif-sender', [
    '--memif', `role=client,socket=${p},id=2`, '--proto', 'udp', '--dst-mac', '02:fe:00:00:00:09',
    '--count', '100000000', '--stall-timeout', '1', '--json',
  ], 120_000);
  await connected(deaf, 30_000);
  const exit = await sender.done;
  t.is(exit.code, 1, sender.describe());
  t.false(hasStackTrace(exit.stderr), sender.describe());
  t.regex(exit.stderr, /took no frame for 1 s/);
  const r = sender.json<SenderJson>();
  t.is(r.end_reason, 'stalled');
  t.true(r.sent > 0 && r.sent < 100000000);
});

test('9216-byte frames from the peer reach the responder and the sender; both keep answering', async (t) => {
  const dir = tempDir(t);
  const rsock = path.join(dir, 'r.sock');
  const ssock = path.join(dir, 's.sock');
  const responder = new ToolProcess(t, 'nmemif-responder', ['--memif', `role=server,socket=${rsock},id=1`, '--ip', '10.8.0.1', '--json'], 120_000);
  await responder.waitFor(/waiting for the link/, 30_000);
  // nmif-perf sends 200 chained 9216-byte frames (2048-byte buffers) to the responder.
  const toResponder = await perf(['--role', 'slave', '--socket', rsock, '--id', '1', '--mode', 'send', '--size', '9216', '--count', '200', '--timeout', '30']);
  t.is(toResponder.code, 0, toResponder.err);

  // The sender's peer sends it jumbo frames and stays connected until the sender is done.
  const flood = perf(['--role', 'master', '--socket', ssock, '--id', '1', '--mode', 'send', '--size', '9216', '--count', '200', '--timeout', '30', '--hold', '60']);
  const sender = await runTool(t, 'nmemif-sender', [
    '--memif', `role=client,socket=${ssock},id=1`, '--proto', 'udp', '--dst-mac', '02:fe:00:00:00:09', '--rate', '50', '--count', '100', '--json',
  ], 120_000);
  const floodExit = await flood;
  t.is(floodExit.code, 0, floodExit.err);
  t.is(sender.code, 0, `${sender.stderr}\n${sender.stdout}`);
  t.false(hasStackTrace(sender.stderr));
  const got = JSON.parse(sender.stdout.trim().split('\n').pop()!) as { rx_other: number };
  t.is(got.rx_other, 200, 'the sender received (and set aside) every jumbo frame');

  // The responder is still alive and answers a well-behaved sender.
  const ping = await runTool(t, 'nmemif-sender', [
    '--memif', `role=client,socket=${rsock},id=1`, '--src-ip', '10.8.0.2', '--dst-ip', '10.8.0.1', '--count', '100', '--wait', '5', '--json',
  ], 120_000);
  t.is(ping.code, 0, `${ping.stderr}\n${ping.stdout}`);
  responder.kill('SIGTERM');
  const rexit = await responder.done;
  t.is(rexit.code, 0, responder.describe());
  t.false(hasStackTrace(rexit.stderr), responder.describe());
  const counters = responder.json<{ rx: number; icmp: number }>();
  t.true(counters.rx >= 200 + 100, `rx ${counters.rx}: the 200 jumbo frames and the 100 requests`);
  t.is(counters.icmp, 100);
});
