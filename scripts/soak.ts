/**
 * npm run soak -- [--minutes 30] [--interfaces 256] [--slaves 16] [--kill-every 5]
 *
 * A long run of the library under churn, to show that memory and fds stay flat:
 *  - one socket hosting --interfaces master interfaces, whose slaves live in a peer process;
 *  - --slaves slave interfaces of ours whose master lives in a second peer process;
 *  - every --kill-every seconds one of the two peers is killed with SIGKILL and started again
 *    (a reconnect storm: every interface of that peer drops and comes back);
 *  - traffic on every connected interface (frames echoed back), rx modes switched at random.
 * Each minute it prints RSS, heap used (after a GC), open fds, links up, frames and
 * reconnects; at the end the growth from the second minute to the last. Not part of CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { MemifSocket, PacketBatch, setLogLevel, type MemifInterface, type RxMode } from '../src';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    interfaces: { type: 'string', default: '256' },
    slaves: { type: 'string', default: '16' },
    'kill-every': { type: 'string', default: '5' },
  },
});
const minutes = Number(values.minutes);
const nMasters = Number(values.interfaces);
const nSlaves = Number(values.slaves);
const killEveryMs = Number(values['kill-every']) * 1000;
for (const [k, v] of Object.entries({ minutes, nMasters, nSlaves, killEveryMs })) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`bad value for ${k}`);
}

// Every kill makes hundreds of interfaces log a failed or lost connection: keep it to errors.
if (process.env.NMEMIF_LOG === undefined) setLogLevel('memif', 'error');

const gc = (globalThis as { gc?: () => void }).gc;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-soak-'));
const masterPath = path.join(dir, 'ours-master.sock');
const slavePath = path.join(dir, 'ours-slave.sock');
const peerScript = path.join(__dirname, 'soak-peer.ts');

// ---- the peers ------------------------------------------------------------------------------

const peers: Record<'a' | 'b', { args: string[]; child: ChildProcess | null }> = {
  a: { args: ['--role', 'slave', '--path', masterPath, '--interfaces', String(nMasters)], child: null },
  b: { args: ['--role', 'master', '--path', slavePath, '--interfaces', String(nSlaves)], child: null },
};
function startPeer(p: (typeof peers)['a']): void {
  p.child = spawn(process.execPath, ['--import', 'tsx', peerScript, ...p.args], { stdio: ['ignore', 'ignore', 'inherit'] });
}
let kills = 0;
function killOne(): void {
  const p = kills % 2 === 0 ? peers.a : peers.b;
  kills++;
  if (p.child?.pid !== undefined) process.kill(p.child.pid, 'SIGKILL');
  p.child?.once('exit', () => startPeer(p));
}

// ---- our side -------------------------------------------------------------------------------

const ours = new MemifSocket({ path: masterPath, appName: 'soak' });
const oursSlaves = new MemifSocket({ path: slavePath, appName: 'soak', reconnectMinMs: 50, reconnectMaxMs: 500 });
const ifaces: MemifInterface[] = [];
const counts = { sent: 0, echoed: 0, reconnects: 0, modeSwitches: 0 };
const batch = new PacketBatch(64);
const frame = new Uint8Array(128).fill(0xab);
const burst = Array.from({ length: 16 }, () => frame);

function drain(iface: MemifInterface, q: number): void {
  for (;;) {
    const n = iface.rx(q, batch);
    if (n === 0) return;
    counts.echoed += batch.packetCount();
    iface.refill(q, batch);
  }
}
function linkDown(err: unknown): boolean {
  return (err as { code?: string }).code === 'ERR_NMEMIF_NOT_CONNECTED' || (err as { code?: string }).code === 'ERR_NMEMIF_PROTOCOL';
}

for (const [sock, role, n] of [[ours, 'master', nMasters], [oursSlaves, 'slave', nSlaves]] as const) {
  for (let id = 0; id < n; id++) {
    const iface = sock.createInterface({ role, id });
    iface.on('connect', () => counts.reconnects++);
    iface.on('rx', (q) => {
      try {
        drain(iface, q);
      } catch (err) {
        if (!linkDown(err)) throw err;
      }
    });
    ifaces.push(iface);
  }
}

const traffic = setInterval(() => {
  for (const iface of ifaces) {
    if (!iface.connected) continue;
    try {
      counts.sent += iface.send(0, burst);
    } catch (err) {
      if (!linkDown(err)) throw err;
    }
  }
}, 50);

const MODES: RxMode[] = ['interrupt', 'polling', 'adaptive'];
const switcher = setInterval(() => {
  for (let k = 0; k < 8; k++) {
    const iface = ifaces[Math.floor(Math.random() * ifaces.length)];
    iface.setRxMode(0, MODES[Math.floor(Math.random() * MODES.length)]);
    counts.modeSwitches++;
  }
}, 1000);

// ---- sampling -------------------------------------------------------------------------------

interface Sample {
  minute: number;
  rssMB: number;
  heapMB: number;
  fds: number;
  up: number;
}
const samples: Sample[] = [];
function sample(minute: number): void {
  gc?.();
  const s: Sample = {
    minute,
    rssMB: process.memoryUsage().rss / 2 ** 20,
    heapMB: process.memoryUsage().heapUsed / 2 ** 20,
    fds: fs.readdirSync('/proc/self/fd').length,
    up: ifaces.filter((i) => i.connected).length,
  };
  samples.push(s);
  console.log(
    `minute ${minute}: rss ${s.rssMB.toFixed(1)} MB, heap ${s.heapMB.toFixed(1)} MB, fds ${s.fds}, links up ${s.up}/${ifaces.length}, ` +
      `frames sent ${counts.sent} echoed ${counts.echoed}, connects ${counts.reconnects}, peer kills ${kills}, rx-mode switches ${counts.modeSwitches}`,
  );
}

console.log(`soak: ${minutes} min, ${nMasters} master + ${nSlaves} slave interfaces, a peer killed every ${killEveryMs / 1000} s${gc ? '' : ' (no --expose-gc: heap figures include garbage)'}`);
startPeer(peers.a);
startPeer(peers.b);
const killer = setInterval(killOne, killEveryMs);
let minute = 0;
const sampler = setInterval(() => sample(++minute), 60_000);
sample(0);

setTimeout(() => {
  for (const t of [traffic, switcher, killer, sampler]) clearInterval(t);
  sample(minute + 1);
  for (const p of Object.values(peers)) {
    p.child?.removeAllListeners('exit');
    if (p.child?.pid !== undefined) process.kill(p.child.pid, 'SIGKILL');
  }
  ours.close();
  oursSlaves.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const from = samples[Math.min(2, samples.length - 1)];
  const to = samples[samples.length - 1];
  const span = Math.max(1, to.minute - from.minute);
  console.log(
    `growth from minute ${from.minute} to ${to.minute}: rss ${((to.rssMB - from.rssMB) / span).toFixed(2)} MB/min, ` +
      `heap ${((to.heapMB - from.heapMB) / span).toFixed(2)} MB/min, fds ${((to.fds - from.fds) / span).toFixed(2)}/min`,
  );
}, minutes * 60_000);
