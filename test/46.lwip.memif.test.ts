/**
 * lwIP <-> lwIP over memif, one stack per process (test/fixtures/lwip-peer.ts on both ends):
 * UDP echo of 100,000 datagrams of 60..1472 bytes with a bounded window, every reply byte for
 * byte (IPv4, and IPv6 over a unique-local /64); TCP 256 MiB each way with SHA-256 compared;
 * 64 concurrent TCP connections; ARP and ICMP echo answered to nmemif-sender.
 */
import test, { type ExecutionContext } from 'ava';
import * as path from 'node:path';
import { tempDir } from './helpers/memif';
import { START_MS, closePeer, lwipPeer, lwipSkipReason, sameStreams, type Flow } from './helpers/lwip';
import { runTool } from './helpers/tools';

if (lwipSkipReason !== null) test(`lwIP tests skipped: ${lwipSkipReason}`, (t) => t.pass());
const lwipTest = lwipSkipReason === null ? test.serial : test.serial.skip;

const SERVER = ['--role', 'master', '--ip', '10.61.0.1/24', '--ip6', 'fd00:61::1/64'];
const CLIENT = ['--role', 'slave', '--ip', '10.61.0.2/24', '--ip6', 'fd00:61::2/64'];

function sockPath(t: ExecutionContext): string {
  return path.join(tempDir(t, 'nmemif-lwip-'), 'm.sock');
}

interface UdpResult {
  sent: number;
  received: number;
  mismatched: number;
  duplicates: number;
  lost: number;
  counters: Record<string, number>;
}

for (const [family, dst, count] of [['IPv4', '10.61.0.1', 100_000], ['IPv6', 'fd00:61::1', 20_000]] as const) {
  lwipTest(`UDP echo over ${family}: ${count} datagrams of 60..1472 B, 32 in flight, every reply exact`, async (t) => {
    const p = sockPath(t);
    const server = lwipPeer(t, 'udp-echo', [...SERVER, '--path', p, 'udp-echo', '--port', '7', '--family', family === 'IPv6' ? '6' : '4']);
    await server.next('ready', START_MS);
    const client = lwipPeer(t, 'udp-client', [...CLIENT, '--path', p, 'udp-client', '--dst', dst, '--port', '7', '--count', String(count), '--window', '32', '--min', '60', '--max', '1472']);
    const r = (await client.next('udp-result', 120_000)) as unknown as UdpResult;
    t.log(`${family}: ${JSON.stringify(r)}`);
    t.is(r.sent, count);
    t.is(r.received, count, 'every datagram echoed');
    t.is(r.mismatched, 0, 'no reply differs from what was sent');
    t.is(r.duplicates, 0);
    t.is(r.lost, 0);
    t.is(r.counters.udpRxDrops, 0);
    await closePeer(t, client);
    await closePeer(t, server);
  });
}

lwipTest('TCP: 256 MiB each way on one connection, SHA-256 equal on both ends', async (t) => {
  const bytes = 256 * 1024 * 1024;
  const p = sockPath(t);
  const server = lwipPeer(t, 'tcp-server', [...SERVER, '--path', p, 'tcp-server', '--port', '5001', '--bytes', String(bytes)]);
  await server.next('listening', START_MS);
  const client = lwipPeer(t, 'tcp-client', [...CLIENT, '--path', p, 'tcp-client', '--dst', '10.61.0.1', '--port', '5001', '--conns', '1', '--bytes', String(bytes)]);
  const r = await client.next('tcp-result', 600_000);
  const conn = await server.next('tcp-conn', 60_000);
  t.log(`${((2 * bytes) / 2 ** 20 / ((r.ms as number) / 1000)).toFixed(0)} MiB/s both directions together`);
  sameStreams(t, r.flows as Flow[], [conn as unknown as Flow], bytes);
  await closePeer(t, client);
  await closePeer(t, server);
});

lwipTest('TCP: 64 concurrent connections over IPv6, 1 MiB each way on each, SHA-256 equal', async (t) => {
  const bytes = 1024 * 1024;
  const p = sockPath(t);
  const server = lwipPeer(t, 'tcp-server', [...SERVER, '--path', p, 'tcp-server', '--port', '5002', '--bytes', String(bytes), '--family', '6']);
  await server.next('listening', START_MS);
  const client = lwipPeer(t, 'tcp-client', [...CLIENT, '--path', p, 'tcp-client', '--dst', 'fd00:61::1', '--port', '5002', '--conns', '64', '--bytes', String(bytes)]);
  const r = await client.next('tcp-result', 300_000);
  const conns: Flow[] = [];
  for (let i = 0; i < 64; i++) conns.push((await server.next('tcp-conn', 60_000)) as unknown as Flow);
  const flows = r.flows as Flow[];
  t.is(new Set(flows.map((f) => f.local.port)).size, 64, '64 distinct connections');
  sameStreams(t, flows, conns, bytes);
  await closePeer(t, client);
  await closePeer(t, server);
});

lwipTest('ARP and ICMP echo: nmemif-sender resolves lwIP\'s MAC and gets every echo reply', async (t) => {
  const p = sockPath(t);
  const idle = lwipPeer(t, 'idle', ['--role', 'master', '--ip', '10.62.0.1/24', '--mac', '02:fe:00:62:00:01', '--path', p, 'idle']);
  await idle.next('ready', START_MS);
  const r = await runTool(t, 'nmemif-sender', ['--memif', `role=client,socket=${p},id=1`, '--src-ip', '10.62.0.2', '--dst-ip', '10.62.0.1', '--count', '500', '--size', '60-1500', '--json'], 60_000);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /10\.62\.0\.1 is at 02:fe:00:62:00:01/, 'ARP answered with the MAC lwIP was given');
  const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as { sent: number; replies: number; lost: number; bad_replies: number; duplicates: number };
  t.is(s.sent, 500);
  t.is(s.replies, 500);
  t.is(s.lost, 0);
  t.is(s.bad_replies, 0);
  t.is(s.duplicates, 0);
  await closePeer(t, idle);
});
