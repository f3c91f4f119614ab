/**
 * lwIP against the real Linux stack: an lwIP process (test/fixtures/lwip-peer.ts) on memif ->
 * nmemif-bridge -> DPDK net_af_packet -> veth -> a network namespace of our own, where the
 * kernel runs the other end (test/fixtures/kernel-peer.ts: Node's dgram and net). UDP echo
 * exact, TCP 64 MiB each way with SHA-256 compared, and `ping` from the namespace answered by
 * lwIP. Needs root, iproute2, iputils-ping, ethtool (the namespace's veth must checksum and
 * segment in software: a packet socket would see offloaded frames unfinished) and DPDK.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dpdkBuilt } from '../src/bridge';
import { tempDir } from './helpers/memif';
import { sh, which } from './helpers/system';
import { START_MS, closePeer, lwipPeer, lwipSkipReason, sameStreams, type Flow } from './helpers/lwip';
import { Peer } from './helpers/peer';
import { ToolProcess, hasStackTrace } from './helpers/tools';

function skipReason(): string | null {
  if (lwipSkipReason !== null) return lwipSkipReason;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root (a network namespace and a veth pair need CAP_NET_ADMIN)';
  for (const cmd of ['ip', 'ping', 'ethtool']) if (!which(cmd)) return `\`${cmd}\` is missing`;
  if (!dpdkBuilt()) return 'this build has no DPDK (libdpdk not found or WITH_DPDK=OFF)';
  return null;
}

const skip = skipReason();
if (skip !== null) test(`lwIP against the kernel skipped: ${skip}`, (t) => t.pass());
const kernelTest = skip === null ? test.serial : test.serial.skip;

const LWIP_MAC = '02:fe:00:78:00:02';

/** The namespace, veth pair, bridge and kernel-side servers, for one test. */
async function setup(t: ExecutionContext, bytes: number): Promise<{ sock: string; net: string; ns: string; kernel: Peer; bridge: ToolProcess }> {
  const dir = tempDir(t, 'nmemif-lwip-kernel-');
  const tag = `${process.pid % 100000}`;
  const ns = `nmemif-l${tag}`;
  const vethHost = `nml${tag}h`; // at most 15 characters
  const vethNs = `nml${tag}n`;
  const net = `10.78.${process.pid % 250}`;
  const prefix = `nmemif-l47-${process.pid}`;
  t.teardown(() => {
    spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
    spawnSync('ip', ['link', 'del', vethHost], { timeout: 10_000 });
    fs.rmSync(path.join('/var/run/dpdk', prefix), { recursive: true, force: true });
  });
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs]);
  sh('ip', ['link', 'set', vethNs, 'netns', ns]);
  sh('ip', ['-n', ns, 'addr', 'add', `${net}.1/24`, 'dev', vethNs]);
  sh('ip', ['netns', 'exec', ns, 'ethtool', '-K', vethNs, 'tx', 'off', 'tso', 'off', 'gso', 'off']);
  sh('ip', ['-n', ns, 'link', 'set', vethNs, 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  sh('ip', ['link', 'set', vethHost, 'up']);

  const sock = path.join(dir, 'm.sock');
  const bridge = new ToolProcess(t, 'nmemif-bridge', [
    '--memif', `role=server,socket=${sock},id=1`,
    '--dpdk', `net_af_packet0,iface=${vethHost}`,
    `--eal=--file-prefix=${prefix}`, '--control', path.join(dir, 'ctl.sock'), '--idle-sleep-us', '20', '--json',
  ], 300_000);
  await bridge.waitFor(/control socket /, 30_000);
  const kernel = new Peer('kernel-peer.ts', ['--udp-port', '7', '--tcp-port', '5001', '--bytes', String(bytes)], 'kernel', ['ip', 'netns', 'exec', ns]);
  t.teardown(() => kernel.stop());
  await kernel.next('ready', START_MS);
  return { sock, net, ns, kernel, bridge };
}

/** The bridge ends cleanly on SIGTERM once the lwIP side has gone. */
async function stopBridge(t: ExecutionContext, bridge: ToolProcess): Promise<void> {
  bridge.kill('SIGTERM');
  const exit = await bridge.done;
  t.is(exit.code, 0, bridge.describe());
  t.false(hasStackTrace(exit.stderr), exit.stderr);
}

function lwip(t: ExecutionContext, sock: string, net: string, mode: string[]): Peer {
  return lwipPeer(t, mode[0], ['--role', 'slave', '--path', sock, '--ip', `${net}.2/24`, '--mac', LWIP_MAC, ...mode]);
}

kernelTest('ping from the namespace is answered by lwIP (ARP too), 0% loss', async (t) => {
  const { sock, net, ns, bridge } = await setup(t, 0);
  const idle = lwip(t, sock, net, ['idle']);
  await idle.next('link-up', START_MS);
  const ping = spawnSync('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', '20', '-i', '0.05', '-W', '2', `${net}.2`], { encoding: 'utf8', timeout: 30_000 });
  t.log(ping.stdout.trim().split('\n').slice(-2).join('\n'));
  const m = /(\d+) packets transmitted, (\d+) received,.* ([\d.]+)% packet loss/.exec(ping.stdout);
  t.truthy(m, `ping summary missing: ${ping.stdout}${ping.stderr}`);
  if (m === null) return;
  t.is(Number(m[2]), 20, ping.stdout);
  t.is(m[3], '0');
  const neigh = sh('ip', ['-n', ns, 'neigh', 'show', `${net}.2`]);
  t.regex(neigh, new RegExp(LWIP_MAC), `the kernel learned lwIP's MAC by ARP: ${neigh}`);
  await closePeer(t, idle);
  await stopBridge(t, bridge);
});

kernelTest('UDP echo by the kernel\'s dgram server: 20,000 datagrams of 60..1472 B, every reply exact', async (t) => {
  const { sock, net, bridge } = await setup(t, 0);
  const count = 20_000;
  const client = lwip(t, sock, net, ['udp-client', '--dst', `${net}.1`, '--port', '7', '--count', String(count), '--window', '16', '--min', '60', '--max', '1472']);
  const r = await client.next('udp-result', 240_000);
  t.log(JSON.stringify(r));
  t.is(r.sent, count);
  t.is(r.received, count, 'every datagram echoed');
  t.is(r.mismatched, 0);
  t.is(r.duplicates, 0);
  await closePeer(t, client);
  await stopBridge(t, bridge);
});

kernelTest('TCP with the kernel\'s net server: 64 MiB each way, SHA-256 equal on both ends', async (t) => {
  const bytes = 64 * 1024 * 1024;
  const { sock, net, kernel, bridge } = await setup(t, bytes);
  const client = lwip(t, sock, net, ['tcp-client', '--dst', `${net}.1`, '--port', '5001', '--conns', '1', '--bytes', String(bytes)]);
  const r = await client.next('tcp-result', 600_000);
  const conn = await kernel.next('tcp-conn', 60_000);
  t.log(`${((2 * bytes) / 2 ** 20 / ((r.ms as number) / 1000)).toFixed(0)} MiB/s both directions together`);
  sameStreams(t, r.flows as Flow[], [conn as unknown as Flow], bytes);
  await closePeer(t, client);
  await stopBridge(t, bridge);
});
