/**
 * nmemif-sender: sends Ethernet/IPv4 frames over a memif interface, ICMP echo requests by
 * default, and matches every echo reply (loss, latency percentiles). See usage() below.
 */
import { DEVARGS_HELP } from '../src';
import { addr, choice, num, parse, range, seconds } from './lib/args';
import { runTool } from './lib/errors';
import { describe, openLink, stopSignal, waitForLink } from './lib/link';
import { MAX_FRAME, MIN_FRAME, formatMac, parseIPv4, parseMac } from './lib/packets';
import { PcapWriter } from './lib/pcap';
import { SenderEngine, type SenderResult } from './lib/sender-engine';
import { si } from './lib/stats';
import { StatusLine } from './lib/status';

const TOOL = 'nmemif-sender';

function usage(): string {
  return `Usage: ${TOOL} [options]

Sends Ethernet/IPv4 frames over memif; with ICMP, matches every echo reply to its request.

Options:
  --memif DEVARGS     the interface, as DPDK net_memif devargs (key=value,...); keys:
${DEVARGS_HELP.map((l) => `                        ${l}`).join('\n')}
                      default: role=client,socket=/run/vpp/memif.sock,id=0
  --proto icmp        ICMP echo requests, replies matched (default)
  --proto udp         UDP datagrams to port 9 (discard), no replies expected
  --size N|MIN-MAX    frame bytes, ${MIN_FRAME} to ${MAX_FRAME}, random within MIN-MAX (default 64)
  --count N           stop after N frames (default: no limit)
  --rate PPS          frames per second (default 0: as fast as the peer takes them)
  --duration S        stop sending after S seconds (default: no limit)
  --dst-mac MAC       destination MAC (default: asked with ARP, else broadcast)
  --dst-ip IP         destination IPv4 address (default 192.168.1.1)
  --src-mac MAC       source MAC (default: mac= of --memif, else 02:fe:xx:xx:xx:xx)
  --src-ip IP         source IPv4 address (default 192.168.1.2)
  --queues N          queue pairs, 1 to 255 (default: queues= of --memif, else 1)
  --burst N           frames per burst and queue, 1 to 256 (default 32)
  --window N          ICMP: at most N requests without a reply in flight (default 512;
                      0: no limit, a flood that can overrun the peer's answers)
  --wait S            after the last frame, wait S seconds for replies (default 1)
  --link-timeout S    give up if the link is not up within S seconds, at the start and
                      whenever it goes down during the run (default 10; the run resumes
                      when it comes back, and --count counts frames actually sent)
  --stall-timeout S   end the run when the peer takes no frame for S seconds while frames
                      wait (it stopped reading; default 10, 0: never)
  --hold S            keep the link up S seconds after the summary (so a peer such as
                      testpmd can read its counters before the link drops; default 0)
  --max-loss N        exit with status 1 when more than N replies are missing (default 0)
  --pcap FILE         write every frame sent and received to FILE (pcap)
  --json              print one JSON object with the results at the end
  -h, --help          show this help

Ends at --count or --duration, or on SIGINT/SIGTERM, with a summary.
Exit status: 0 ok, 1 more than --max-loss lost or the run cut short (peer stalled, link
down for longer than --link-timeout), 2 usage or link error.`;
}

const OPTIONS = {
  memif: { type: 'string' },
  proto: { type: 'string' },
  size: { type: 'string' },
  count: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  'dst-mac': { type: 'string' },
  'dst-ip': { type: 'string' },
  'src-mac': { type: 'string' },
  'src-ip': { type: 'string' },
  queues: { type: 'string' },
  burst: { type: 'string' },
  wait: { type: 'string' },
  window: { type: 'string' },
  'link-timeout': { type: 'string' },
  'stall-timeout': { type: 'string' },
  hold: { type: 'string' },
  'max-loss': { type: 'string' },
  pcap: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(): Promise<number> {
  const v = parse(process.argv.slice(2), OPTIONS) as Record<string, string | undefined> & { json?: boolean; help?: boolean };
  if (v.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const proto = choice('proto', v.proto, ['icmp', 'udp'] as const, 'icmp');
  const sizes = range('size', v.size, MIN_FRAME, MAX_FRAME) ?? [64, 64];
  const count = num('count', v.count, 1, Number.MAX_SAFE_INTEGER);
  const rate = num('rate', v.rate, 0, 1e9);
  const durationMs = seconds('duration', v.duration);
  const dstMacArg = addr('dst-mac', v['dst-mac'], parseMac, 'a MAC address xx:xx:xx:xx:xx:xx');
  const dstIp = addr('dst-ip', v['dst-ip'], parseIPv4, 'an IPv4 address') ?? parseIPv4('192.168.1.1')!;
  const srcMacArg = addr('src-mac', v['src-mac'], parseMac, 'a MAC address xx:xx:xx:xx:xx:xx');
  const srcIp = addr('src-ip', v['src-ip'], parseIPv4, 'an IPv4 address') ?? parseIPv4('192.168.1.2')!;
  const queues = num('queues', v.queues, 1, 255);
  const burst = num('burst', v.burst, 1, 256) ?? 32;
  const window = num('window', v.window, 0, 65536) ?? 512;
  const replyWaitMs = seconds('wait', v.wait, 3600) ?? 1000;
  const linkMs = seconds('link-timeout', v['link-timeout'], 3600) ?? 10000;
  const stallMs = seconds('stall-timeout', v['stall-timeout'], 3600) ?? 10000;
  const holdMs = seconds('hold', v.hold, 3600) ?? 0;
  const maxLoss = num('max-loss', v['max-loss'], 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const json = v.json === true;

  const stop = stopSignal();
  const link = openLink(v.memif, { queues, name: TOOL });
  let pcap: PcapWriter | undefined;
  try {
    pcap = v.pcap === undefined ? undefined : new PcapWriter(v.pcap);
    const note = (s: string) => process.stderr.write(`${TOOL}: ${s}\n`);
    note(`waiting for the link: ${describe(link)}`);
    await waitForLink(link, linkMs, stop.signal);
    const d = link.iface.details();
    note(`link up: ${describe(link)}, peer "${d.peerAppName}" (${d.peerName || 'no name'}), ${d.rxQueues} queue(s), ring ${1 << d.log2RingSize}${d.bufferSize ? `, buffers ${d.bufferSize} B` : ''}`);

    const srcMac = srcMacArg ?? link.mac;
    const engine = new SenderEngine(link.iface, {
      proto,
      sizes,
      count,
      rate,
      durationMs,
      addrs: { srcMac, dstMac: dstMacArg ?? new Uint8Array(6).fill(0xff), srcIp, dstIp },
      queues: link.queues,
      burst,
      replyWaitMs,
      window,
      pcap,
      stallTimeoutMs: stallMs,
      linkTimeoutMs: linkMs,
    });
    if (dstMacArg === undefined) {
      const mac = await engine.resolve(dstIp, 3, 300, stop.signal);
      if (mac) {
        engine.o.addrs.dstMac = mac;
        note(`${v['dst-ip'] ?? '192.168.1.1'} is at ${formatMac(mac)}`);
      } else note(`no ARP reply for ${v['dst-ip'] ?? '192.168.1.1'}: sending to ff:ff:ff:ff:ff:ff (give --dst-mac to choose)`);
    }
    let downAt = 0;
    const onDown = (reason: string) => {
      downAt = performance.now();
      note(`link down: ${reason}`);
    };
    const onUp = () => note(`link up again after ${((performance.now() - downAt) / 1000).toFixed(1)} s: resuming`);
    link.iface.on('disconnect', onDown);
    link.iface.on('connect', onUp);
    stop.signal.addEventListener('abort', () => link.iface.off('disconnect', onDown)); // our own close follows
    const status = new StatusLine(() => {
      const now = engine.liveRate();
      return (
        `sent ${si(engine.sent)}  now ${si(now.pps)} pps ${now.mbps.toFixed(1)} Mbit/s  avg ${si(engine.pps)} pps ${engine.mbps.toFixed(1)} Mbit/s  ring-full ${si(engine.ringFull)}` +
        (proto === 'icmp' ? `  replies ${si(engine.replies)}  unanswered ${si(engine.outstanding)}  rtt p50 ${engine.latency.percentile(50)?.toFixed(1) ?? '-'} us` : '')
      );
    });
    const r = await engine.run(stop.signal);
    status.stop();
    engine.detach();
    link.iface.off('connect', onUp);
    if (r.end_reason === 'stalled') note(`the peer took no frame for ${stallMs / 1000} s: ending the run`);
    if (r.end_reason === 'link-down') note(`the link stayed down for ${linkMs / 1000} s: ending the run`);
    if (json) process.stdout.write(`${JSON.stringify({ ...r, max_loss: maxLoss, link: linkInfo(link) })}\n`);
    else process.stdout.write(summary(r, v['dst-ip'] ?? '192.168.1.1'));
    if (holdMs > 0 && !stop.signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, holdMs);
        stop.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const cutShort = r.end_reason === 'stalled' || r.end_reason === 'link-down';
    return cutShort || (proto === 'icmp' && r.lost > maxLoss) ? 1 : 0;
  } finally {
    pcap?.close();
    link.iface.removeAllListeners('disconnect');
    link.socket.close();
    stop.off();
  }
}

function linkInfo(link: ReturnType<typeof openLink>) {
  return { socket: link.devargs.socket.path, id: link.iface.id, role: link.iface.role === 'master' ? 'server' : 'client', queues: link.queues };
}

function summary(r: SenderResult, dst: string): string {
  const lines = [`--- ${dst} memif ${r.proto} statistics ---`];
  lines.push(`${r.sent} frames sent in ${r.duration_s.toFixed(2)} s: ${si(r.pps)} pps, ${r.mbps.toFixed(1)} Mbit/s (ring full ${r.ring_full} times)`);
  if (r.link_downs > 0) lines.push(`link down ${r.link_downs} time(s), ${r.link_down_s.toFixed(2)} s in all`);
  if (r.proto === 'icmp') {
    const pct = r.sent ? ((100 * r.lost) / r.sent).toFixed(2) : '0.00';
    lines.push(`${r.replies} replies, ${r.lost} lost (${pct}%), ${r.bad_replies} bad, ${r.duplicates} duplicate`);
    const l = r.latency_us;
    if (l.p50 !== null) lines.push(`rtt min/p50/p90/p99/max = ${l.min}/${l.p50}/${l.p90}/${l.p99}/${l.max} us`);
  }
  return `${lines.join('\n')}\n`;
}

/** Runs the tool with process.argv (the bin launcher calls this). */
export function cli(): void {
  runTool(TOOL, main);
}
if (require.main === module) cli();
