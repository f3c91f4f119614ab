/**
 * nmemif-bridge: cross-connects a memif link with a DPDK port (or another memif link) on native
 * workers, with a control socket; `nmemif-bridge show|stats|add|del` talk to a running one.
 * See usage() below.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  Bridge,
  ControlServer,
  DEFAULT_CONTROL_PATH,
  configFromFlags,
  controlRequest,
  drops,
  loadConfigFile,
  type BridgeConfig,
  type ControlReply,
  type PortCounters,
  type PortStatus,
} from './index';
// The command-line helpers the other tools share (parsing, errors, signals, status line).
import { num, seconds } from '../../examples/lib/args';
import { ToolError, UsageError, runTool } from '../../examples/lib/errors';
import { stopSignal } from '../../examples/lib/link';
import { si } from '../../examples/lib/stats';
import { StatusLine } from '../../examples/lib/status';

const TOOL = 'nmemif-bridge';

function usage(): string {
  return `Usage: ${TOOL} --memif DEVARGS (--dpdk DEVARGS | --memif DEVARGS) [options]
       ${TOOL} --config FILE [options]
       ${TOOL} show|stats [--control PATH] [--json]
       ${TOOL} add --name NAME (--memif DEVARGS | --dpdk DEVARGS) [--queues N] [--link PORT] [--control PATH] [--json]
       ${TOOL} del NAME [--control PATH] [--json]

Bridges a memif link with a DPDK port (vdev or PCI), or two memif links, on native worker
threads; the subcommands talk to a running bridge through its control socket.

Options:
  --memif DEVARGS       a memif port, as net_memif devargs (role=,socket=,id=,...); twice for memif <-> memif
  --dpdk DEVARGS        a DPDK port: vdev devargs (net_af_packet0,iface=veth0) or a PCI address
  --eal "ARGS"          extra EAL arguments (default: --no-huge, see DESIGN.md)
  --config FILE         a JSON configuration file (ports, links, eal, burst, control) instead of --memif/--dpdk
  --control PATH        the control socket (default: "control" of --config, else ${DEFAULT_CONTROL_PATH}; "none": no socket)
  --burst N             packets per burst, 1 to 256 (default 64)
  --idle-sleep-us N     worker sleep when idle, microseconds, 0 to 1000000 (default 50)
  --cpu N               pin the forwarding worker to CPU N (default: not pinned)
  --duration S          stop after S seconds (default: until SIGINT/SIGTERM)
  --json                print the counters (or the subcommand's reply) as one JSON object
  --name NAME           add: the new port's name; del: the port to remove
  --queues N            add: queue pairs of the new port
  --link PORT           add: cross-connect the new port with PORT (an unlinked port)
  -h, --help            show this help

Runs until SIGINT/SIGTERM or --duration, then prints its counters.
Exit status: 0 ok, 1 a subcommand the bridge refused, 2 usage, configuration or link error.`;
}

/** `--eal "--no-huge ..."`: EAL arguments start with a dash, which parseArgs would take for an
 * option; glue the value to its flag so the documented spelling works. */
function joinEal(argv: string[]): string[] {
  const out: string[] = [];
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === '--eal' && k + 1 < argv.length) out.push(`--eal=${argv[++k]}`);
    else out.push(argv[k]);
  }
  return out;
}

const RUN_OPTIONS = {
  memif: { type: 'string', multiple: true },
  dpdk: { type: 'string', multiple: true },
  eal: { type: 'string' },
  config: { type: 'string' },
  control: { type: 'string' },
  burst: { type: 'string' },
  'idle-sleep-us': { type: 'string' },
  cpu: { type: 'string' },
  duration: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const CLIENT_OPTIONS = {
  control: { type: 'string' },
  json: { type: 'boolean' },
  name: { type: 'string' },
  memif: { type: 'string' },
  dpdk: { type: 'string' },
  queues: { type: 'string' },
  link: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SUBCOMMANDS = ['show', 'stats', 'add', 'del'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

function note(s: string): void {
  process.stderr.write(`${TOOL}: ${s}\n`);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if ((SUBCOMMANDS as readonly string[]).includes(argv[0])) return client(argv[0] as Sub, argv.slice(1));
  if (argv[0] !== undefined && !argv[0].startsWith('-')) throw new UsageError(`unknown subcommand "${argv[0]}"; accepted: ${SUBCOMMANDS.join(', ')} (or options to run a bridge)`);
  return run(argv);
}

// ---------------------------------------------------------------------------------------------
// Running a bridge

async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: joinEal(argv), options: RUN_OPTIONS, strict: true, allowPositionals: true });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (v.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const burst = num('burst', v.burst, 1, 256);
  const idleSleepUs = num('idle-sleep-us', v['idle-sleep-us'], 0, 1000000);
  const cpu = num('cpu', v.cpu, 0, 1023);
  const durationMs = seconds('duration', v.duration);
  const json = v.json === true;
  let config: BridgeConfig;
  if (v.config !== undefined) {
    if (v.memif || v.dpdk) throw new UsageError('give either --config FILE or --memif/--dpdk, not both');
    config = loadConfigFile(v.config);
    if (burst !== undefined) config.burst = burst;
    if (idleSleepUs !== undefined) config.idleSleepUs = idleSleepUs;
    if (cpu !== undefined) throw new UsageError('--cpu goes in the "cpu" key of each link in --config FILE');
  } else {
    if (!v.memif && !v.dpdk) throw new UsageError('give the ports to bridge: --memif DEVARGS and --dpdk DEVARGS (or --memif twice), or --config FILE');
    config = configFromFlags({ memif: v.memif ?? [], dpdk: v.dpdk ?? [], eal: v.eal, burst, idleSleepUs, cpu });
  }
  if (v.eal !== undefined && v.config !== undefined) throw new UsageError('--eal goes in the "eal" key of --config FILE');
  const controlPath = controlPathOf(v.control ?? config.control ?? undefined, v.control === undefined && !config.control);
  for (const p of config.ports) {
    if (p.kind !== 'memif' || p.parsed.socket.path.startsWith('@')) continue;
    const dir = path.dirname(path.resolve(p.parsed.socket.path));
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new ToolError(`port ${p.name}: socket directory ${dir} does not exist (socket=${p.parsed.socket.path}): create it, or choose another socket= path`);
    }
  }

  const stop = stopSignal(); // before any socket exists (see examples/lib/link.ts)
  const bridge = new Bridge(config);
  let control: ControlServer | null = null;
  let status: StatusLine | null = null;
  try {
    bridge.on('link', (name, up, reason) => note(`link ${up ? 'up' : 'down'}: ${name}${reason ? ` (${reason})` : ''}`));
    bridge.on('error', (err) => note(`error: ${err.message}`));
    await bridge.start();
    if (controlPath !== null) {
      control = await ControlServer.listen(bridge, controlPath);
      note(`control socket ${controlPath}`);
    }
    note(`bridging ${config.links.map((l) => `${l.a} <-> ${l.b}`).join(', ') || '(no links)'}: ${config.ports.map((p) => `${p.name}=${p.kind}:${p.devargs}`).join(' ')}`);
    const started = performance.now();
    const end = new Promise<void>((resolve) => {
      stop.signal.addEventListener('abort', () => resolve());
      if (durationMs !== undefined) setTimeout(resolve, durationMs).unref();
    });
    const keepAlive = setInterval(() => undefined, 1 << 30); // the bridge's own handles are unref'd
    status = new StatusLine(() => statusLine(bridge.ports(), (performance.now() - started) / 1000));
    await end;
    clearInterval(keepAlive);
    status.stop();
    control?.close();
    const ports = bridge.ports();
    const stats = bridge.stats();
    const uptime = Math.round((performance.now() - started) / 10) / 100;
    bridge.stop();
    if (json) process.stdout.write(`${JSON.stringify({ uptime_s: uptime, ports: stats.ports, workers: stats.workers, links: config.links })}\n`);
    else process.stdout.write(summary(ports, uptime));
    return 0;
  } finally {
    status?.stop();
    control?.close();
    bridge.stop();
    stop.off();
  }
}

/** The control socket path; the default one gets its directory created if it can be. */
function controlPathOf(given: string | undefined, isDefault: boolean): string | null {
  if (given === 'none') return null;
  const file = given ?? DEFAULT_CONTROL_PATH;
  if (isDefault) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
    } catch (err) {
      throw new ToolError(`cannot create ${path.dirname(file)} for the control socket (${(err as NodeJS.ErrnoException).code}): run as root, or give --control PATH (or --control none)`);
    }
  }
  return file;
}

function statusLine(ports: PortStatus[], secs: number): string {
  return (
    `${secs.toFixed(0)} s  ` +
    ports.map((p) => `${p.name} ${p.up ? 'up' : 'DOWN'} rx ${si(p.counters.rxPackets)} tx ${si(p.counters.txPackets)} drop ${si(drops(p.counters))}`).join('  |  ')
  );
}

function counterLine(c: PortCounters): string {
  return (
    `rx ${c.rxPackets} pkts ${c.rxBytes} B, tx ${c.txPackets} pkts ${c.txBytes} B; ` +
    `drops: link down ${c.dropLinkDown}, tx full ${c.dropTxFull}, no mbuf ${c.dropNoMbuf}, too big ${c.dropTooBig}, rx errors ${c.rxErrors}`
  );
}

function summary(ports: PortStatus[], uptime: number): string {
  return `ran ${uptime} s\n${ports.map((p) => `${p.name} (${p.kind}, ${p.up ? 'up' : 'down'}): ${counterLine(p.counters)}\n`).join('')}`;
}

// ---------------------------------------------------------------------------------------------
// Subcommands: one request to a running bridge

async function client(sub: Sub, argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, options: CLIENT_OPTIONS, strict: true, allowPositionals: true });
  if (v.help) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const allowed: Record<Sub, string[]> = { show: [], stats: [], add: ['name', 'memif', 'dpdk', 'queues', 'link'], del: ['name'] };
  for (const k of Object.keys(v)) {
    if (!['control', 'json', 'help', ...allowed[sub]].includes(k)) throw new UsageError(`--${k} does not apply to "${sub}"`);
  }
  let name = v.name;
  if (sub === 'del' && positionals.length === 1 && name === undefined) name = positionals[0];
  else if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const file = v.control ?? DEFAULT_CONTROL_PATH;
  let req: Record<string, unknown>;
  if (sub === 'add') {
    if (!name) throw new UsageError('add needs --name NAME');
    if ((v.memif === undefined) === (v.dpdk === undefined)) throw new UsageError('add needs exactly one of --memif DEVARGS or --dpdk DEVARGS');
    const queues = num('queues', v.queues, 1, 255);
    const port: Record<string, unknown> = { name, ...(v.memif !== undefined ? { memif: v.memif } : { dpdk: v.dpdk }) };
    if (queues !== undefined) port.queues = queues;
    req = { cmd: 'add', port, ...(v.link !== undefined ? { link: v.link } : {}) };
  } else if (sub === 'del') {
    if (!name) throw new UsageError('del needs a port name: del NAME');
    req = { cmd: 'del', name };
  } else {
    req = { cmd: sub };
  }
  const reply = await controlRequest(file, req);
  if (v.json) process.stdout.write(`${JSON.stringify(reply)}\n`);
  else if (reply.ok) process.stdout.write(readable(sub, reply));
  if (!reply.ok) {
    note(`the bridge refused: ${reply.error.message} (${reply.error.code})`);
    return 1;
  }
  return 0;
}

function showPort(p: PortStatus): string {
  const d = Object.entries(p.detail)
    .filter(([k, x]) => x !== undefined && x !== null && x !== '' && k !== 'nic')
    .map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : String(x)}`)
    .join(' ');
  const q = p.queues.length > 1 ? p.queues.map((x) => `\n    queue ${x.queue}: ${counterLine(x.counters)}`).join('') : '';
  return `${p.name}  ${p.kind}  ${p.up ? 'up' : 'down'}  ${p.devargs}\n    ${d}\n    ${counterLine(p.counters)}${q}\n`;
}

function readable(sub: Sub, reply: Extract<ControlReply, { ok: true }>): string {
  switch (sub) {
    case 'show':
      return (reply.ports as PortStatus[]).map(showPort).join('') || '(no ports)\n';
    case 'stats': {
      const ports = reply.ports as Record<string, PortCounters>;
      const workers = reply.workers as Record<string, Record<string, number>>;
      return (
        Object.entries(ports).map(([n, c]) => `${n}: ${counterLine(c)}\n`).join('') +
        Object.entries(workers).map(([n, w]) => `worker ${n}: ${Object.entries(w).map(([k, x]) => `${k} ${x}`).join(', ')}\n`).join('')
      );
    }
    case 'add':
      return `added ${showPort(reply.port as PortStatus)}`;
    case 'del':
      return `deleted ${String(reply.name)}\n`;
  }
}

/** Runs the tool with process.argv (the bin launcher calls this). */
export function cli(): void {
  runTool(TOOL, main);
}
if (require.main === module) cli();
