/**
 * The echo clients of nstack-echo: send `count` messages of `size` bytes with at most `window`
 * unanswered, check every reply byte for byte, and measure each round trip.
 * - UDP: datagram i carries i in its first 4 bytes and bytes that depend on i; a datagram not
 *   answered within `timeoutMs` counts as lost (and frees its place in the window). The window
 *   opens after the first reply: the first datagram also finds the path (ARP/ND), and a stack
 *   queues only a few datagrams for an unresolved neighbour.
 * - TCP: one connection; byte k of the stream depends on k; message i is answered once the
 *   echo reached its last byte.
 */
import { once } from 'node:events';
import { nstack } from '../../src';
import { Latency } from './stats';

export interface EchoClientOptions {
  proto: 'udp' | 'tcp';
  dst: string;
  port: number;
  count: number;
  size: number;
  window: number;
  timeoutMs: number;
  stack: string | undefined;
}

export interface EchoResult {
  proto: 'udp' | 'tcp';
  plane: string | null;
  stack: string | null;
  dst: string;
  port: number;
  size: number;
  window: number;
  sent: number;
  received: number;
  lost: number;
  /** Replies that were not what was sent (udp: datagrams; tcp: bytes). */
  bad: number;
  duplicates: number;
  /** Payload bytes echoed back intact. */
  bytes: number;
  seconds: number;
  /** Round trips per second. */
  rate: number;
  latency_us: { min: number | null; p50: number | null; p90: number | null; p99: number | null; max: number | null };
}

const udpByte = (seq: number, i: number) => (seq * 131 + i * 7) & 0xff;
const tcpByte = (k: number) => (k ^ (k >>> 8) ^ (k >>> 17)) & 0xff;

export function runEchoClient(o: EchoClientOptions): Promise<EchoResult> {
  return o.proto === 'udp' ? udpClient(o) : tcpClient(o);
}

function result(o: EchoClientOptions, route: nstack.Route | null, r: Pick<EchoResult, 'sent' | 'received' | 'bad' | 'duplicates' | 'bytes'>, seconds: number, lat: Latency): EchoResult {
  return {
    proto: o.proto,
    plane: route?.plane ?? null,
    stack: route?.stack ?? null,
    dst: o.dst,
    port: o.port,
    size: o.size,
    window: o.window,
    ...r,
    lost: r.sent - r.received,
    seconds: Math.round(seconds * 1000) / 1000,
    rate: seconds > 0 ? Math.round(r.received / seconds) : 0,
    latency_us: lat.summary(),
  };
}

async function udpClient(o: EchoClientOptions): Promise<EchoResult> {
  const sock = nstack.createSocket({ type: o.dst.includes(':') ? 'udp6' : 'udp4', stack: o.stack });
  const sentAt = new Float64Array(o.count);
  const state = new Uint8Array(o.count); // 0 waiting, 1 answered, 2 given up
  const lat = new Latency();
  const r = { sent: 0, received: 0, bad: 0, duplicates: 0, bytes: 0 };
  const msg = Buffer.alloc(Math.max(o.size, 4));
  let inflight = 0;
  let oldest = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const start = performance.now();
  let last = start;

  const fill = () => {
    const window = r.received > 0 ? o.window : 1;
    while (inflight < window && r.sent < o.count) {
      const seq = r.sent++;
      msg.writeUInt32BE(seq, 0);
      for (let i = 4; i < msg.length; i++) msg[i] = udpByte(seq, i);
      sentAt[seq] = performance.now();
      inflight++;
      sock.send(msg, o.port, o.dst); // copied by the stack (or by the socket when it waits)
    }
    if (oldest === o.count) done();
  };
  const expire = () => {
    const now = performance.now();
    while (oldest < r.sent && (state[oldest] !== 0 || now - sentAt[oldest] > o.timeoutMs)) {
      if (state[oldest] === 0) {
        state[oldest] = 2;
        inflight--;
      }
      oldest++;
    }
    fill();
  };
  sock.on('message', (reply) => {
    const now = performance.now();
    const seq = reply.length >= 4 ? reply.readUInt32BE(0) : -1;
    let ok = seq >= 0 && seq < r.sent && reply.length === msg.length;
    for (let i = 4; ok && i < reply.length; i++) ok = reply[i] === udpByte(seq, i);
    if (!ok) r.bad++;
    else if (state[seq] === 1) r.duplicates++;
    else {
      if (state[seq] === 0) inflight--;
      state[seq] = 1;
      r.received++;
      r.bytes += reply.length;
      lat.add((now - sentAt[seq]) * 1000);
      last = now;
    }
    expire();
  });
  sock.on('error', (err) => process.stderr.write(`nstack-echo: ${err.message}\n`));
  const timer = setInterval(expire, Math.max(10, Math.min(200, o.timeoutMs / 4)));
  try {
    fill();
    await finished;
  } finally {
    clearInterval(timer);
    sock.close();
  }
  return result(o, sock.route, r, (last - start) / 1000, lat);
}

async function tcpClient(o: EchoClientOptions): Promise<EchoResult> {
  const sock = nstack.connect({ port: o.port, host: o.dst, stack: o.stack, noDelay: true });
  const lat = new Latency();
  const r = { sent: 0, received: 0, bad: 0, duplicates: 0, bytes: 0 };
  const sentAt = new Float64Array(o.count);
  const total = o.count * o.size;
  let txOffset = 0;
  let rxOffset = 0;
  let failure: Error | null = null;
  sock.on('error', (err) => (failure = err));
  await Promise.race([once(sock, 'connect'), once(sock, 'close')]);
  if (failure !== null) throw failure;
  const start = performance.now();
  let last = start;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  let blocked = false;

  const fill = () => {
    while (!blocked && r.sent < o.count && r.sent - r.received < o.window) {
      const m = Buffer.allocUnsafe(o.size);
      for (let i = 0; i < o.size; i++) m[i] = tcpByte(txOffset + i);
      txOffset += o.size;
      sentAt[r.sent++] = performance.now();
      if (!sock.write(m)) blocked = true;
    }
  };
  sock.on('drain', () => {
    blocked = false;
    fill();
  });
  sock.on('data', (d: Buffer) => {
    const now = performance.now();
    for (let i = 0; i < d.length; i++) if (d[i] !== tcpByte(rxOffset + i)) r.bad++;
    rxOffset += d.length;
    while (r.received < r.sent && rxOffset >= (r.received + 1) * o.size) {
      lat.add((now - sentAt[r.received]) * 1000);
      r.received++;
      last = now;
    }
    r.bytes = Math.min(rxOffset, total);
    if (r.received === o.count) done();
    else fill();
  });
  sock.on('close', () => done());
  fill();
  await finished;
  sock.end();
  if (!sock.closed) await Promise.race([once(sock, 'close'), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  sock.destroy();
  if (r.received < o.count && failure !== null) throw failure;
  return result(o, sock.route, r, (last - start) / 1000, lat);
}
