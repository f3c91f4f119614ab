/**
 * The bridge against real peers, as child processes:
 * 1. the Linux kernel as the far end: a veth pair, one end in a network namespace of our own
 *    with an IPv4 address, the other end a DPDK net_af_packet port bridged to a memif link
 *    answered by nmemif-responder; `ping` from inside the namespace gets every reply (ARP
 *    too). Needs root, iproute2, iputils-ping and DPDK; only traffic inside our namespace/veth.
 * 2. a memif peer SIGKILLed while traffic flows through a memif <-> memif bridge: the bridge
 *    stays up, counts the drops / sees the link go down, and a new responder on the same socket
 *    gets traffic through again (a new sender run gets every reply).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dpdkBuilt } from '../src/bridge';
import { tempDir } from './helpers/memif';
import { sh, which } from './helpers/system';
import { ToolProcess, hasStackTrace, runTool } from './helpers/tools';

type Counters = Record<string, number>;
interface Stats {
  ok: boolean;
  ports: Record<string, Counters>;
  workers: Record<string, Counters>;
}

function kernelSkipReason(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root (a network namespace and a veth pair need CAP_NET_ADMIN)';
  if (!which('ip')) return '`ip` (iproute2) is missing';
  if (!which('ping')) return '`ping` (iputils-ping) is missing';
  if (!dpdkBuilt()) return 'this build has no DPDK (libdpdk not found or WITH_DPDK=OFF)';
  return null;
}

const skipKernel = kernelSkipReason();
if (skipKernel !== null) test(`kernel far-end test skipped: ${skipKernel}`, (t) => t.pass());
const kernelTest = skipKernel === null ? test.serial : test.serial.skip;

kernelTest('the kernel as the far end: ping in a netns → veth → net_af_packet → bridge → memif responder, 0% loss', async (t) => {
  const dir = tempDir(t, 'nmemif-bridge-kernel-');
  const tag = `${process.pid % 100000}`;
  const ns = `nmemif-k${tag}`;
  const vethHost = `nmk${tag}h`; // ≤ 15 characters
  const vethNs = `nmk${tag}n`;
  const net = `10.77.${process.pid % 250}`;
  const prefix = `nmemif-k42-${process.pid}`;
  t.teardown(() => {
    spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
    spawnSync('ip', ['link', 'del', vethHost], { timeout: 10_000 }); // gone with the netns already, normally
    fs.rmSync(path.join('/var/run/dpdk', prefix), { recursive: true, force: true });
  });
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs]);
  sh('ip', ['link', 'set', vethNs, 'netns', ns]);
  sh('ip', ['-n', ns, 'addr', 'add', `${net}.1/24`, 'dev', vethNs]);
  sh('ip', ['-n', ns, 'link', 'set', vethNs, 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  sh('ip', ['link', 'set', vethHost, 'up']);

  const sock = path.join(dir, 'm.sock');
  const ctl = path.join(dir, 'ctl.sock');
  const bridge = new ToolProcess(t, 'nmemif-bridge', [
    '--memif', `role=server,socket=${sock},id=1`,
    '--dpdk', `net_af_packet0,iface=${vethHost}`,
    `--eal=--file-prefix=${prefix}`, '--control', ctl, '--idle-sleep-us', '20', '--json',
  ], 40_000);
  await bridge.waitFor(/control socket /, 15_000);
  const responder = new ToolProcess(t, 'nmemif-responder', [
    '--memif', `role=client,socket=${sock},id=1`, '--ip', `${net}.2`, '--mac', '02:fe:00:77:00:02', '--json', '--link-timeout', '10',
  ], 40_000);
  await responder.waitFor(/link up: /, 10_000);
  await bridge.waitFor(/link up: memif0/, 10_000);

  const ping = spawnSync('ip', ['netns', 'exec', ns, 'ping', '-n', '-c', '20', '-i', '0.05', '-W', '1', `${net}.2`], { encoding: 'utf8', timeout: 20_000 });
  t.log(ping.stdout.trim().split('\n').slice(-2).join('\n'));
  const m = /(\d+) packets transmitted, (\d+) received,.* ([\d.]+)% packet loss/.exec(ping.stdout);
  t.truthy(m, `ping summary missing: status ${ping.status}\n${ping.stdout}${ping.stderr}\n${bridge.describe()}\n${responder.describe()}`);
  if (m === null) return;
  t.is(Number(m[1]), 20);
  t.is(Number(m[2]), 20, `${ping.stdout}${ping.stderr}\n${bridge.describe()}`);
  t.is(m[3], '0');
  t.is(ping.status, 0);

  const stats = await runTool(t, 'nmemif-bridge', ['stats', '--control', ctl, '--json'], 10_000);
  t.is(stats.code, 0, stats.stderr);
  const st = JSON.parse(stats.stdout) as Stats;
  // 20 echo replies and at least one ARP answer went kernel-ward through the DPDK port
  t.true(st.ports.dpdk0.txPackets >= 21, JSON.stringify(st.ports));
  t.true(st.ports.memif0.rxPackets >= 21, JSON.stringify(st.ports));

  responder.kill('SIGTERM');
  const rexit = await responder.done;
  t.is(rexit.code, 0, responder.describe());
  const r = responder.json<{ arp: number; icmp: number }>();
  t.is(r.icmp, 20);
  t.true(r.arp >= 1, 'the kernel asked for our MAC and got an answer');
  bridge.kill('SIGTERM');
  const bexit = await bridge.done;
  t.is(bexit.code, 0, bridge.describe());
  t.false(hasStackTrace(bexit.stderr), bexit.stderr);
});

test.serial('memif peer SIGKILLed mid-traffic: the bridge survives, counts drops, and traffic resumes with a new peer', async (t) => {
  const dir = tempDir(t, 'nmemif-bridge-kill-');
  const a = path.join(dir, 'a.sock');
  const b = path.join(dir, 'b.sock');
  const ctl = path.join(dir, 'ctl.sock');
  const bridge = new ToolProcess(t, 'nmemif-bridge', ['--memif', `role=server,socket=${a},id=1`, '--memif', `role=server,socket=${b},id=2`, '--control', ctl, '--idle-sleep-us', '20', '--json'], 40_000);
  await bridge.waitFor(/control socket /, 10_000);
  const responderArgs = ['--memif', `role=client,socket=${b},id=2,mac=02:fe:00:00:00:01`, '--ip', '10.3.0.1', '--json', '--link-timeout', '10'];
  const senderArgs = ['--memif', `role=client,socket=${a},id=1,mac=02:fe:00:00:00:02`, '--src-ip', '10.3.0.2', '--dst-ip', '10.3.0.1'];
  const stats = async (): Promise<Stats> => {
    const s = await runTool(t, 'nmemif-bridge', ['stats', '--control', ctl, '--json'], 10_000);
    t.is(s.code, 0, `${s.stderr}\n${bridge.describe()}`);
    return JSON.parse(s.stdout) as Stats;
  };

  const responder1 = new ToolProcess(t, 'nmemif-responder', responderArgs, 40_000);
  await bridge.waitFor(/link up: memif1/, 10_000);
  // steady traffic, with the destination MAC given so nothing waits on ARP
  const flow = new ToolProcess(t, 'nmemif-sender', [...senderArgs, '--dst-mac', '02:fe:00:00:00:01', '--rate', '5000', '--duration', '3', '--wait', '0.5', '--window', '0', '--json'], 20_000);
  await bridge.waitFor(/link up: memif0/, 10_000);
  // let traffic flow, then kill -9 the responder while it does
  const deadline = Date.now() + 30_000;
  let before = await stats();
  while ((before.ports.memif1.txPackets ?? 0) < 500 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    before = await stats();
  }
  t.true(before.ports.memif1.txPackets >= 500, `traffic flows before the kill: ${JSON.stringify(before.ports)}`);
  responder1.kill('SIGKILL');
  const r1 = await responder1.done;
  t.is(r1.signal, 'SIGKILL');
  await bridge.waitFor(/link down: memif1/, 5000);

  const fexit = await flow.done;
  t.is(fexit.code, 1, `the sender lost replies after the kill: ${flow.describe()}`);
  const lost = flow.json<{ sent: number; replies: number; lost: number }>();
  t.true(lost.sent > lost.replies && lost.replies > 0, JSON.stringify(lost));

  // the bridge is still running, answers stats, and counted the frames it could not deliver
  t.is(bridge.exit, null, bridge.describe());
  const after = await stats();
  t.true(after.ok);
  const drops = after.ports.memif1.dropLinkDown + after.ports.memif1.dropTxFull;
  t.true(drops > 0, `drops toward the dead peer counted: ${JSON.stringify(after.ports)}`);
  const show = await runTool(t, 'nmemif-bridge', ['show', '--control', ctl], 10_000);
  t.is(show.code, 0, show.stderr);
  t.regex(show.stdout, /^memif1 +memif +down/m, show.stdout);

  // a new responder process on the same socket: traffic resumes, every reply comes back
  const responder2 = new ToolProcess(t, 'nmemif-responder', responderArgs, 40_000);
  await responder2.waitFor(/link up: /, 10_000);
  await bridge.waitFor(/link up: memif1[\s\S]*link up: memif1/, 10_000);
  const N = 1000;
  const again = await runTool(t, 'nmemif-sender', [...senderArgs, '--count', String(N), '--size', '60-1500', '--wait', '2', '--json'], 20_000);
  t.is(again.code, 0, `${again.stderr}\n${bridge.describe()}`);
  const s = JSON.parse(again.stdout.trim().split('\n').pop()!) as { sent: number; replies: number; lost: number; bad_replies: number; duplicates: number };
  t.is(s.sent, N);
  t.is(s.replies, N, 'every echo request answered after the peer came back');
  t.is(s.lost, 0);
  t.is(s.bad_replies, 0);
  t.is(s.duplicates, 0);

  responder2.kill('SIGTERM');
  const r2 = await responder2.done;
  t.is(r2.code, 0, responder2.describe());
  t.true(responder2.json<{ icmp: number }>().icmp >= N);
  bridge.kill('SIGTERM');
  const bexit = await bridge.done;
  t.is(bexit.code, 0, bridge.describe());
  t.false(hasStackTrace(bexit.stderr), bexit.stderr);
  const out = bridge.json<{ ports: Record<string, Counters> }>();
  t.true(out.ports.memif1.dropLinkDown + out.ports.memif1.dropTxFull >= drops);
  t.false(fs.existsSync(ctl), 'control socket removed');
});
