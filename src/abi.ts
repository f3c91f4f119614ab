/**
 * What the C headers and TypeScript share, taken from the addon (native/binding/abi.cc reads
 * nmemif.h and nhal.h at build time): errno names, link event kinds, fd-update ops, rx modes,
 * interface modes, down causes, the burst descriptor layout and the bridge's counter order.
 *
 * Values come from C and are not restated here, with the few exceptions TypeScript must spell
 * out itself: the descriptor word layout (constants in PacketBatch's hot accessors), the largest
 * ring, and the counter names (literal types). Those are declared below and checked against the
 * addon when it is first asked for a value; a mismatch is a NativeLoadError, never silently
 * wrong numbers. Importing the library loads nothing: the addon's values are read on first use.
 */
import { NativeLoadError } from './errors';
import { native } from './native';

/** The addon's view of the C headers (see native/binding/abi.cc). */
export interface NativeAbi {
  readonly errors: Readonly<Record<string, number>>;
  readonly events: { readonly CONNECT: number; readonly DISCONNECT: number; readonly RX: number; readonly CONNECT_ERROR: number };
  readonly fdOps: { readonly ADD: number; readonly MOD: number; readonly DEL: number };
  readonly rxModes: { readonly INTERRUPT: number; readonly POLLING: number };
  readonly modes: Readonly<Record<'ethernet' | 'ip' | 'punt-inject', number>>;
  readonly downCauses: { readonly NONE: number; readonly PEER: number; readonly LOCAL: number; readonly VIOLATION: number; readonly TIMEOUT: number };
  readonly buf: { readonly WORDS: number; readonly LEN: number; readonly OFFSET: number; readonly REGION_FLAGS: number; readonly SLOT_QUEUE: number; readonly NEXT: number };
  readonly MAX_LOG2_RING_SIZE: number;
  readonly REASON_MAX: number;
  readonly portStats: readonly string[];
  readonly workerStats: readonly string[];
}

/** nmif_buf_t as u32 words (the descriptors of a PacketBatch). Checked at load. */
export const BUF = { WORDS: 6, LEN: 2, OFFSET: 3, REGION_FLAGS: 4, SLOT_QUEUE: 5, NEXT: 1 } as const;

/** NMIF_MAX_LOG2_RING_SIZE. Checked at load. */
export const MAX_LOG2_RING_SIZE = 14;
/** Largest ring: no chain is longer. */
export const MAX_RING_SIZE = 2 ** MAX_LOG2_RING_SIZE;

/** nhal_stat_names[], camelCased: the bridge port counters in memory order. Checked at load. */
export const PORT_STATS = [
  'rxPackets',
  'rxBytes',
  'rxBursts',
  'rxErrors',
  'txPackets',
  'txBytes',
  'dropLinkDown',
  'dropTxFull',
  'dropNoMbuf',
  'dropTooBig',
  'downPolls',
] as const;

/** nhal_worker_stat_names[], camelCased. Checked at load. */
export const WORKER_STATS = ['rounds', 'idleRounds', 'sleeps', 'commands', 'paths', 'paused', 'irqWakeups'] as const;

let loaded: NativeAbi | undefined;

/** The addon's values, loaded and checked on first use. */
function addon(): NativeAbi {
  if (loaded === undefined) {
    const a = (native as unknown as { abi: NativeAbi }).abi;
    const mismatches = abiMismatches(a);
    if (mismatches.length > 0) {
      throw new NativeLoadError(`the addon was built from different C headers than this TypeScript expects (rebuild both): ${mismatches.join('; ')}`);
    }
    loaded = a;
  }
  return loaded;
}

/** Loads the addon's values and checks them now (sockets and the bridge call it first), so a
 * mismatch shows before any descriptor or counter is read. */
export function checkAbi(): void {
  addon();
}

/** A read-only view of one table of the addon's values, read when first looked at. */
function fromAddon<T extends object>(pick: (a: NativeAbi) => T): T {
  const table = () => pick(addon()) as Record<string | symbol, unknown>;
  return new Proxy({} as T, {
    get: (_, k) => table()[k],
    has: (_, k) => k in table(),
    ownKeys: () => Reflect.ownKeys(table()),
    getOwnPropertyDescriptor: (_, k) => {
      const d = Reflect.getOwnPropertyDescriptor(table(), k);
      return d === undefined ? undefined : { ...d, configurable: true, writable: false };
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  });
}

/** libmemif's error names to (negative) errno values, e.g. ERRORS.ENOTCONN === -107. */
export const ERRORS: Readonly<Record<string, number>> = fromAddon((a) => a.errors);
/** Kinds of the link events the native socket queues. */
export const EVENTS: NativeAbi['events'] = fromAddon((a) => a.events);
/** Ops of the fd-update callback (NMIF_FD_*). */
export const FD_OPS: NativeAbi['fdOps'] = fromAddon((a) => a.fdOps);
/** NMIF_RX_* */
export const RX_MODES: NativeAbi['rxModes'] = fromAddon((a) => a.rxModes);
/** NMIF_MODE_* by their devargs names. */
export const MODES: NativeAbi['modes'] = fromAddon((a) => a.modes);
/** Why a link went down (enum nmif_down_cause). */
export const DOWN_CAUSES: NativeAbi['downCauses'] = fromAddon((a) => a.downCauses);

let errnoNames: Map<number, string> | undefined;

/** 'ENOTCONN' for -107; 'E<n>' for numbers libmemif has no name for. */
export function errnoName(ret: number): string {
  errnoNames ??= new Map(Object.entries(addon().errors).map(([name, value]) => [value, name]));
  return errnoNames.get(ret) ?? `E${-ret}`;
}

function camel(snake: string): string {
  return snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Differences between what TypeScript spells out and what the addon says, one line each. */
export function abiMismatches(a: NativeAbi): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(BUF)) {
    const c = (a.buf as Record<string, number>)[k];
    if (c !== v) out.push(`descriptor layout ${k}: TypeScript ${v}, C ${c}`);
  }
  if (a.MAX_LOG2_RING_SIZE !== MAX_LOG2_RING_SIZE) out.push(`largest ring: TypeScript 2^${MAX_LOG2_RING_SIZE}, C 2^${a.MAX_LOG2_RING_SIZE}`);
  const lists: Array<[string, readonly string[], readonly string[]]> = [
    ['port counters', PORT_STATS, a.portStats.map(camel)],
    ['worker counters', WORKER_STATS, a.workerStats.map(camel)],
  ];
  for (const [what, ts, c] of lists) {
    if (ts.length !== c.length || ts.some((n, k) => n !== c[k])) out.push(`${what}: TypeScript [${ts.join(', ')}], C [${c.join(', ')}]`);
  }
  return out;
}
