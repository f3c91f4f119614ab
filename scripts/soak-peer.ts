/**
 * The far end of `npm run soak`: one process with many memif interfaces of one role on one
 * socket, echoing every frame back (copy). The soak kills it with SIGKILL now and then.
 *
 * Usage: soak-peer.ts --role master|slave --path P --interfaces N
 */
import { MemifSocket, PacketBatch, setLogLevel } from '../src';

if (process.env.NMEMIF_LOG === undefined) setLogLevel('memif', 'error');

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || process.argv[i + 1] === undefined) throw new Error(`--${name} is required`);
  return process.argv[i + 1];
}

const role = arg('role') as 'master' | 'slave';
const count = Number(arg('interfaces'));
const sock = new MemifSocket({ path: arg('path'), appName: 'soak-peer', reconnectMinMs: 50, reconnectMaxMs: 500 });
const batch = new PacketBatch(64);
const frames: Uint8Array[] = [];

for (let id = 0; id < count; id++) {
  const iface = sock.createInterface({ role, id, rxMode: 'interrupt' });
  iface.on('rx', (q) => {
    try {
      for (;;) {
        const n = iface.rx(q, batch);
        if (n === 0) return;
        frames.length = 0;
        for (let i = 0; i < n; i = batch.packetEnd(i)) frames.push(batch.view(i).slice());
        iface.refill(q, batch);
        iface.send(q, frames);
      }
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_NMEMIF_NOT_CONNECTED') throw err;
    }
  });
}
process.stdout.write('ready\n');
