/**
 * nmemif-loopback: a sender and a responder in one process over one memif socket in a
 * temporary directory: a self-check that needs no root, no hugepages and no DPDK.
 * The responder is the client (slave) and answers by zero-copy buffer swap; the sender is the
 * server (master). See usage() below.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemifSocket } from '../src';
import { choice, num, parse, range, seconds } from './lib/args';
import { runTool } from './lib/errors';
import { stopSignal } from './lib/link';
import { MAX_FRAME, MIN_FRAME, parseIPv4, randomMac } from './lib/packets';
import { ResponderEngine } from './lib/responder-engine';
import { SenderEngine } from './lib/sender-engine';
import { si } from './lib/stats';
import { StatusLine } from './lib/status';

const TOOL = 'nmemif-loopback';

function usage(): string {
  return `Usage: ${TOOL} [options]

Runs nmemif-sender (server) and nmemif-responder (client, zero-copy) in one process over one
memif socket in a temporary directory, and prints link, rate, latency and loss.

Options:
  --duration S        run for S seconds (default 5)
  --count N           stop after N frames instead
  --proto icmp        ICMP echo requests, replies matched (default)
  --proto udp         UDP datagrams (the responder counts and drops them)
  --size N|MIN-MAX    frame bytes, ${MIN_FRAME} to ${MAX_FRAME} (default 64)
  --rate PPS          frames per second (default 0: as fast as possible)
  --queues N          queue pairs, 1 to 255 (default 1)
  --rsize N           log2 ring size, 1 to 14 (default 10)
  --max-loss N        exit with status 1 when more than N replies are missing (default 0)
  --json              print one JSON object with the results at the end
  -h, --help          show this help

Exit status: 0 ok, 1 more than --max-loss lost (or the link never came up), 2 usage error.`;
}

const OPTIONS = {
  duration: { type: 'string' },
  count: { type: 'string' },
  proto: { type: 'string' },
  size: { type: 'string' },
  rate: { type: 'string' },
  queues: { type: 'string' },
  rsize: { type: 'string' },
  'max-loss': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(): Promise<number> {
  const v = parse(process.argv.slice(2), OPTIONS) as Record<string, string | undefined> & { json?: boolean; help?: boolean };
  if (v.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const count = num('count', v.count, 1, Number.MAX_SAFE_INTEGER);
  const durationMs = seconds('duration', v.duration) ?? (count === undefined ? 5000 : undefined);
  const proto = choice('proto', v.proto, ['icmp', 'udp'] as const, 'icmp');
  const sizes = range('size', v.size, MIN_FRAME, MAX_FRAME) ?? [64, 64];
  const rate = num('rate', v.rate, 0, 1e9);
  const queues = num('queues', v.queues, 1, 255) ?? 1;
  const log2RingSize = num('rsize', v.rsize, 1, 14) ?? 10;
  const maxLoss = num('max-loss', v['max-loss'], 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const json = v.json === true;
  const say = (s: string) => {
    if (!json) process.stdout.write(`${s}\n`);
  };

  const stop = stopSignal();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-loopback-'));
  const sockPath = path.join(dir, 'memif.sock');
  const server = new MemifSocket({ path: sockPath, appName: `${TOOL} sender` });
  const client = new MemifSocket({ path: sockPath, appName: `${TOOL} responder` });
  try {
    const common = { id: 0, rxQueues: queues, txQueues: queues, log2RingSize };
    const tx = server.createInterface({ ...common, role: 'server', name: 'sender' });
    const rx = client.createInterface({ ...common, role: 'client', name: 'responder' });
    const t0 = performance.now();
    const up = await Promise.race([
      Promise.all([once(tx, 'connect'), once(rx, 'connect')]).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref()),
    ]);
    if (!up) {
      process.stderr.write(`${TOOL}: the link did not come up within 5 s (${tx.lastDisconnectReason || rx.lastDisconnectReason || 'no reason given'})\n`);
      return 1;
    }
    const d = rx.details();
    say(`link up in ${(performance.now() - t0).toFixed(1)} ms: ${sockPath}, ${queues} queue pair(s), ring ${1 << d.log2RingSize}, buffers ${d.bufferSize} B`);
    const addrs = { srcMac: randomMac(), dstMac: randomMac(), srcIp: parseIPv4('192.168.1.2')!, dstIp: parseIPv4('192.168.1.1')! };
    const responder = new ResponderEngine(rx, { mac: addrs.dstMac, ip: addrs.dstIp }, queues);
    const sender = new SenderEngine(tx, { proto, sizes, count, rate, durationMs, addrs, queues });
    say(
      `sending ${proto === 'icmp' ? 'ICMP echo requests' : 'UDP datagrams'} of ${sizes[0] === sizes[1] ? sizes[0] : `${sizes[0]}-${sizes[1]}`} bytes ` +
        `${durationMs !== undefined ? `for ${durationMs / 1000} s` : `(${count} frames)`}; the responder answers by zero-copy swap`,
    );
    const status = new StatusLine(
      () => {
        const now = sender.liveRate();
        return (
          `sent ${si(sender.sent)}  now ${si(now.pps)} pps ${now.mbps.toFixed(1)} Mbit/s  avg ${si(sender.pps)} pps  replies ${si(sender.replies)}  ` +
          `rtt p50 ${sender.latency.percentile(50)?.toFixed(1) ?? '-'} us`
        );
      },
      250,
      process.stdout,
    );
    const r = await sender.run(stop.signal);
    status.stop();
    sender.detach();
    responder.detach();
    const c = responder.c;
    if (json) {
      process.stdout.write(`${JSON.stringify({ ...r, responder: c, queues })}\n`);
    } else {
      const l = r.latency_us;
      say(`sent ${r.sent} frames in ${r.duration_s.toFixed(2)} s: ${si(r.pps)} packets/s, ${r.mbps.toFixed(1)} Mbit/s`);
      if (proto === 'icmp') {
        say(`replies ${r.replies}, lost ${r.lost} (${r.sent ? ((100 * r.lost) / r.sent).toFixed(2) : '0.00'}%), bad ${r.bad_replies}, duplicate ${r.duplicates}`);
        if (l.p50 !== null) say(`round trip: min ${l.min} us, p50 ${l.p50} us, p90 ${l.p90} us, p99 ${l.p99} us, max ${l.max} us`);
      }
      say(`responder: rx ${c.rx}, answered ${c.tx} (${c.zero_copy} zero-copy), dropped ${c.dropped}`);
      const ok = proto !== 'icmp' || r.lost <= maxLoss;
      say(ok ? (r.lost === 0 ? 'OK: zero loss' : `OK: ${r.lost} lost (at most ${maxLoss} allowed)`) : `FAIL: ${r.lost} lost (at most ${maxLoss} allowed)`);
    }
    return proto === 'icmp' && r.lost > maxLoss ? 1 : 0;
  } finally {
    client.close();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
    stop.off();
  }
}

function once(emitter: { once(ev: 'connect', fn: () => void): unknown }, ev: 'connect'): Promise<void> {
  return new Promise((resolve) => emitter.once(ev, () => resolve()));
}

/** Runs the tool with process.argv (the bin launcher calls this). */
export function cli(): void {
  runTool(TOOL, main);
}
if (require.main === module) cli();
