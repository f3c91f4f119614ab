/**
 * Bridge configuration: a JSON file (validated, errors name the bad field) or command-line
 * flags, both turned into one BridgeConfig.
 *
 * {
 *   "eal": ["--no-huge", "-m", "512"],            // extra EAL arguments (optional)
 *   "burst": 64, "idleSleepUs": 50, "control": "/run/nmemif-bridge.sock",
 *   "ports": [
 *     { "name": "m0", "memif": "role=server,socket=/run/m0.sock,id=0" },
 *     { "name": "d0", "dpdk": "net_af_packet0,iface=veth0", "queues": 1 }
 *   ],
 *   "links": [ { "a": "m0", "b": "d0", "cpu": 1 } ] // cross-connects, both directions; cpu pins
 *                                                  // the link's worker thread (optional)
 * }
 */
import * as fs from 'node:fs';
import { parseDevargs, type MemifDevargs } from '../memif/devargs';
import { BridgeConfigError } from '../errors';

/** A memif port of {@link BridgeConfig.ports}. */
export interface MemifPortConfig {
  /** The port's name, unique in the bridge. */
  name: string;
  /** Always 'memif'. */
  kind: 'memif';
  /** net_memif devargs ("role=server,socket=/run/m0.sock,id=0"). */
  devargs: string;
  /** The devargs, parsed. */
  parsed: MemifDevargs;
}

/** A DPDK port of {@link BridgeConfig.ports}. */
export interface DpdkPortConfig {
  /** The port's name, unique in the bridge. */
  name: string;
  /** Always 'dpdk'. */
  kind: 'dpdk';
  /** vdev devargs ("net_pcap0,rx_pcap=in.pcap") or a PCI address ("0000:03:00.0[,args]"). */
  devargs: string;
  /** Queue pairs (one per link worker). */
  queues: number;
  /** Size of the port's mbuf pool. */
  mbufs: number;
}

/** A port: memif or DPDK. */
export type PortConfig = MemifPortConfig | DpdkPortConfig;

/** A cross-connect of {@link BridgeConfig.links}: frames go both ways between ports a and b. */
export interface LinkConfig {
  /** One port's name. */
  a: string;
  /** The other port's name. */
  b: string;
  /** Pin the link's worker thread to this CPU (as a DPDK lcore is); null lets it float. */
  cpu: number | null;
}

/** A validated bridge configuration (from {@link parseConfig}, {@link loadConfigFile} or {@link configFromFlags}). */
export interface BridgeConfig {
  /** Extra EAL arguments (added to the defaults of {@link buildEalArgs}). */
  eal: string[];
  /** Packets per burst, 1 to 256. */
  burst: number;
  /** How long an idle worker sleeps when an input cannot signal, microseconds. */
  idleSleepUs: number;
  /** The control socket path, or null for none. */
  control: string | null;
  /** The ports. */
  ports: PortConfig[];
  /** The cross-connects between them. */
  links: LinkConfig[];
}

/** Values of the optional top-level keys. */
export const bridgeDefaults: Readonly<Pick<BridgeConfig, 'burst' | 'idleSleepUs' | 'control'>> = Object.freeze({ burst: 64, idleSleepUs: 50, control: null });

const TOP_KEYS = ['eal', 'burst', 'idleSleepUs', 'control', 'ports', 'links'];
const PORT_KEYS = ['name', 'memif', 'dpdk', 'queues', 'mbufs'];
const LINK_KEYS = ['a', 'b', 'cpu'];

function int(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new BridgeConfigError(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function str(field: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new BridgeConfigError(field, `must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

/** A CPU this process may run on (its affinity mask, as taskset set it), or null. */
export function parseCpu(field: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  const n = int(field, v, 0, 1023);
  const allowed = allowedCpus();
  if (allowed && !allowed.includes(n)) throw new BridgeConfigError(field, `CPU ${n} is not one this process may run on (${allowed.join(',')})`);
  return n;
}

/** The process's CPU affinity from /proc (Linux), or null when it cannot be read. */
function allowedCpus(): number[] | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return null;
  }
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(text);
  if (!m) return null;
  const out: number[] = [];
  for (const part of m[1].split(',')) {
    const [lo, hi] = part.split('-').map(Number);
    for (let c = lo; c <= (hi ?? lo); c++) out.push(c);
  }
  return out;
}

/** Splits an EAL argument string the way a shell would for simple cases (quotes, no escapes). */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

export function parsePort(field: string, raw: unknown): PortConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BridgeConfigError(field, 'must be an object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!PORT_KEYS.includes(k)) throw new BridgeConfigError(`${field}.${k}`, `unknown key; accepted: ${PORT_KEYS.join(', ')}`);
  }
  const name = str(`${field}.name`, o.name);
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name)) throw new BridgeConfigError(`${field}.name`, 'must be 1-32 of A-Z a-z 0-9 _ . -');
  if ((o.memif === undefined) === (o.dpdk === undefined)) {
    throw new BridgeConfigError(field, 'needs exactly one of "memif" (net_memif devargs) or "dpdk" (vdev or PCI devargs)');
  }
  if (o.memif !== undefined) {
    const devargs = typeof o.memif === 'string' ? o.memif : str(`${field}.memif`, o.memif);
    let parsed: MemifDevargs;
    try {
      parsed = parseDevargs(devargs);
    } catch (err) {
      throw new BridgeConfigError(`${field}.memif`, (err as Error).message.replace(/^--memif: /, ''));
    }
    if (o.queues !== undefined) {
      const q = int(`${field}.queues`, o.queues, 1, 255);
      parsed.interface.rxQueues = parsed.interface.txQueues = q;
    }
    return { name, kind: 'memif', devargs, parsed };
  }
  const devargs = str(`${field}.dpdk`, o.dpdk);
  if (!/^(net_[a-z_0-9]+|[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]|[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])(,.*)?$/.test(devargs)) {
    throw new BridgeConfigError(`${field}.dpdk`, `must be vdev devargs (net_<driver><n>,key=value,...) or a PCI address, got ${JSON.stringify(devargs)}`);
  }
  return {
    name,
    kind: 'dpdk',
    devargs,
    queues: o.queues === undefined ? 1 : int(`${field}.queues`, o.queues, 1, 64),
    mbufs: o.mbufs === undefined ? 8191 : int(`${field}.mbufs`, o.mbufs, 1023, 1 << 22),
  };
}

/** Validates a parsed JSON object. */
export function parseConfig(raw: unknown): BridgeConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BridgeConfigError('config', 'must be a JSON object');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!TOP_KEYS.includes(k)) throw new BridgeConfigError(k, `unknown key; accepted: ${TOP_KEYS.join(', ')}`);
  }
  let eal: string[] = [];
  if (typeof o.eal === 'string') eal = splitArgs(o.eal);
  else if (Array.isArray(o.eal)) eal = o.eal.map((a, k) => str(`eal[${k}]`, a));
  else if (o.eal !== undefined) throw new BridgeConfigError('eal', 'must be a string or an array of strings');
  if (!Array.isArray(o.ports) || o.ports.length === 0) throw new BridgeConfigError('ports', 'must be a non-empty array');
  const ports = o.ports.map((p, k) => parsePort(`ports[${k}]`, p));
  const names = new Set<string>();
  ports.forEach((p, k) => {
    if (names.has(p.name)) throw new BridgeConfigError(`ports[${k}].name`, `duplicate port name "${p.name}"`);
    names.add(p.name);
  });
  const rawLinks = o.links === undefined ? [] : o.links;
  if (!Array.isArray(rawLinks)) throw new BridgeConfigError('links', 'must be an array');
  const used = new Set<string>();
  const links = rawLinks.map((l, k) => {
    const f = `links[${k}]`;
    if (typeof l !== 'object' || l === null) throw new BridgeConfigError(f, 'must be an object {"a": port, "b": port}');
    const { a, b, cpu } = l as Record<string, unknown>;
    for (const key of Object.keys(l)) {
      if (!LINK_KEYS.includes(key)) throw new BridgeConfigError(`${f}.${key}`, `unknown key; accepted: ${LINK_KEYS.join(', ')}`);
    }
    for (const [key, v] of [['a', a], ['b', b]] as const) {
      if (typeof v !== 'string' || !names.has(v)) throw new BridgeConfigError(`${f}.${key}`, `must name a port (${[...names].join(', ')}), got ${JSON.stringify(v)}`);
      if (used.has(v)) throw new BridgeConfigError(`${f}.${key}`, `port "${v}" is already in a link (one link per port)`);
    }
    if (a === b) throw new BridgeConfigError(`${f}.b`, 'a port cannot be linked to itself');
    used.add(a as string);
    used.add(b as string);
    return { a: a as string, b: b as string, cpu: parseCpu(`${f}.cpu`, cpu) };
  });
  return {
    eal,
    burst: o.burst === undefined ? bridgeDefaults.burst : int('burst', o.burst, 1, 256),
    idleSleepUs: o.idleSleepUs === undefined ? bridgeDefaults.idleSleepUs : int('idleSleepUs', o.idleSleepUs, 0, 1000000),
    control: o.control === undefined || o.control === null ? null : str('control', o.control),
    ports,
    links,
  };
}

/** Reads and validates a JSON configuration file (errors: {@link BridgeConfigError} naming the field). */
export function loadConfigFile(file: string): BridgeConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new BridgeConfigError('--config', `cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BridgeConfigError('--config', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(raw);
}

/** The common case: one memif link cross-connected with one DPDK port (or another memif). */
export function configFromFlags(f: { memif: string[]; dpdk: string[]; eal?: string; burst?: number; idleSleepUs?: number; control?: string; cpu?: number }): BridgeConfig {
  const ports: unknown[] = [];
  f.memif.forEach((d, k) => ports.push({ name: `memif${k}`, memif: d }));
  f.dpdk.forEach((d, k) => ports.push({ name: `dpdk${k}`, dpdk: d }));
  if (ports.length !== 2) throw new BridgeConfigError('--memif/--dpdk', `give two ports to cross-connect (--memif and --dpdk, or two --memif), got ${ports.length}`);
  const names = ports.map((p) => (p as { name: string }).name);
  return parseConfig({
    eal: f.eal ?? '',
    burst: f.burst,
    idleSleepUs: f.idleSleepUs,
    control: f.control,
    ports,
    links: [{ a: names[0], b: names[1], cpu: f.cpu }],
  });
}
