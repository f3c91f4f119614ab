/**
 * nmemif-responder: answers ARP and ICMP echo (and IPv6 neighbour solicitation and ICMPv6
 * echo) over a memif interface, in place by zero-copy swap as the slave, by copy as the
 * master. See usage() below.
 */
import { DEVARGS_HELP } from '../src';
import { addr, num, parse, seconds } from './lib/args';
import { runTool } from './lib/errors';
import { describe, openLink, stopSignal, waitForLink } from './lib/link';
import { formatMac, parseIPv4, parseIPv6, parseMac } from './lib/packets';
import { PcapWriter } from './lib/pcap';
import { ResponderEngine, type ResponderCounters } from './lib/responder-engine';
import { si } from './lib/stats';
import { StatusLine } from './lib/status';

const TOOL = 'nmemif-responder';

function usage(): string {
  return `Usage: ${TOOL} [options]

Answers ARP and ICMP echo for --ip (neighbour solicitation and ICMPv6 echo for --ip6) over
memif: in place by zero-copy buffer swap as the client (slave), by copy as the server (master).

Options:
  --memif DEVARGS     the interface, as DPDK net_memif devargs (key=value,...); keys:
${DEVARGS_HELP.map((l) => `                        ${l}`).join('\n')}
                      default: role=client,socket=/run/vpp/memif.sock,id=0
  --ip IP             IPv4 address to answer for (default 192.168.1.1)
  --ip6 IP6           IPv6 address to answer for (default: none)
  --mac MAC           our MAC (default: mac= of --memif, else 02:fe:xx:xx:xx:xx)
  --queues N          queue pairs, 1 to 255 (default: queues= of --memif, else 1)
  --duration S        stop after S seconds (default: until SIGINT/SIGTERM)
  --link-timeout S    give up if the link is not up within S seconds (default: wait forever)
  --pcap FILE         write every frame received and sent to FILE (pcap)
  --json              print the counters as one JSON object at the end
  -h, --help          show this help

Runs until SIGINT/SIGTERM or --duration, then prints its counters.
Exit status: 0 ok, 2 usage or link error.`;
}

const OPTIONS = {
  memif: { type: 'string' },
  ip: { type: 'string' },
  ip6: { type: 'string' },
  mac: { type: 'string' },
  queues: { type: 'string' },
  duration: { type: 'string' },
  'link-timeout': { type: 'string' },
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
  const ip = addr('ip', v.ip, parseIPv4, 'an IPv4 address') ?? parseIPv4('192.168.1.1')!;
  const ip6 = addr('ip6', v.ip6, parseIPv6, 'an IPv6 address');
  const macArg = addr('mac', v.mac, parseMac, 'a MAC address xx:xx:xx:xx:xx:xx');
  const queues = num('queues', v.queues, 1, 255);
  const durationMs = seconds('duration', v.duration);
  const linkMs = seconds('link-timeout', v['link-timeout'], 3600);
  const json = v.json === true;

  const stop = stopSignal();
  const link = openLink(v.memif, { queues, name: TOOL });
  let pcap: PcapWriter | undefined;
  try {
    pcap = v.pcap === undefined ? undefined : new PcapWriter(v.pcap);
    const note = (s: string) => process.stderr.write(`${TOOL}: ${s}\n`);
    const mac = macArg ?? link.mac;
    const started = performance.now();
    const engine = new ResponderEngine(link.iface, { mac, ip, ip6 }, link.queues, pcap);
    const end = new Promise<void>((resolve) => {
      stop.signal.addEventListener('abort', () => resolve());
      if (durationMs !== undefined) setTimeout(resolve, durationMs).unref();
    });
    link.iface.on('connect', () => {
      const d = link.iface.details();
      note(
        `link up: ${describe(link)}, peer "${d.peerAppName}", answering for ${v.ip ?? '192.168.1.1'}${v.ip6 ? ` and ${v.ip6}` : ''} ` +
          `at ${formatMac(mac)} (${link.iface.role === 'slave' ? 'zero-copy swap' : 'copy'})`,
      );
    });
    const onDown = (reason: string) => note(`link down: ${reason}`);
    link.iface.on('disconnect', onDown);
    stop.signal.addEventListener('abort', () => link.iface.off('disconnect', onDown)); // our own close follows
    note(`waiting for the link: ${describe(link)}`);
    if (linkMs !== undefined) {
      const up = waitForLink(link, linkMs, stop.signal);
      const early = await Promise.race([up.then(() => false), end.then(() => true)]);
      if (early) up.catch(() => undefined);
    }
    let last = { at: started, tx: 0 };
    const status = new StatusLine(() => {
      const now = performance.now();
      const live = ((engine.c.tx - last.tx) * 1000) / (now - last.at);
      last = { at: now, tx: engine.c.tx };
      const avg = (engine.c.tx * 1000) / (now - started);
      return `rx ${si(engine.c.rx)}  tx ${si(engine.c.tx)}  now ${si(live)} answers/s  avg ${si(avg)} answers/s  arp ${engine.c.arp}  dropped ${si(engine.c.dropped)}`;
    });
    await end;
    status.stop();
    engine.detach();
    const c = engine.c;
    if (json) process.stdout.write(`${JSON.stringify({ ...c, link: { socket: link.devargs.socket.path, id: link.iface.id, role: link.iface.role === 'master' ? 'server' : 'client' } })}\n`);
    else process.stdout.write(summary(c));
    return 0;
  } finally {
    pcap?.close();
    link.iface.removeAllListeners('disconnect');
    link.socket.close();
    stop.off();
  }
}

function summary(c: ResponderCounters): string {
  return (
    `rx ${c.rx} frames, tx ${c.tx} answers (${c.zero_copy} zero-copy, ${c.copied} copied): ` +
    `arp ${c.arp}, icmp ${c.icmp}, nd ${c.nd}, icmp6 ${c.icmp6}; dropped ${c.dropped} (tx ring full ${c.tx_full})\n`
  );
}

/** Runs the tool with process.argv (the bin launcher calls this). */
export function cli(): void {
  runTool(TOOL, main);
}
if (require.main === module) cli();

