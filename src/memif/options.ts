/**
 * Options of sockets and interfaces: defaults in one place, validated at the edge with
 * messages that say what to fix (every failure is an InvalidArgumentError,
 * code ERR_NMEMIF_INVALID_ARG).
 */
import { MODES as ABI_MODES } from '../abi';
import { InvalidArgumentError } from '../errors';

/** memif's roles: the master (server) listens and maps the slave's memory; the slave
 * (client) connects, allocates the shared memory and reconnects by itself. */
export type Role = 'master' | 'slave';
/** DPDK's names for the roles are accepted too. */
export type RoleName = Role | 'server' | 'client';
/** What the frames carry, as agreed in the handshake (most peers use 'ethernet'). */
export type Mode = 'ethernet' | 'ip' | 'punt-inject';
/**
 * interrupt: the peer signals after each burst and `rx` events fire;
 * polling: the peer never signals, the application polls;
 * adaptive: interrupt while idle, polling while busy (switches per queue).
 */
export type RxMode = 'interrupt' | 'polling' | 'adaptive';
/**
 * When 'rx' fires for a queue that is not being polled:
 * level: on the peer's interrupt, and again at the loop's next turn while the queue still holds
 * packets after the listeners returned (taking one batch per event loses nothing);
 * edge: only on the peer's interrupts; the listener must take everything there is (rx() until 0).
 */
export type RxTrigger = 'level' | 'edge';

/** Interface modes by name, with their numbers from the C header. */
export const MODES: Readonly<Record<Mode, number>> = ABI_MODES;

/** Options of a {@link MemifSocket} (all optional; see {@link socketDefaults}). */
export interface SocketOptions {
  /** Filesystem path, or '@name' for an abstract socket. Default '/run/vpp/memif.sock'. */
  path?: string;
  /** Sent to peers in HELLO/INIT (at most 31 bytes). Default 'nmemif'. */
  appName?: string;
  /** Client reconnect backoff, ms: the first retry waits this long (default 100)... */
  reconnectMinMs?: number;
  /** ...and each next one twice as long, up to this (default 2000). */
  reconnectMaxMs?: number;
  /** A connection must complete its handshake within this time, ms (default 3000). */
  handshakeTimeoutMs?: number;
  /** Accept peer regions that cannot be sealed against shrinking (unsafe; default false). */
  allowUnsealedRegions?: boolean;
  /**
   * Let the library handle SIGINT/SIGTERM for this socket (default true): a program with no
   * handler of its own then has its sockets closed (peers get a DISCONNECT, files are removed)
   * before the signal ends it. false: the library adds no signal listener for this socket (the
   * socket is still closed at exit). A program with its own handler gets the signal alone either way.
   */
  handleSignals?: boolean;
}

/** Options of {@link MemifSocket.createInterface} (all optional; see {@link interfaceDefaults}). */
export interface InterfaceOptions {
  /** 'master' or 'slave' ('server' and 'client' as in DPDK); default 'slave'. */
  role?: RoleName;
  /** Interface id, matched by the master (default 0). */
  id?: number;
  /** Interface name sent in CONNECT/CONNECTED (at most 31 bytes). */
  name?: string;
  /** Shared secret, at most 23 bytes. */
  secret?: string;
  /** Default 'ethernet'. */
  mode?: Mode;
  /** Receive queues, 1..255 (default 1). A master accepts up to these many. */
  rxQueues?: number;
  /** Transmit queues, 1..255 (default 1). A master accepts up to these many. */
  txQueues?: number;
  /** log2 of the ring size, 1..14 (default 10: 1024 slots). */
  log2RingSize?: number;
  /** Buffer size in bytes, 64..65535 (default 2048; the slave's choice). */
  bufferSize?: number;
  /** How received packets are noticed, per queue (default 'interrupt'); see {@link RxMode}. */
  rxMode?: RxMode;
  /** Whether 'rx' fires again while a queue still holds packets (default 'level'); see {@link RxTrigger}. */
  rxTrigger?: RxTrigger;
  /** Also emit 'error' (a ProtocolError) when the peer breaks the protocol and the link goes
   * down for it (default false: that is a 'disconnect' like any other, with its reason). Only
   * to 'error' listeners: without one it is logged, never thrown (a peer cannot end the process). */
  errorOnViolation?: boolean;
}

/** {@link SocketOptions} with every default applied (what a socket runs with). */
export type ResolvedSocketOptions = Required<SocketOptions>;

/** {@link InterfaceOptions} with every default applied and the role names normalized. */
export type ResolvedInterfaceOptions = Required<Omit<InterfaceOptions, 'role'>> & {
  /** 'master' or 'slave'. */
  role: Role;
};

/** VPP's default memif socket. */
export const DEFAULT_SOCKET_PATH = '/run/vpp/memif.sock';

/** What a socket uses for options not given. */
export const socketDefaults: ResolvedSocketOptions = {
  path: DEFAULT_SOCKET_PATH,
  appName: 'nmemif',
  reconnectMinMs: 100,
  reconnectMaxMs: 2000,
  handshakeTimeoutMs: 3000,
  allowUnsealedRegions: false,
  handleSignals: true,
};

/** What an interface uses for options not given. */
export const interfaceDefaults: ResolvedInterfaceOptions = {
  role: 'slave',
  id: 0,
  name: '',
  secret: '',
  mode: 'ethernet',
  rxQueues: 1,
  txQueues: 1,
  log2RingSize: 10,
  bufferSize: 2048,
  rxMode: 'interrupt',
  rxTrigger: 'level',
  errorOnViolation: false,
};

function bad(what: string): never {
  throw new InvalidArgumentError(what);
}

function int(name: string, v: unknown, min: number, max: number, hint = ''): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(`${name} must be an integer from ${min} to ${max}${hint}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function str(name: string, v: unknown, maxBytes: number): string {
  if (typeof v !== 'string') bad(`${name} must be a string, got ${typeof v}`);
  if (v.includes('\0')) bad(`${name} must not contain NUL characters`);
  if (Buffer.byteLength(v) > maxBytes) bad(`${name} must be at most ${maxBytes} bytes, got ${Buffer.byteLength(v)}`);
  return v;
}

function checkKeys(what: string, opts: object, allowed: object): void {
  for (const k of Object.keys(opts)) {
    if (!Object.hasOwn(allowed, k)) bad(`unknown ${what} option "${k}"; known options: ${Object.keys(allowed).join(', ')}`);
  }
}

export function resolveSocketOptions(opts: SocketOptions | string = {}): ResolvedSocketOptions {
  if (typeof opts === 'string') opts = { path: opts };
  if (typeof opts !== 'object' || opts === null) bad('socket options must be an object or a path string');
  checkKeys('socket', opts, socketDefaults);
  const o = { ...socketDefaults, ...stripUndefined(opts) };
  str('path', o.path, 107);
  if (o.path === '' || o.path === '@') bad('path must name a socket: a filesystem path or "@name"');
  if (o.path.startsWith('abstract:')) bad(`path "${o.path}": write abstract names as "@name" (VPP writes them "abstract:name")`);
  str('appName', o.appName, 31);
  int('reconnectMinMs', o.reconnectMinMs, 1, 3_600_000);
  int('reconnectMaxMs', o.reconnectMaxMs, o.reconnectMinMs, 3_600_000, ' (and at least reconnectMinMs)');
  int('handshakeTimeoutMs', o.handshakeTimeoutMs, 1, 3_600_000);
  if (typeof o.allowUnsealedRegions !== 'boolean') bad('allowUnsealedRegions must be a boolean');
  if (typeof o.handleSignals !== 'boolean') bad('handleSignals must be a boolean');
  return o;
}

export function normalizeRole(v: unknown): Role {
  switch (v) {
    case 'master':
    case 'server':
      return 'master';
    case 'slave':
    case 'client':
      return 'slave';
    default:
      return bad(`role must be "master" (or "server") or "slave" (or "client"), got ${JSON.stringify(v)}`);
  }
}

export function resolveInterfaceOptions(opts: InterfaceOptions = {}): ResolvedInterfaceOptions {
  if (typeof opts !== 'object' || opts === null) bad('interface options must be an object');
  checkKeys('interface', opts, interfaceDefaults);
  const o = { ...interfaceDefaults, ...stripUndefined(opts) } as ResolvedInterfaceOptions & { role: unknown };
  o.role = normalizeRole(o.role);
  int('id', o.id, 0, 0xffffffff);
  str('name', o.name, 31);
  str('secret', o.secret, 23);
  if (!Object.hasOwn(MODES, o.mode)) bad(`mode must be one of ${Object.keys(MODES).join(', ')}, got ${JSON.stringify(o.mode)}`);
  int('rxQueues', o.rxQueues, 1, 255);
  int('txQueues', o.txQueues, 1, 255);
  int('log2RingSize', o.log2RingSize, 1, 14, ' (ring of 2..16384 slots)');
  int('bufferSize', o.bufferSize, 64, 65535);
  if (!['interrupt', 'polling', 'adaptive'].includes(o.rxMode)) {
    bad(`rxMode must be "interrupt", "polling" or "adaptive", got ${JSON.stringify(o.rxMode)}`);
  }
  if (o.rxTrigger !== 'level' && o.rxTrigger !== 'edge') bad(`rxTrigger must be "level" or "edge", got ${JSON.stringify(o.rxTrigger)}`);
  if (typeof o.errorOnViolation !== 'boolean') bad('errorOnViolation must be a boolean');
  return o as ResolvedInterfaceOptions;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
