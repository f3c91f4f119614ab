/**
 * The malicious-peer suite against the library in this process, in both roles (our master vs
 * a hostile slave, our slave vs a hostile master): every nmif-hostile case, one row of the
 * attack table each (test/helpers/hostile.ts). The victim is a plain application on the
 * public API: an interface in interrupt mode that echoes every frame back with send(), checks
 * the payload of every frame nmif-hostile built, and treats NotConnectedError as the link
 * rule says (the link is down; wait for the next one). Anything else reaching it, or an
 * 'error' event, is a failure: the peer made the library throw.
 */
import test from 'ava';
import * as fs from 'node:fs';
import { MemifSocket, NotConnectedError, PacketBatch } from '../src';
import { HOSTILE, attack, attacksFor, expectFor, hostileFrame, type Role, type Victim } from './helpers/hostile';
import { abstractName } from './helpers/memif';

interface EchoApp extends Victim {
  intact: number;
  corrupt: number;
  unexpected: unknown[];
  close(): void;
}

/** Our interface in `role` on a fresh abstract socket, echoing everything back. */
function echoApp(role: Role): EchoApp {
  const socket = abstractName('hostile');
  // A short handshake timeout and reconnect backoff keep the silent case and the slave's
  // reconnects quick; the values do not matter to what is checked.
  const sock = new MemifSocket({ path: socket, handshakeTimeoutMs: 1500, reconnectMinMs: 20, reconnectMaxMs: 200 });
  const iface = sock.createInterface({ role, id: 7, rxMode: 'interrupt' });
  const reasons: string[] = [];
  const unexpected: unknown[] = [];
  const batch = new PacketBatch(64);
  const app: EchoApp = {
    name: 'library',
    role,
    socket,
    id: 7,
    pid: process.pid,
    answers: true,
    intact: 0,
    corrupt: 0,
    unexpected,
    alive: () => unexpected.length === 0 && !iface.closed,
    downs: () => reasons,
    goodArgs: () => ['good', '--count', '32', '--duration', '15'],
    served: (r) => r.returned === 32,
    describe: () => `library ${role}: connected ${iface.connected}, downs ${JSON.stringify(reasons.slice(-5))}, unexpected ${unexpected.map(String).join('; ')}`,
    close: () => sock.close(),
  };
  iface.on('disconnect', (r) => reasons.push(r));
  iface.on('error', (e) => unexpected.push(e));
  iface.on('rx', (q) => {
    try {
      let n;
      while ((n = iface.rx(q, batch)) > 0) {
        const back: Uint8Array[] = [];
        for (let i = 0; i < n; i = batch.packetEnd(i)) {
          const f = batch.packet(i);
          const kind = hostileFrame(f);
          if (kind === 'ours-intact') app.intact++;
          else if (kind === 'ours-corrupt') app.corrupt++;
          back.push(f);
        }
        iface.refill(q, batch);
        iface.send(q, back); // what does not fit is dropped, as a real echo would
      }
    } catch (err) {
      if (!(err instanceof NotConnectedError)) unexpected.push(err);
    }
  });
  return app;
}

for (const role of ['master', 'slave'] as const) {
  test(`the library as ${role} against every hostile ${role === 'master' ? 'slave' : 'master'} case`, async (t) => {
    if (!fs.existsSync(HOSTILE)) return t.fail(`${HOSTILE} is not built (npm run build:native)`);
    const app = echoApp(role);
    t.teardown(() => app.close());
    const peer = role === 'master' ? 'slave' : 'master';
    for (const a of attacksFor(peer)) {
      const intact = app.intact;
      await attack(t, app, a);
      const e = expectFor(a, peer);
      if (e.kind === 'legal') t.true(app.intact - intact >= e.frames, `${a.name}: the frames arrived intact`);
    }
    t.is(app.corrupt, 0, 'no frame of the hostile peer arrived corrupt');
    t.deepEqual(app.unexpected, [], 'nothing but NotConnectedError reached the application');
  });
}
