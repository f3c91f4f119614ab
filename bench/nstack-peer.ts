/**
 * One side of a bench/nstack.ts measurement. The same code runs on Node's node:dgram/node:net
 * (--api node) or on nSockets (--api nstack, on the kernel stack or lwIP over memif), which the
 * Node-shaped API makes possible.
 *
 *   node --import tsx bench/nstack-peer.ts --api node|nstack [--stack kernel|lwip --memif DEVARGS --ip A/L]
 *        --role udp-sink|udp-blast|udp-echo|udp-ping|tcp-sink|tcp-send [--bind A] [--dst A] [--port P]
 *        [--seconds S] [--size N]
 *
 * Servers (udp-sink, udp-echo, tcp-sink) print "ready <port>" on stdout, then run until SIGTERM
 * (sinks then print their JSON). Clients run for --seconds and print one JSON line.
 */
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { nstack } from '../src';
import { setupStacks, waitForInterface, type StackSetup } from '../examples/lib/nstack-setup';
import { Latency } from '../examples/lib/stats';

const { values: v } = parseArgs({
  options: {
    api: { type: 'string', default: 'node' },
    stack: { type: 'string' },
    memif: { type: 'string' },
    ip: { type: 'string' },
    role: { type: 'string' },
    bind: { type: 'string', default: '127.0.0.1' },
    dst: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '2' },
    size: { type: 'string', default: '64' },
  },
});

/** What both APIs offer for these roles. */
interface Udp {
  bind(port: number, address: string, cb: () => void): unknown;
  send(msg: Uint8Array, port: number, address: string, cb?: (err: Error | null) => void): void;
  on(event: 'message', fn: (msg: Buffer, rinfo: { address: string; port: number }) => void): unknown;
  address(): { port: number };
  close(): unknown;
}
type Stream = net.Socket | nstack.TcpSocket;
type Server = { listen(port: number, host: string, cb: () => void): unknown; address(): unknown; close(): unknown };

const seconds = Number(v.seconds);
const size = Number(v.size);
const port = Number(v.port);
let setup: StackSetup | null = null;
let pinned: string | undefined;

function udp(): Udp {
  if (v.api === 'node') return dgram.createSocket('udp4');
  return nstack.createSocket({ type: 'udp4', stack: pinned }) as unknown as Udp;
}

function connectTcp(): Stream {
  if (v.api === 'node') return net.connect({ port, host: v.dst, noDelay: true });
  return nstack.connect({ port, host: v.dst, stack: pinned, noDelay: true });
}

function serverTcp(onConn: (s: Stream) => void): Server {
  if (v.api === 'node') return net.createServer(onConn);
  return nstack.createServer({ stack: pinned }, onConn);
}

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const ready = (p: number) => process.stdout.write(`ready ${p}\n`);
const onStop = (fn: () => void) => process.once('SIGTERM', fn);
const now = () => performance.now();

async function udpSink(): Promise<void> {
  const s = udp();
  let received = 0;
  let first = 0;
  let last = 0;
  s.on('message', () => {
    last = now();
    if (received++ === 0) first = last;
  });
  await new Promise<void>((resolve) => s.bind(port, v.bind!, resolve));
  ready(s.address().port);
  onStop(() => {
    print({ received, seconds: (last - first) / 1000 });
    process.exit(0);
  });
}

async function udpEcho(): Promise<void> {
  const s = udp();
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  await new Promise<void>((resolve) => s.bind(port, v.bind!, resolve));
  ready(s.address().port);
  onStop(() => process.exit(0));
}

async function udpBlast(): Promise<void> {
  const s = udp();
  const msg = Buffer.alloc(size, 0x5a);
  const WINDOW = 256; // sends whose callback has not run: bounds what waits inside either API
  let inflight = 0;
  let sent = 0;
  const start = now();
  const end = start + seconds * 1000;
  await new Promise<void>((resolve) => {
    const onSent = () => {
      inflight--;
      pump();
    };
    const pump = () => {
      while (inflight < WINDOW) {
        if ((sent & 1023) === 0 && now() > end) {
          if (inflight === 0) resolve();
          return;
        }
        inflight++;
        sent++;
        s.send(msg, port, v.dst!, onSent);
      }
    };
    pump();
  });
  print({ sent, seconds: (now() - start) / 1000 });
  s.close();
}

async function udpPing(): Promise<void> {
  const s = udp();
  const lat = new Latency();
  const msg = Buffer.alloc(size, 1);
  const start = now();
  const end = start + seconds * 1000;
  let sentAt = 0;
  let lost = 0;
  let timer: NodeJS.Timeout | null = null;
  await new Promise<void>((resolve) => {
    const ping = () => {
      if (timer !== null) clearTimeout(timer);
      if (now() > end) return resolve();
      sentAt = now();
      s.send(msg, port, v.dst!);
      timer = setTimeout(() => {
        lost++;
        ping();
      }, 1000); // a lost datagram must not stop the ping-pong
    };
    s.on('message', () => {
      lat.add((now() - sentAt) * 1000);
      ping();
    });
    ping();
  });
  const secs = (now() - start) / 1000;
  print({ round_trips: lat.count, seconds: secs, rate: lat.count / secs, lost, latency_us: lat.summary() });
  s.close();
}

async function tcpSink(): Promise<void> {
  let bytes = 0;
  let first = 0;
  let last = 0;
  const server = serverTcp((sock) => {
    sock.on('data', (d: Buffer) => {
      last = now();
      if (bytes === 0) first = last;
      bytes += d.length;
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, v.bind!, resolve));
  ready((server.address() as { port: number }).port);
  onStop(() => {
    print({ bytes, seconds: (last - first) / 1000 });
    process.exit(0);
  });
}

async function tcpSend(): Promise<void> {
  const sock = connectTcp();
  await once(sock, 'connect');
  const chunk = Buffer.alloc(64 * 1024, 7);
  const start = now();
  const end = start + seconds * 1000;
  let bytes = 0;
  while (now() < end) {
    bytes += chunk.length;
    if (!sock.write(chunk)) await once(sock, 'drain');
  }
  sock.end();
  await once(sock, 'close');
  print({ bytes, seconds: (now() - start) / 1000 });
}

const roles: Record<string, () => Promise<void>> = {
  'udp-sink': udpSink,
  'udp-echo': udpEcho,
  'udp-blast': udpBlast,
  'udp-ping': udpPing,
  'tcp-sink': tcpSink,
  'tcp-send': tcpSend,
};

async function main(): Promise<void> {
  const role = roles[v.role ?? ''];
  if (role === undefined) throw new Error(`--role takes one of ${Object.keys(roles).join(', ')}`);
  const client = /-(blast|ping|send)$/.test(v.role!);
  if (v.api === 'nstack') {
    setup = setupStacks({ stack: v.stack as 'kernel' | 'lwip' | undefined, memif: v.memif, ip: v.ip });
    pinned = setup.pinned;
    if (client) await waitForInterface(setup, 20_000);
  } else if (v.api !== 'node') throw new Error('--api takes node or nstack');
  await role();
  // A client is done (a server runs until SIGTERM): the lwIP stack's memif interface would keep
  // the process alive.
  if (client) setup?.close();
}

main().catch((err: Error) => {
  process.stderr.write(`nstack-peer: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
