/**
 * DPDK `net_memif` devargs, the interface syntax DPDK and VPP users already know:
 *
 *   role=client,id=0,socket=/run/vpp/memif.sock,rsize=10,bsize=2048,mac=02:fe:00:00:00:01
 *
 * parsed into MemifSocket and createInterface() options plus a MAC address. VPP's `master`
 * and `slave` are accepted for `role`. Unlike DPDK (abstract `/run/memif.sock`), the defaults
 * reach a stock VPP: client role, the filesystem socket `/run/vpp/memif.sock`, id 0.
 * `socket-abstract=yes` makes `socket=name` the abstract name '@name'. A leading vdev name
 * (`net_memif0,...`) is ignored, so a `--vdev` value can be pasted as is.
 */
import { InvalidArgumentError } from '../errors';
import { DEFAULT_SOCKET_PATH, type InterfaceOptions, type Mode, type Role } from './options';

/** What {@link parseDevargs} returns. */
export interface MemifDevargs {
  /** For `new MemifSocket(...)`. */
  socket: {
    /** The socket path, '@name' when abstract. */
    path: string;
  };
  /** For `socket.createInterface(...)`: the options given, and these always. */
  interface: InterfaceOptions & {
    /** `role=` (default 'slave'). */
    role: Role;
    /** `id=` (default 0). */
    id: number;
    /** `mode=` (default 'ethernet'). */
    mode: Mode;
  };
  /** `mac=` as lowercase xx:xx:xx:xx:xx:xx, or undefined when not given. */
  mac: string | undefined;
}

type Setter = (value: string, out: Draft) => void;

interface Draft {
  role: Role;
  id: number;
  socket: string;
  abstract: boolean;
  secret?: string;
  log2RingSize?: number;
  bufferSize?: number;
  mac?: string;
  mode: Mode;
  queues?: number;
}

function bad(key: string, value: string, accepted: string): never {
  throw new InvalidArgumentError(`--memif: bad value ${JSON.stringify(value)} for ${key}=: accepted ${accepted}`);
}

function decimal(key: string, value: string, min: number, max: number, accepted = `${min} to ${max}`): number {
  if (!/^[0-9]+$/.test(value)) bad(key, value, accepted);
  const n = Number(value);
  if (n < min || n > max) bad(key, value, accepted);
  return n;
}

/** Every key with its parser, listed once (as DPDK's valid_arguments[]). */
const KEYS: Record<string, { accepted: string; set: Setter }> = {
  role: {
    accepted: 'server|client (or VPP\'s master|slave)',
    set: (v, o) => {
      if (v === 'server' || v === 'master') o.role = 'master';
      else if (v === 'client' || v === 'slave') o.role = 'slave';
      else bad('role', v, 'server, client, master or slave');
    },
  },
  id: { accepted: '0..4294967295', set: (v, o) => (o.id = decimal('id', v, 0, 0xffffffff)) },
  socket: {
    accepted: 'a socket path (or a name with socket-abstract=yes)',
    set: (v, o) => {
      if (v === '' || v.length > 107) bad('socket', v, 'a path of 1 to 107 bytes');
      o.socket = v;
    },
  },
  'socket-abstract': {
    accepted: 'yes|no',
    set: (v, o) => {
      if (v !== 'yes' && v !== 'no') bad('socket-abstract', v, 'yes or no');
      o.abstract = v === 'yes';
    },
  },
  secret: {
    accepted: 'a string of at most 23 bytes',
    set: (v, o) => {
      if (Buffer.byteLength(v) > 23) bad('secret', v, 'a string of at most 23 bytes');
      o.secret = v;
    },
  },
  rsize: { accepted: '1..14 (log2 of the ring size)', set: (v, o) => (o.log2RingSize = decimal('rsize', v, 1, 14, '1 to 14 (log2 of the ring size)')) },
  bsize: { accepted: '64..65535', set: (v, o) => (o.bufferSize = decimal('bsize', v, 64, 65535)) },
  mac: {
    accepted: 'xx:xx:xx:xx:xx:xx',
    set: (v, o) => {
      if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(v)) bad('mac', v, 'a MAC address written xx:xx:xx:xx:xx:xx');
      o.mac = v.toLowerCase();
    },
  },
  mode: {
    accepted: 'ethernet|ip',
    set: (v, o) => {
      if (v !== 'ethernet' && v !== 'ip') bad('mode', v, 'ethernet or ip');
      o.mode = v;
    },
  },
  queues: { accepted: '1..255 (queue pairs)', set: (v, o) => (o.queues = decimal('queues', v, 1, 255)) },
};

/** The accepted keys, one `key=values` per line (for usage texts). */
export const DEVARGS_HELP: readonly string[] = Object.entries(KEYS).map(([k, d]) => `${k}=${d.accepted}`);

/** Parses a devargs string; throws InvalidArgumentError naming the bad key and its accepted values. */
export function parseDevargs(text = ''): MemifDevargs {
  if (typeof text !== 'string') throw new InvalidArgumentError('--memif: devargs must be a string');
  const o: Draft = { role: 'slave', id: 0, socket: DEFAULT_SOCKET_PATH, abstract: false, mode: 'ethernet' };
  const seen = new Set<string>();
  const parts = text.split(',').map((s) => s.trim());
  parts.forEach((part, k) => {
    if (part === '') return;
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (k === 0 && /^net_memif[0-9]*$/.test(part)) return; // a pasted --vdev name
      throw new InvalidArgumentError(`--memif: "${part}" is not key=value; keys: ${Object.keys(KEYS).join(', ')}`);
    }
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    const def = Object.hasOwn(KEYS, key) ? KEYS[key] : undefined;
    if (def === undefined) {
      throw new InvalidArgumentError(`--memif: unknown key "${key}"; accepted keys: ${Object.keys(KEYS).join(', ')}`);
    }
    if (seen.has(key)) throw new InvalidArgumentError(`--memif: ${key}= given twice`);
    seen.add(key);
    def.set(value, o);
  });
  let path = o.socket;
  if (o.abstract && !path.startsWith('@')) path = `@${path}`;
  if (seen.has('socket-abstract') && !o.abstract && path.startsWith('@')) {
    bad('socket', path, 'a filesystem path with socket-abstract=no (drop the "@")');
  }
  const iface: MemifDevargs['interface'] = { role: o.role, id: o.id, mode: o.mode };
  if (o.secret !== undefined) iface.secret = o.secret;
  if (o.log2RingSize !== undefined) iface.log2RingSize = o.log2RingSize;
  if (o.bufferSize !== undefined) iface.bufferSize = o.bufferSize;
  if (o.queues !== undefined) iface.rxQueues = iface.txQueues = o.queues;
  return { socket: { path }, interface: iface, mac: o.mac };
}
