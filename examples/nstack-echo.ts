/**
 * nstack-echo: UDP and TCP echo server and client over nStack sockets, in the spirit of DMM's
 * vs/vc/ks/kc test apps: the same code runs on the kernel stack or on lwIP over memif, chosen by
 * nRD rules, --stack or --memif. See usage() below.
 */
import { isIP } from 'node:net';
import { nstack } from '../src';
import { choice, num, parse, seconds } from './lib/args';
import { startEchoServer, type EchoCounters } from './lib/echo-server';
import { runEchoClient, type EchoResult } from './lib/echo-client';
import { UsageError, runTool } from './lib/errors';
import { stopSignal } from './lib/link';
import { explain, setupStacks, waitForInterface, type StackChoice } from './lib/nstack-setup';

const TOOL = 'nstack-echo';

function usage(): string {
  return `Usage: ${TOOL} server --proto udp|tcp --port P [options]
       ${TOOL} client --proto udp|tcp --dst ADDR --port P --count N --size N [options]

UDP and TCP echo over nStack sockets: the server answers every datagram (or echoes the
stream); the client sends --count messages of --size bytes with at most --window unanswered,
checks every reply byte and measures round trips.

Where the sockets go (default: nRD's choice; without rules, the kernel):
  --rules FILE        nRD rules (JSON): prefixes and protocols -> planes, a default plane
  --stack S           every socket on stack S: kernel or lwip
  --memif DEVARGS     create the lwIP stack with one interface over this memif link (DPDK
                      net_memif devargs, e.g. role=client,socket=/tmp/m.sock,id=0); without
                      --rules or --stack, every socket goes to lwIP
  --ip ADDR/LEN       the lwIP interface's IPv4 address, e.g. 10.0.0.2/24
  --explain           print which plane and stack the socket would use, and why; then exit

Server:
  --proto udp|tcp     (default udp)
  --port P            port to listen on
  --bind ADDR         address to listen on (default: the --ip address, else 0.0.0.0)
  --epoll             run as a DMM-style EventPoll loop (recvBatch / accept / read until empty)
  --duration S        stop after S seconds (default: until SIGINT/SIGTERM)
  --json              print the counters as one JSON object at the end

Client:
  --proto udp|tcp     (default udp)
  --dst ADDR          server address
  --port P            server port
  --count N           messages to send (default 1000)
  --size N            bytes per message, 4 to 65507 for udp (default 64)
  --window N          most messages unanswered at a time (default 16)
  --timeout S         udp: a datagram unanswered for S seconds is lost (default 1)
  --link-timeout S    wait at most S seconds for the lwIP interface to come up (default 10)
  --json              print the result as one JSON object: sent, received, lost, bad, bytes,
                      rate, latency_us {min, p50, p90, p99, max}, plane, stack
  -h, --help          show this help

Exit status: 0 ok (client: every message answered intact), 1 loss or corruption, 2 usage error.`;
}

const OPTIONS = {
  proto: { type: 'string' },
  port: { type: 'string' },
  bind: { type: 'string' },
  dst: { type: 'string' },
  count: { type: 'string' },
  size: { type: 'string' },
  window: { type: 'string' },
  timeout: { type: 'string' },
  'link-timeout': { type: 'string' },
  rules: { type: 'string' },
  stack: { type: 'string' },
  memif: { type: 'string' },
  ip: { type: 'string' },
  epoll: { type: 'boolean' },
  duration: { type: 'string' },
  explain: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | undefined> & { epoll?: boolean; explain?: boolean; json?: boolean; help?: boolean };

async function main(): Promise<number> {
  const [role, ...rest] = process.argv.slice(2);
  if (role === '-h' || role === '--help' || role === undefined) {
    process.stdout.write(`${usage()}\n`);
    return role === undefined ? 2 : 0;
  }
  if (role !== 'server' && role !== 'client') throw new UsageError(`the first argument is server or client, got ${JSON.stringify(role)}`);
  const v = parse(rest, OPTIONS) as Values;
  if (v.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const proto = choice('proto', v.proto, ['udp', 'tcp'] as const, 'udp');
  const stack = v.stack === undefined ? undefined : choice('stack', v.stack, ['kernel', 'lwip'] as const, 'kernel' as StackChoice);
  const ifaceIp = v.ip === undefined ? undefined : checkCidr(v.ip);
  return role === 'server' ? server(v, proto, stack, ifaceIp) : client(v, proto, stack);
}

function checkCidr(text: string): string {
  const [addr, len] = text.split('/');
  if (isIP(addr) !== 4 || !/^[0-9]{1,2}$/.test(len ?? '') || Number(len) > 32) throw new UsageError(`--ip takes an IPv4 address with its prefix length, like 10.0.0.2/24, got ${JSON.stringify(text)}`);
  return text;
}

function required(name: string, value: string | undefined): string {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

async function server(v: Values, proto: 'udp' | 'tcp', stack: StackChoice | undefined, ip: string | undefined): Promise<number> {
  const port = num('port', required('port', v.port), 0, 65535)!;
  const address = v.bind ?? ip?.split('/')[0] ?? '0.0.0.0';
  if (isIP(address) === 0) throw new UsageError(`--bind takes an IP address, got ${JSON.stringify(address)}`);
  const durationMs = seconds('duration', v.duration);
  const stop = stopSignal();
  const setup = setupStacks({ stack, memif: v.memif, ip, rules: v.rules });
  try {
    if (v.explain) {
      process.stdout.write(`${explain(setup, address, proto)}\n`);
      return 0;
    }
    const srv = await startEchoServer({ proto, address, port, stack: setup.pinned, epoll: v.epoll === true });
    const where = srv.address;
    process.stderr.write(
      `${TOOL}: ${proto} echo listening on ${where?.address}:${where?.port} (plane ${srv.route?.plane}, stack ${srv.route?.stack}${v.epoll ? ', EventPoll loop' : ''})\n`,
    );
    await new Promise<void>((resolve) => {
      stop.signal.addEventListener('abort', () => resolve());
      if (durationMs !== undefined) setTimeout(resolve, durationMs);
    });
    const c = srv.counters;
    srv.close();
    const out = { proto, plane: srv.route?.plane ?? null, stack: srv.route?.stack ?? null, port: where?.port ?? port, ...c };
    process.stdout.write(v.json ? `${JSON.stringify(out)}\n` : serverSummary(proto, c));
    return 0;
  } finally {
    setup.close();
    stop.off();
  }
}

function serverSummary(proto: string, c: EchoCounters): string {
  const unit = proto === 'udp' ? 'datagrams' : 'chunks';
  return `received ${c.received} ${unit} (${c.bytes} bytes), sent ${c.sent}${proto === 'tcp' ? `, ${c.connections} connections` : ''}\n`;
}

async function client(v: Values, proto: 'udp' | 'tcp', stack: StackChoice | undefined): Promise<number> {
  const dst = required('dst', v.dst);
  if (isIP(dst) === 0) throw new UsageError(`--dst takes an IP address, got ${JSON.stringify(dst)}`);
  const port = num('port', required('port', v.port), 1, 65535)!;
  const count = num('count', v.count, 1, 100_000_000) ?? 1000;
  const size = num('size', v.size, proto === 'udp' ? 4 : 1, proto === 'udp' ? 65507 : 1 << 24) ?? 64;
  const window = num('window', v.window, 1, 65536) ?? 16;
  const timeoutMs = seconds('timeout', v.timeout, 3600) ?? 1000;
  const linkMs = seconds('link-timeout', v['link-timeout'], 3600) ?? 10_000;
  const setup = setupStacks({ stack, memif: v.memif, ip: v.ip, rules: v.rules });
  try {
    if (v.explain) {
      process.stdout.write(`${explain(setup, dst, proto)}\n`);
      return 0;
    }
    await waitForInterface(setup, linkMs);
    const r = await runEchoClient({ proto, dst, port, count, size, window, timeoutMs, stack: setup.pinned });
    process.stdout.write(v.json ? `${JSON.stringify(r)}\n` : clientSummary(r));
    return r.received === r.sent && r.sent === count && r.bad === 0 ? 0 : 1;
  } finally {
    setup.close();
  }
}

function clientSummary(r: EchoResult): string {
  const l = r.latency_us;
  return (
    `${r.proto} to ${r.dst}:${r.port} over plane ${r.plane} (stack ${r.stack}): sent ${r.sent}, received ${r.received}, lost ${r.lost}, bad ${r.bad}, ` +
    `${r.bytes} bytes in ${r.seconds} s, ${r.rate} round trips/s\n` +
    `round trip: min ${l.min} us, p50 ${l.p50} us, p90 ${l.p90} us, p99 ${l.p99} us, max ${l.max} us\n`
  );
}

/** Runs the tool with process.argv (the bin launcher calls this). */
export function cli(): void {
  runTool(TOOL, main);
}
if (require.main === module) cli();
