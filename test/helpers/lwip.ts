/** Helpers for the lwIP tests: lwIP fixture processes (test/fixtures/lwip-peer.ts), the skip
 * reason, and comparing the hashes two ends reported for the same TCP connection. */
import type { ExecutionContext } from 'ava';
import { lwipAvailable, lwipUnavailableReason } from '../../src/nstack/stacks/lwip';
import { Peer, type PeerEvent } from './peer';

/** Starting a tsx process takes a while on a loaded machine. */
export const START_MS = 30_000;

export const lwipSkipReason: string | null = lwipAvailable() ? null : lwipUnavailableReason();

/** An lwIP fixture process, killed when the test ends if it is still running. */
export function lwipPeer(t: ExecutionContext, name: string, args: string[]): Peer {
  const p = new Peer('lwip-peer.ts', args, name);
  t.teardown(() => p.stop());
  return p;
}

/** Asks a fixture to close its stack and socket; checks that it then ends by itself (nothing
 * of the stack keeps the loop alive) with status 0. */
export async function closePeer(t: ExecutionContext, p: Peer): Promise<PeerEvent> {
  p.command('close');
  const closed = await p.next('closed', START_MS);
  const exit = await p.exited(START_MS, 'to end by itself after close');
  t.is(exit.code, 0, `${p.name}: ${p.stderr.slice(-1000)}`);
  return closed;
}

export interface Flow {
  local: { address: string; port: number };
  peer: { address: string; port: number };
  sent: number;
  received: number;
  txSha: string;
  rxSha: string;
  error: string | null;
}

/** Each client flow against the server's record of the same connection (by port): every byte
 * each side sent is what the other received, by SHA-256. */
export function sameStreams(t: ExecutionContext, client: Flow[], server: Flow[], bytes: number): void {
  t.is(server.length, client.length, 'one server record per client connection');
  const byPort = new Map(server.map((f) => [f.peer.port, f]));
  for (const c of client) {
    const s = byPort.get(c.local.port);
    t.truthy(s, `no server record for client port ${c.local.port}`);
    if (s === undefined) continue;
    t.is(c.error, null, `client ${c.local.port}`);
    t.is(s.error, null, `server for ${c.local.port}`);
    t.is(c.sent, bytes);
    t.is(c.received, bytes);
    t.is(s.sent, bytes);
    t.is(s.received, bytes);
    t.is(c.txSha, s.rxSha, `client ${c.local.port} -> server: SHA-256`);
    t.is(s.txSha, c.rxSha, `server -> client ${c.local.port}: SHA-256`);
  }
}
