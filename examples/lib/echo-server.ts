/**
 * The echo servers of nstack-echo, over nSockets: UDP answers each datagram to its sender, TCP
 * writes back what it reads (with backpressure). Each comes in two styles: Node-style events
 * ('message', 'connection', 'data') and, with --epoll, a DMM-style EventPoll loop (recvBatch,
 * accept, read until empty, EPOLLOUT while a write waits).
 */
import { nstack } from '../../src';

export interface EchoCounters {
  /** Datagrams (udp) or chunks (tcp) received. */
  received: number;
  sent: number;
  bytes: number;
  connections: number;
}

export interface EchoServer {
  readonly counters: EchoCounters;
  readonly route: nstack.Route | null;
  readonly address: nstack.AddressInfo | null;
  close(): void;
}

export interface EchoServerOptions {
  proto: 'udp' | 'tcp';
  address: string;
  port: number;
  stack: string | undefined;
  epoll: boolean;
}

export async function startEchoServer(o: EchoServerOptions): Promise<EchoServer> {
  if (o.proto === 'udp') return o.epoll ? udpEpoll(o) : udpEvents(o);
  return o.epoll ? tcpEpoll(o) : tcpEvents(o);
}

const family = (address: string): 'udp4' | 'udp6' => (address.includes(':') ? 'udp6' : 'udp4');

function counters(): EchoCounters {
  return { received: 0, sent: 0, bytes: 0, connections: 0 };
}

function bindUdp(sock: nstack.UdpSocket, o: EchoServerOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(o.port, o.address, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(server: nstack.TcpServer, o: EchoServerOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function udpEvents(o: EchoServerOptions): Promise<EchoServer> {
  const c = counters();
  const sock = nstack.createSocket({ type: family(o.address), stack: o.stack }, (msg, rinfo) => {
    c.received++;
    c.bytes += msg.length;
    sock.send(msg, rinfo.port, rinfo.address);
    c.sent++;
  });
  await bindUdp(sock, o);
  sock.on('error', (err) => process.stderr.write(`nstack-echo: ${err.message}\n`));
  return { counters: c, route: sock.route, address: sock.address(), close: () => sock.close() };
}

async function udpEpoll(o: EchoServerOptions): Promise<EchoServer> {
  const c = counters();
  const sock = nstack.createSocket({ type: family(o.address), stack: o.stack });
  await bindUdp(sock, o);
  sock.on('error', (err) => process.stderr.write(`nstack-echo: ${err.message}\n`));
  const ep = new nstack.EventPoll<null>();
  const list = nstack.createDatagramList({ count: 64 });
  ep.add(sock, nstack.EPOLLIN, null);
  ep.onReady(() => {
    const n = sock.recvBatch(list);
    for (let i = 0; i < n; i++) {
      const from = list.addresses[i];
      c.received++;
      c.bytes += list.lengths[i];
      sock.send(nstack.datagramAt(list, i), from.port, from.address); // copied if it has to wait
      c.sent++;
    }
  });
  return {
    counters: c,
    route: sock.route,
    address: sock.address(),
    close: () => {
      ep.close();
      sock.close();
    },
  };
}

async function tcpEvents(o: EchoServerOptions): Promise<EchoServer> {
  const c = counters();
  const server = nstack.createServer({ stack: o.stack }, (s) => {
    c.connections++;
    s.on('data', (d: Buffer) => {
      c.received++;
      c.bytes += d.length;
      c.sent++;
      if (!s.write(d)) s.pause();
    });
    s.on('drain', () => s.resume());
    s.on('error', () => undefined); // a client that goes away is not the server's problem
  });
  await listenTcp(server, o);
  return { counters: c, route: server.route, address: server.address(), close: () => server.close() };
}

async function tcpEpoll(o: EchoServerOptions): Promise<EchoServer> {
  const c = counters();
  const server = nstack.createServer({ stack: o.stack, allowHalfOpen: true });
  await listenTcp(server, o);
  const ep = new nstack.EventPoll<nstack.TcpSocket | null>();
  const { EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP } = nstack;
  const drop = (s: nstack.TcpSocket) => {
    if (ep.has(s)) ep.del(s);
    s.destroy();
  };
  ep.add(server, EPOLLIN, null);
  ep.onReady((events, s) => {
    if (s === null) {
      for (let n = server.accept(); n !== null; n = server.accept()) {
        c.connections++;
        n.on('error', () => drop(n));
        ep.add(n, EPOLLIN | EPOLLRDHUP, n);
      }
      return;
    }
    if (events & EPOLLHUP && !(events & EPOLLIN)) return drop(s);
    if (events & EPOLLOUT) ep.mod(s, EPOLLIN | EPOLLRDHUP); // the write that waited went out
    for (let d: Buffer | null = s.read(); d !== null; d = s.read()) {
      c.received++;
      c.bytes += d.length;
      c.sent++;
      if (!s.write(d)) {
        ep.mod(s, EPOLLOUT); // stop reading until the peer takes what we wrote
        return;
      }
    }
    if (events & EPOLLRDHUP) {
      ep.del(s);
      s.end();
    }
  });
  return {
    counters: c,
    route: server.route,
    address: server.address(),
    close: () => {
      ep.close();
      server.close();
    },
  };
}
