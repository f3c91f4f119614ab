/**
 * Port counters: NHAL_ST_* words of native/hal/include/nhal.h, read straight from the memory
 * the worker writes (one BigUint64Array per port queue; no native call per read). Their order
 * is nhal's (checked at load, src/abi.ts).
 */
import { PORT_STATS, WORKER_STATS } from '../abi';

export { PORT_STATS, WORKER_STATS };

/** One of {@link PORT_STATS}. */
export type PortStatName = (typeof PORT_STATS)[number];
/** A port's (or queue's) counters by name. */
export type PortCounters = Record<PortStatName, number>;

/** Reads the counters of one port queue from the words its worker writes. */
export function readCounters(words: BigUint64Array): PortCounters {
  const out = {} as PortCounters;
  for (let k = 0; k < PORT_STATS.length; k++) out[PORT_STATS[k]] = Number(words[k]);
  return out;
}

export function sumCounters(list: PortCounters[]): PortCounters {
  const out = {} as PortCounters;
  for (const name of PORT_STATS) out[name] = list.reduce((s, c) => s + c[name], 0);
  return out;
}

/** Drops of all reasons, for status lines. */
export function drops(c: PortCounters): number {
  return c.dropLinkDown + c.dropTxFull + c.dropNoMbuf + c.dropTooBig + c.rxErrors;
}
