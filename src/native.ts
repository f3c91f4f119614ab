/**
 * Finds and loads the native addon, nmemif.node, and types what it exports.
 *
 * Search order: the `NMEMIF_NATIVE` environment variable (a path to a .node file), then
 * build/Release/nmemif.node one level above this file's folder (src/ under tsx, dist/ in the
 * package's bundle). The addon is loaded on first use, not on import.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { NativeLoadError } from './errors';
import { logger, watchLogLevel, type LogLevel } from './nstack/log';

/** `(status, revents)`: status is 0 or a negative errno; revents uses EPOLL* bits. */
export type FdWatchCallback = (status: number, revents: number) => void;

/** A libuv poll handle on a kernel fd (native/binding/fd_watch.h). */
export interface FdWatch {
  /** Starts (or changes) watching: EPOLLIN, EPOLLOUT, EPOLLPRI, EPOLLRDHUP; 0 stops. */
  start(events: number): void;
  stop(): void;
  /** Releases the handle (and the fd, with OWN_FD). Idempotent. */
  close(): void;
  ref(): void;
  unref(): void;
  hasRef(): boolean;
  readonly fd: number;
  readonly active: boolean;
  readonly closed: boolean;
}

export interface FdWatchConstructor {
  new (fd: number, callback: FdWatchCallback, flags?: number): FdWatch;
  /** Flag: the watch owns the fd and closes it with the handle (also on worker exit). */
  readonly OWN_FD: number;
}

/** Thin Linux primitives (native/binding/sys.cc). Errors carry `code` = errno name. */
export interface NativeSys {
  /** A non-blocking, close-on-exec eventfd. */
  eventfd(initval?: number, semaphore?: boolean): number;
  eventfdWrite(fd: number, value?: number | bigint): void;
  /** The counter (resets it), or 0n when it was zero. */
  eventfdRead(fd: number): bigint;
  /** A non-blocking, close-on-exec CLOCK_MONOTONIC timerfd. */
  timerfd(): number;
  /** Arms the timer (initialMs 0 disarms it); intervalMs 0 = one-shot. */
  timerfdSet(fd: number, initialMs: number, intervalMs?: number): void;
  /** Expirations since the last read, or 0n. */
  timerfdRead(fd: number): bigint;
  close(fd: number): void;
  /** A non-blocking, close-on-exec AF_UNIX pair. */
  socketpair(type?: 'stream' | 'seqpacket' | 'dgram'): [number, number];
  shutdown(fd: number, how: 'rd' | 'wr' | 'rdwr'): void;
  /** Bytes written, or -errno. */
  write(fd: number, data: ArrayBufferView): number;
  /** Bytes read (0 = end of stream), or -errno. */
  read(fd: number, buffer: ArrayBufferView): number;
  /** Current readiness (zero-timeout poll(2)): POLL* bits, POLLNVAL for a bad fd. */
  poll(fd: number, events: number): number;
  epollCreate(): number;
  /** data defaults to fd; it comes back from epollWait. */
  epollCtl(epfd: number, op: 'add' | 'mod' | 'del', fd: number, events?: number, data?: number): void;
  /** [[data, events], ...]; a timeout other than 0 blocks the thread. */
  epollWait(epfd: number, maxEvents: number, timeoutMs?: number): Array<[number, number]>;
  /** Fills out[2i] = data, out[2i+1] = events for up to maxEvents (default out.length / 2,
   * at most 1024); returns the count. */
  epollWaitInto(epfd: number, out: Int32Array | Uint32Array, timeoutMs?: number, maxEvents?: number): number;
}

export interface NativeConstants {
  readonly EPOLLIN: number;
  readonly EPOLLPRI: number;
  readonly EPOLLOUT: number;
  readonly EPOLLERR: number;
  readonly EPOLLHUP: number;
  readonly EPOLLRDHUP: number;
  readonly EPOLLET: number;
  readonly EPOLLONESHOT: number;
  readonly POLLIN: number;
  readonly POLLPRI: number;
  readonly POLLOUT: number;
  readonly POLLERR: number;
  readonly POLLHUP: number;
  readonly POLLNVAL: number;
  readonly POLLRDHUP: number;
  readonly EAGAIN: number;
  readonly FDWATCH_OWN_FD: number;
}

/** [kind (EVENTS in abi.ts), interface handle, queue, reason, cause (DOWN_CAUSES on a disconnect; the errno on a connect error)] */
export type NativeLinkEvent = [number, number, number, string, number];

export interface NativeMemifSocket {
  /** revents: EPOLL* bits. */
  fdReady(token: number, revents: number): NativeLinkEvent[];
  takeEvents(): NativeLinkEvent[];
  close(): NativeLinkEvent[];
  readonly path: string | null;
  readonly listenerFd: number;
}

export interface NativeMemifSocketConstructor {
  new (
    options: {
      path: string;
      appName: string;
      reconnectMinMs: number;
      reconnectMaxMs: number;
      handshakeTimeoutMs: number;
      allowUnsealedRegions: boolean;
    },
    /** op: FD_OPS in abi.ts; events: EPOLL* bits. */
    fdUpdate: (fd: number, op: number, events: number, token: number) => void,
  ): NativeMemifSocket;
}

/** Counters of one queue (exported as `QueueStats`), written only by the queue's own thread. */
export interface NativeQueueStats {
  /** Packets received (rx) or sent (tx). */
  packets: number;
  /** Their bytes. */
  bytes: number;
  /** tx: calls that found no room for the next packet (a retry or a drop: the caller's choice). */
  ringFull: number;
  /** Descriptors the peer corrupted (the link was taken down). */
  dropBadDesc: number;
  /** tx: packets larger than a chain may be. */
  dropTooBig: number;
  /** Burst calls that moved at least one buffer. */
  bursts: number;
  /** Interrupts signalled to the peer. */
  irqSent: number;
  /** Interrupts received from the peer. */
  irqReceived: number;
}

/** An interface as the C core sees it (the base of `InterfaceDetails`). */
export interface NativeDetails {
  /** The memif interface id. */
  id: number;
  /** Our role. */
  role: 'master' | 'slave';
  /** Whether the link is up. */
  connected: boolean;
  /** The mode agreed with the peer (0 ethernet, 1 ip, 2 punt-inject). */
  mode: number;
  /** log2 of the ring size in use. */
  log2RingSize: number;
  /** Receive queues of the current connection (a master may get fewer than configured). */
  rxQueues: number;
  /** Transmit queues of the current connection. */
  txQueues: number;
  /** Buffer size in bytes. */
  bufferSize: number;
  /** Sizes of the shared memory regions, in bytes. */
  regionSizes: number[];
  /** Our interface name. */
  name: string;
  /** The peer's interface name. */
  peerName: string;
  /** The peer's application name. */
  peerAppName: string;
  /** The socket path. */
  socketPath: string;
  /** Why the link last went down ('' if it never did). */
  lastDisconnectReason: string;
  /** DOWN_CAUSES in abi.ts */
  lastDownCause: number;
}

/** One ring as the C core sees it (the base of `QueueDetails`). */
export interface NativeRingDetails {
  /** Producer index (free-running). */
  head: number;
  /** Consumer index (free-running). */
  tail: number;
  /** Ring flags (1: the receiver asks not to be interrupted). */
  flags: number;
  /** Slots. */
  size: number;
  /** The region holding the ring. */
  region: number;
  /** The ring header's offset in that region. */
  offset: number;
  /** The queue's interrupt eventfd (-1 if none). */
  irqFd: number;
}

export interface NativeMemifInterface {
  regions(): ArrayBuffer[];
  details(): NativeDetails;
  ringDetails(isTx: boolean, qid: number): NativeRingDetails;
  stats(): { rx: NativeQueueStats[]; tx: NativeQueueStats[] };
  setRxMode(qid: number, mode: number): void;
  disconnect(reason?: string): number;
  destroy(): void;
  readonly handle: number;
  /** Up, and no violation found by a burst call since. */
  readonly connected: boolean;
}

export interface NativeMemifInterfaceConstructor {
  new (
    socket: NativeMemifSocket,
    options: {
      id: number;
      isMaster: boolean;
      mode: number;
      name: string;
      secret: string;
      rxQueues: number;
      txQueues: number;
      log2RingSize: number;
      bufferSize: number;
      interrupts: boolean;
    },
  ): NativeMemifInterface;
}

/** A queue pair lent to another thread (native/binding/memif_lease.h). */
export interface NativeMemifLease {
  /** A key naming the lease for another thread of this process (new MemifQueue(key)). */
  handoff(): number;
  /** The queue is the interface's again. */
  end(): void;
  readonly queue: number;
}

/** The data path of one queue pair (native/binding/memif_queue.h). Burst calls return a count
 * or a negative errno (ERRORS in abi.ts). */
export interface NativeMemifQueue {
  rxBurst(batch: Uint32Array, max: number): number;
  rxRelease(count: number): number;
  /** Buffers the peer published that rxBurst has not taken (a look: takes nothing). */
  rxPending(): number;
  /** Free tx slots now (memif signals no room coming back: a blocked sender looks). */
  txRoom(): number;
  txAlloc(batch: Uint32Array, max: number): number;
  txBurst(batch: Uint32Array, count: number): number;
  txSwap(batch: Uint32Array, count: number, txQid?: number): number;
  txCopy(packets: Uint8Array[]): number;
  regions(): ArrayBuffer[];
  /** Why the last call failed. */
  reason(): string;
  /** Through a lease: maps a new connection; its generation, or a negative errno. */
  sync(): number;
  ackEvents(): boolean;
  ackRx(): boolean;
  close(): void;
  readonly eventFd: number;
  readonly rxFd: number;
  readonly queue: number;
}

/** The C core's logger (native/binding/core_log.h). */
export interface NativeCoreLog {
  /** -1 silent, 0 error, 1 warn, 2 info, 3 debug; process-wide. */
  setLevel(level: number): void;
}

export interface NativeAddon {
  readonly coreLog: NativeCoreLog;
  readonly FdWatch: FdWatchConstructor;
  readonly MemifLease: new (iface: NativeMemifInterface, qid: number, rxMode: number) => NativeMemifLease;
  readonly MemifQueue: { new (iface: NativeMemifInterface, qid: number): NativeMemifQueue; new (key: number): NativeMemifQueue };
  readonly MemifSocket: NativeMemifSocketConstructor;
  readonly MemifInterface: NativeMemifInterfaceConstructor;
  readonly sys: NativeSys;
  readonly constants: NativeConstants;
}

const ADDON_FILE = path.join('build', 'Release', 'nmemif.node');

/** Where the addon is looked for, in order. */
export function nativeCandidates(): string[] {
  const fromEnv = process.env.NMEMIF_NATIVE;
  if (fromEnv) return [path.resolve(fromEnv)];
  return [path.resolve(__dirname, '..', ADDON_FILE)];
}

function load(): { addon: NativeAddon; file: string } {
  const candidates = nativeCandidates();
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    try {
      return { addon: require(file) as NativeAddon, file };
    } catch (err) {
      throw new NativeLoadError(`cannot load ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  throw new NativeLoadError(
    `nmemif.node not found (looked at ${candidates.join(', ')}). nmemif's install script builds it: ` +
      'run "npm rebuild nmemif" (it needs cmake and a C/C++ compiler; npm runs the script only if ' +
      'dependency install scripts are allowed, see "npm install-scripts"), or set NMEMIF_NATIVE to a built nmemif.node',
  );
}

/** The C core's level for each of ours ('trace' has no C counterpart: debug). */
const CORE_LEVELS: Record<LogLevel, number> = { silent: -1, error: 0, warn: 1, info: 2, debug: 3, trace: 3 };

let loaded: { addon: NativeAddon; file: string } | undefined;

function addon(): NativeAddon {
  if (loaded === undefined) {
    loaded = load();
    const { coreLog } = loaded.addon;
    watchLogLevel('memif', (level) => coreLog.setLevel(CORE_LEVELS[level]));
    if (process.env.NMIF_LOG && require('node:worker_threads').isMainThread) {
      logger('memif').warn('NMIF_LOG is not read in Node: NMEMIF_LOG=memif=<level> sets the C core\'s level');
    }
  }
  return loaded.addon;
}

/** An object that stands for `target()`'s result, calling it on first use: importing the
 * library does not load the addon (it costs milliseconds at startup), using it does. */
function onFirstUse<T extends object>(target: () => T): T {
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(target(), key);
      return d && { ...d, configurable: true };
    },
  });
}

/** The addon, loaded once per thread on first use. */
export const native: NativeAddon = onFirstUse(addon);
export const sys: NativeSys = onFirstUse(() => addon().sys);

/** Absolute path of the loaded .node file (e.g. for a worker_thread that loads it directly). */
export function nativeFile(): string {
  addon();
  return loaded!.file;
}
