/** The interface options of the lwIP stack, validated at the edge (errors name the field). */
import { isIPv4 } from 'node:net';
import { InvalidArgumentError } from '../../../errors';
import { MemifInterface } from '../../../memif/interface';
import { parseDevargs, type MemifDevargs } from '../../../memif/devargs';
import { ipv4Bytes, parseIPv4Cidr, parseIPv6Cidr, parseMac } from './addr';

/** One lwIP netif per memif interface (see ../lwip.ts for the public description). */
export interface LwipInterfaceOptions {
  /** The ethernet-mode memif interface to run over: an open one, or devargs to open one with
   * ("role=client,socket=/run/x.sock,id=0"; the stack then owns and closes it). */
  memif: MemifInterface | string;
  /** The queue pair the netif uses (default 0); the stack leases it, so it is not yours meanwhile. */
  queue?: number;
  /** IPv4 address with its prefix length, "10.0.0.2/24" (default: no IPv4 address). */
  ip?: string;
  /** IPv4 default gateway, "10.0.0.1" (needs `ip`). */
  gateway?: string;
  /** An IPv6 address with its prefix length, "fd00::2/64", besides the link-local one lwIP always has. */
  ip6?: string;
  /** MAC address, "02:00:00:00:00:01" (default: from the devargs, else a random locally administered one). */
  mac?: string;
  /** MTU in bytes, 576 to 9000 (default 1500). */
  mtu?: number;
}

export interface ResolvedInterface {
  /** The open interface, or the devargs to open one with. */
  memif: MemifInterface | MemifDevargs;
  queue: number;
  mac: Uint8Array;
  mtu: number;
  /** address, mask, gateway (12 bytes) */
  ip4?: Uint8Array;
  /** "10.0.0.1/24" */
  ip?: string;
  ip6?: Uint8Array;
  ip6Text?: string;
}

const KEYS = new Set(['memif', 'queue', 'ip', 'gateway', 'ip6', 'mac', 'mtu']);

export function resolveInterface(o: LwipInterfaceOptions, field = 'interface'): ResolvedInterface {
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(`${field}: options must be an object`);
  for (const k of Object.keys(o)) {
    if (!KEYS.has(k)) throw new InvalidArgumentError(`${field}.${k}: unknown option; accepted: ${[...KEYS].join(', ')}`);
  }
  let memif: MemifInterface | MemifDevargs;
  let queues: number;
  let devMac: string | undefined;
  if (o.memif instanceof MemifInterface) {
    if (o.memif.closed) throw new InvalidArgumentError(`${field}.memif: the interface is closed`);
    if (o.memif.options.mode !== 'ethernet') throw new InvalidArgumentError(`${field}.memif: lwIP needs an ethernet-mode interface, got ${o.memif.options.mode}`);
    memif = o.memif;
    queues = Math.min(o.memif.options.rxQueues, o.memif.options.txQueues);
  } else if (typeof o.memif === 'string') {
    const d = parseDevargs(o.memif);
    if (d.interface.mode !== 'ethernet') throw new InvalidArgumentError(`${field}.memif: lwIP needs mode=ethernet, got ${d.interface.mode}`);
    memif = d;
    queues = d.interface.rxQueues ?? 1;
    devMac = d.mac;
  } else {
    throw new InvalidArgumentError(`${field}.memif: expected a MemifInterface or devargs such as "role=client,socket=/run/x.sock,id=0"`);
  }
  const queue = o.queue ?? 0;
  if (!Number.isInteger(queue) || queue < 0 || queue >= queues) {
    throw new InvalidArgumentError(`${field}.queue: expected an integer from 0 to ${queues - 1}, got ${String(o.queue)}`);
  }
  const mtu = o.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw new InvalidArgumentError(`${field}.mtu: expected an integer from 576 to 9000, got ${String(o.mtu)}`);
  const out: ResolvedInterface = { memif, queue, mtu, mac: parseMac(o.mac ?? devMac, `${field}.mac`) };
  if (o.ip !== undefined) {
    const c = parseIPv4Cidr(o.ip, `${field}.ip`);
    const ip4 = new Uint8Array(12);
    ip4.set(c.ip, 0);
    ip4.set(c.mask, 4);
    if (o.gateway !== undefined) {
      if (typeof o.gateway !== 'string' || !isIPv4(o.gateway)) throw new InvalidArgumentError(`${field}.gateway: expected an IPv4 address, got ${JSON.stringify(o.gateway)}`);
      ip4.set(ipv4Bytes(o.gateway), 8);
    }
    out.ip4 = ip4;
    out.ip = `${c.address}/${c.prefix}`;
  } else if (o.gateway !== undefined) {
    throw new InvalidArgumentError(`${field}.gateway: needs ip`);
  }
  if (o.ip6 !== undefined) {
    const c = parseIPv6Cidr(o.ip6, `${field}.ip6`);
    out.ip6 = c.ip;
    out.ip6Text = c.address;
  }
  return out;
}
