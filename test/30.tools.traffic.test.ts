/**
 * The tools against each other, as child processes through their bin launchers:
 *  - nmemif-sender → nmemif-responder in both role assignments: exact counts, every echo
 *    reply matched (zero-copy swap when the responder is the client, copy when it is the server);
 *  - --pcap: both tools' captures parse as classic pcap, with the right number of frames, and
 *    what the responder saw is byte for byte what the sender sent (and the other way round);
 *  - nmemif-loopback (what `npm start` runs) prints link up, rate, latency and zero loss.
 */
import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers/memif';
import { ToolProcess, hasStackTrace, runTool } from './helpers/tools';

interface SenderJson {
  sent: number;
  replies: number;
  lost: number;
  bad_replies: number;
  duplicates: number;
  pps: number;
  latency_us: { p50: number; p99: number };
}
interface ResponderJson {
  rx: number;
  tx: number;
  arp: number;
  icmp: number;
  dropped: number;
  zero_copy: number;
  copied: number;
}

/** Starts the responder, runs the sender to its end, then stops the responder with SIGTERM. */
async function exchange(
  t: ExecutionContext,
  o: { responderRole: string; senderRole: string; count: number; size: string; queues?: number; pcapDir?: string },
): Promise<{ s: SenderJson; r: ResponderJson; sender: string; responder: string }> {
  const sock = path.join(tempDir(t), 'memif.sock');
  const q = o.queues ? [`queues=${o.queues}`] : [];
  const responder = new ToolProcess(t, 'nmemif-responder', [
    '--memif', [`role=${o.responderRole}`, `socket=${sock}`, 'id=3', 'mac=02:fe:00:00:00:01', ...q].join(','),
    '--ip', '10.1.0.1', '--json', '--link-timeout', '20',
    ...(o.pcapDir ? ['--pcap', path.join(o.pcapDir, 'responder.pcap')] : []),
  ]);
  await responder.waitFor(/waiting for the link/, 10_000);
  const sender = await runTool(t, 'nmemif-sender', [
    '--memif', [`role=${o.senderRole}`, `socket=${sock}`, 'id=3', 'mac=02:fe:00:00:00:02', ...q].join(','),
    '--src-ip', '10.1.0.2', '--dst-ip', '10.1.0.1', '--count', String(o.count), '--size', o.size, '--wait', '5', '--json',
    ...(o.pcapDir ? ['--pcap', path.join(o.pcapDir, 'sender.pcap')] : []),
  ]);
  t.is(sender.code, 0, `sender failed:\n${sender.stderr}\n${sender.stdout}`);
  responder.kill('SIGTERM');
  const rexit = await responder.done;
  t.is(rexit.code, 0, responder.describe());
  t.false(hasStackTrace(sender.stderr + rexit.stderr));
  const s = JSON.parse(sender.stdout.trim().split('\n').pop()!) as SenderJson;
  const r = responder.json<ResponderJson>();
  t.log(`sender: ${s.sent} sent, ${s.replies} replies, ${s.pps} pps, rtt p50 ${s.latency_us.p50} us p99 ${s.latency_us.p99} us; responder: ${JSON.stringify(r)}`);
  return { s, r, sender: sender.stderr, responder: rexit.stderr };
}

function exact(t: ExecutionContext, s: SenderJson, r: ResponderJson, count: number): void {
  t.is(s.sent, count);
  t.is(s.replies, count, 'every echo request answered and matched');
  t.is(s.lost, 0);
  t.is(s.bad_replies, 0);
  t.is(s.duplicates, 0);
  t.is(r.icmp, count);
  t.true(r.arp >= 1, 'the sender resolved the responder by ARP');
  t.is(r.rx, count + r.arp);
  t.is(r.tx, count + r.arp);
  t.is(r.dropped, 0);
}

test('sender (client) → responder (server): exact counts, every reply matched, answers by copy', async (t) => {
  const N = 20_000;
  const { s, r, sender } = await exchange(t, { responderRole: 'server', senderRole: 'client', count: N, size: '60-1500' });
  exact(t, s, r, N);
  t.is(r.copied, r.tx);
  t.regex(sender, /10\.1\.0\.1 is at 02:fe:00:00:00:01/);
});

test('sender (server) → responder (client), 2 queues, 60-9000 bytes: exact counts, answers by zero-copy swap', async (t) => {
  const N = 10_000;
  const { s, r, responder } = await exchange(t, { responderRole: 'slave', senderRole: 'master', count: N, size: '60-9000', queues: 2 });
  exact(t, s, r, N);
  t.true(r.zero_copy > 0, 'single-buffer requests are answered in place');
  t.is(r.zero_copy + r.copied, r.tx);
  t.regex(responder, /link up: .*\(zero-copy swap\)/);
});

// ---- pcap -------------------------------------------------------------------------------------

interface Pcap {
  linktype: number;
  frames: Buffer[];
}

/** An independent reader of classic pcap (little-endian, microseconds, version 2.4). */
function readPcap(file: string): Pcap {
  const f = fs.readFileSync(file);
  if (f.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${file}: bad magic ${f.readUInt32LE(0).toString(16)}`);
  if (f.readUInt16LE(4) !== 2 || f.readUInt16LE(6) !== 4) throw new Error(`${file}: not version 2.4`);
  const snaplen = f.readUInt32LE(16);
  const frames: Buffer[] = [];
  let at = 24;
  let last = 0;
  while (at < f.length) {
    const sec = f.readUInt32LE(at);
    const usec = f.readUInt32LE(at + 4);
    const incl = f.readUInt32LE(at + 8);
    const orig = f.readUInt32LE(at + 12);
    if (usec >= 1_000_000 || incl !== orig || incl > snaplen || at + 16 + incl > f.length) throw new Error(`${file}: bad record at ${at}`);
    const ts = sec * 1e6 + usec;
    if (ts < last || Math.abs(sec - Date.now() / 1000) > 600) throw new Error(`${file}: odd timestamp at ${at}`);
    last = ts;
    frames.push(f.subarray(at + 16, at + 16 + incl));
    at += 16 + incl;
  }
  return { linktype: f.readUInt32LE(20), frames };
}

const isRequest = (f: Buffer) =>
  (f.readUInt16BE(12) === 0x0806 && f.readUInt16BE(20) === 1) || (f.readUInt16BE(12) === 0x0800 && f[23] === 1 && f[14 + (f[14] & 15) * 4] === 8);

test('--pcap: both captures parse, have the right number of frames, and match byte for byte', async (t) => {
  const N = 500;
  const dir = tempDir(t);
  const { s, r } = await exchange(t, { responderRole: 'server', senderRole: 'client', count: N, size: '60-9000', pcapDir: dir });
  exact(t, s, r, N);
  const rp = readPcap(path.join(dir, 'responder.pcap'));
  const sp = readPcap(path.join(dir, 'sender.pcap'));
  t.is(rp.linktype, 1, 'LINKTYPE_ETHERNET');
  t.is(sp.linktype, 1);
  // The responder records each frame it receives and then its answer.
  t.is(rp.frames.length, 2 * r.rx);
  const seenByResponder = rp.frames.filter((_, i) => i % 2 === 0);
  const answers = rp.frames.filter((_, i) => i % 2 === 1);
  t.true(seenByResponder.every(isRequest));
  t.false(answers.some(isRequest));
  t.is(seenByResponder.filter((f) => f.readUInt16BE(12) === 0x0800).length, N);
  // The sender records what it sends and what it receives.
  const sent = sp.frames.filter(isRequest);
  const received = sp.frames.filter((f) => !isRequest(f));
  t.is(sent.length, r.rx);
  t.is(received.length, r.tx);
  t.true(sent.some((f) => f.length > 2048), 'frames larger than one buffer (chains) are captured whole');
  for (let i = 0; i < sent.length; i++) {
    if (!sent[i].equals(seenByResponder[i]) || !received[i].equals(answers[i])) {
      t.fail(`frame ${i} differs between the captures`);
      return;
    }
  }
  t.pass();
});

// ---- loopback (npm start) -----------------------------------------------------------------------

test('nmemif-loopback (npm start): link up, packets/s, round trip, zero loss, exit 0', async (t) => {
  const r = await runTool(t, 'nmemif-loopback', ['--duration', '1']);
  t.is(r.code, 0, r.stderr + r.stdout);
  t.regex(r.stdout, /^link up in [0-9.]+ ms/m);
  t.regex(r.stdout, /sent \d+ frames in [0-9.]+ s: [0-9.]+[kM]? packets\/s/);
  t.regex(r.stdout, /round trip: min [0-9.]+ us, p50 [0-9.]+ us, p90 [0-9.]+ us, p99 [0-9.]+ us/);
  t.regex(r.stdout, /lost 0 \(0\.00%\)/);
  t.regex(r.stdout, /^OK: zero loss$/m);
  t.log(r.stdout);
  const j = await runTool(t, 'nmemif-loopback', ['--count', '5000', '--size', '60-9000', '--queues', '2', '--json']);
  t.is(j.code, 0, j.stderr);
  const o = JSON.parse(j.stdout) as SenderJson & { responder: ResponderJson };
  t.is(o.sent, 5000);
  t.is(o.replies, 5000);
  t.is(o.responder.icmp, 5000);
});

// ---- --rate ---------------------------------------------------------------------------------------

test('--rate: the sender never runs ahead of the schedule, and every frame arrives', async (t) => {
  const sock = path.join(tempDir(t), 'memif.sock');
  const responder = new ToolProcess(t, 'nmemif-responder', ['--memif', `role=server,socket=${sock},id=4`, '--ip', '10.4.0.1', '--json', '--link-timeout', '20']);
  await responder.waitFor(/waiting for the link/, 10_000);
  const N = 3000;
  const RATE = 2000;
  const sender = await runTool(t, 'nmemif-sender', [
    '--memif', `role=client,socket=${sock},id=4`, '--proto', 'udp', '--dst-mac', '02:fe:00:00:00:01', '--rate', String(RATE), '--count', String(N), '--json',
  ]);
  t.is(sender.code, 0, sender.stderr);
  responder.kill('SIGTERM');
  const rexit = await responder.done;
  t.is(rexit.code, 0, responder.describe());
  const s = JSON.parse(sender.stdout.trim().split('\n').pop()!) as { sent: number; duration_s: number; pps: number };
  t.log(`${s.sent} frames in ${s.duration_s} s (${s.pps} pps) at --rate ${RATE}`);
  t.is(s.sent, N);
  // Frame k (from 0) may go at k / RATE s at the earliest: the last one at (N - 1) / RATE.
  t.true(s.duration_s >= (N - 1) / RATE - 0.001, `${N} frames at ${RATE}/s took ${s.duration_s} s`);
  t.is(responder.json<{ rx: number }>().rx, N, 'the responder received every frame');
});
