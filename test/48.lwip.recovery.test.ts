/**
 * Recovery of the lwIP stack (test/fixtures/lwip-peer.ts on both ends):
 * - kill -9 of the application mid-transfer: its memif peer goes down with a reason, the dead
 *   process leaves no file behind, and the surviving stack serves a new process at once;
 * - SIGTERM mid-transfer: the stack is closed before the memif socket, so the peer's
 *   connection is reset (not left hanging) and then its link goes down;
 * - sockets opened and closed while they carry traffic leak no fd, and closing the stack and
 *   its memif socket gives back every fd they took (counted from /proc/self/fd).
 */
import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers/memif';
import { START_MS, closePeer, lwipPeer, lwipSkipReason, sameStreams, type Flow } from './helpers/lwip';

if (lwipSkipReason !== null) test(`lwIP recovery tests skipped: ${lwipSkipReason}`, (t) => t.pass());
const lwipTest = lwipSkipReason === null ? test.serial : test.serial.skip;

const SERVER = ['--role', 'master', '--ip', '10.63.0.1/24'];
const CLIENT = ['--role', 'slave', '--ip', '10.63.0.2/24'];

function dirAndSock(t: ExecutionContext): { dir: string; sock: string } {
  const dir = tempDir(t, 'nmemif-lwip-rec-');
  return { dir, sock: path.join(dir, 'm.sock') };
}

lwipTest('kill -9 mid-transfer: the peer goes down with a reason, no file left, a new process is served', async (t) => {
  const { dir, sock } = dirAndSock(t);
  const server = lwipPeer(t, 'tcp-server', [...SERVER, '--path', sock, 'tcp-server', '--port', '5001', '--bytes', String(1 << 20)]);
  await server.next('listening', START_MS);
  const victim = lwipPeer(t, 'victim', [...CLIENT, '--path', sock, 'tcp-client', '--dst', '10.63.0.1', '--port', '5001', '--bytes', String(4 * 2 ** 30), '--progress', String(16 << 20)]);
  await victim.next('progress', 120_000);
  victim.kill('SIGKILL');
  const exit = await victim.exited(START_MS);
  t.is(exit.signal, 'SIGKILL');
  const down = await server.next('link-down', 10_000);
  t.log(`the survivor saw: ${String(down.reason)}`);
  t.true(typeof down.reason === 'string' && down.reason.length > 0, 'a reason for the disconnect');
  t.deepEqual(fs.readdirSync(dir), ['m.sock'], 'only the survivor\'s socket file');

  const bytes = 1 << 20;
  const again = lwipPeer(t, 'again', [...CLIENT, '--path', sock, 'tcp-client', '--dst', '10.63.0.1', '--port', '5001', '--bytes', String(bytes)]);
  const r = await again.next('tcp-result', 120_000);
  const conn = await server.next('tcp-conn', 60_000, (e) => (e.peer as { port: number }).port === (r.flows as Flow[])[0].local.port);
  sameStreams(t, r.flows as Flow[], [conn as unknown as Flow], bytes);
  await closePeer(t, again);
  await closePeer(t, server);
});

lwipTest('SIGTERM mid-transfer: the peer\'s connection is reset before the link goes down', async (t) => {
  const { sock } = dirAndSock(t);
  const server = lwipPeer(t, 'tcp-server', [...SERVER, '--path', sock, 'tcp-server', '--port', '5001', '--bytes', String(4 * 2 ** 30)]);
  await server.next('listening', START_MS);
  const client = lwipPeer(t, 'client', [...CLIENT, '--path', sock, 'tcp-client', '--dst', '10.63.0.1', '--port', '5001', '--bytes', String(4 * 2 ** 30), '--progress', String(16 << 20)]);
  await client.next('progress', 120_000);
  client.kill('SIGTERM');
  const exit = await client.exited(START_MS);
  t.is(exit.signal, 'SIGTERM', 'ended by the signal, as without a handler of its own');
  const conn = await server.next('tcp-conn', 10_000);
  t.is(conn.error, 'ECONNRESET', 'the connection was reset by the closing stack');
  const down = await server.next('link-down', 10_000);
  t.is(down.reason, 'socket closed');
  await closePeer(t, server);
});

lwipTest('sockets closed under load leak no fd; closing the stack gives back every fd it took', async (t) => {
  const { sock } = dirAndSock(t);
  const server = lwipPeer(t, 'tcp-server', [...SERVER, '--path', sock, 'tcp-server', '--port', '5001', '--bytes', String(64 << 20)]);
  await server.next('listening', START_MS);
  const churn = lwipPeer(t, 'churn', [...CLIENT, '--path', sock, 'churn', '--dst', '10.63.0.1', '--port', '7', '--tcp-port', '5001', '--rounds', '30']);
  const c = await churn.next('churn', 120_000);
  t.log(JSON.stringify(c));
  t.deepEqual(c.after, c.before, 'the same fds after 480 sockets were opened and closed with traffic in flight');
  const counters = c.counters as Record<string, number>;
  t.true(counters.txFrames > 30 * 8 * 16, 'the sockets did carry traffic');
  const closed = await closePeer(t, churn);
  t.deepEqual(closed.fdsClosed, closed.fdsStart, 'stack and memif socket closed: every fd given back');
  await closePeer(t, server);
});
