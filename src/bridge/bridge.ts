/**
 * The bridge control plane (DPVS-style): this thread owns configuration, port setup, link
 * events, start/stop and stats; native workers (native/hal) own the queues and forward.
 *
 * A link cross-connects two ports: queue pair q of one with queue pair q of the other, both
 * directions, on one worker thread per link. A memif queue is lent to the worker's port as a
 * libmemif queue lease (the HalPort takes it directly); on a memif disconnect libmemif closes
 * the lease's gate before the memory is unmapped (the worker skips the port and counts tx as
 * link-down drops) and reopens it on reconnect: no command needed. DPDK link status is polled once a second.
 * A new link's worker stays paused until both ports have been up once, so input that is
 * already waiting (a pcap, a NIC queue) is not dropped before the far side exists; after
 * that, a port going down makes the other direction count link-down drops, like a NIC.
 */
import * as fs from 'node:fs';
import { EventEmitter } from 'eventemitter3';
import { checkAbi } from '../abi';
import { native } from '../native';
import { MemifSocket } from '../memif/socket';
import type { MemifInterface } from '../memif/interface';
import type { NativeMemifLease } from '../native';
import type { BridgeConfig, LinkConfig, PortConfig } from './config';
import { buildEalArgs, devName } from './eal';
import { BridgeConfigError, BridgeDpdkError, InvalidStateError } from '../errors';
import { readCounters, sumCounters, WORKER_STATS, type PortCounters } from './stats';

interface NativeHalPort {
  readonly stats: ArrayBuffer;
  readonly name: string | null;
  close(): void;
}
interface NativeHalWorker {
  addPath(src: NativeHalPort, dst: NativeHalPort): void;
  delPath(src: NativeHalPort, dst: NativeHalPort): void;
  pause(): void;
  resume(): void;
  stats(): Float64Array;
  stop(): void;
}
interface NativeDpdk {
  built(): boolean;
  initialized(): boolean;
  ealInit(args: string[]): void;
  ealCleanup(): void;
  probe(devargs: string): void;
  find(name: string): number;
  ports(): { portId: number; name: string }[];
  devStart(portId: number, setup: { queues?: number; mbufs?: number }): void;
  devStop(portId: number): void;
  link(portId: number): { up: boolean; speedMbps: number; fullDuplex: boolean; mac: string; driver: string };
  stats(portId: number): Record<string, number>;
}
const hal = native as unknown as {
  HalPort: new (o: { kind: 'memif'; lease: NativeMemifLease; name?: string } | { kind: 'dpdk'; portId: number; queue: number }) => NativeHalPort;
  HalWorker: new (o: { name?: string; burst?: number; idleSleepUs?: number; cpu?: number }) => NativeHalWorker;
  dpdk: NativeDpdk;
};

/** Whether this build has the DPDK ports. */
export function dpdkBuilt(): boolean {
  return hal.dpdk.built();
}

export interface QueueView {
  queue: number;
  native: NativeHalPort;
  words: BigUint64Array;
}

/** One port of {@link Bridge.ports}. */
export interface PortStatus {
  /** The port's name. */
  name: string;
  /** memif or DPDK. */
  kind: 'memif' | 'dpdk';
  /** Its devargs, as configured. */
  devargs: string;
  /** Whether its link is up. */
  up: boolean;
  /** memif: role, id, socket, peer names, last disconnect reason; DPDK: port id, link, NIC counters. */
  detail: Record<string, unknown>;
  /** Counters summed over its queues. */
  counters: PortCounters;
  /** Counters per queue. */
  queues: {
    /** The queue's index. */
    queue: number;
    /** Its counters. */
    counters: PortCounters;
  }[];
}

/** Events of a {@link Bridge}, as `name: [listener arguments]`. */
export interface BridgeEvents {
  /** A port's link went up or down (`reason`: why it went down). */
  link: [port: string, up: boolean, reason: string];
  /** A failure outside any call (a port that cannot come back, ...). */
  error: [err: Error];
}

/** What {@link Bridge.stats} returns. */
export interface BridgeStats {
  /** Counters per port, summed over its queues. */
  ports: Record<string, PortCounters>;
  /** Counters per link worker ("a<->b"): rounds, idle rounds, sleeps, commands, ... */
  workers: Record<string, Record<string, number>>;
}

class Port {
  queues: QueueView[] = [];
  up = false;
  socket: MemifSocket | null = null;
  iface: MemifInterface | null = null;
  portId = -1;
  constructor(readonly config: PortConfig) {}

  get name(): string {
    return this.config.name;
  }
  get queueCount(): number {
    return this.config.kind === 'memif' ? (this.config.parsed.interface.rxQueues ?? 1) : this.config.queues;
  }
  addQueue(q: number, n: NativeHalPort): void {
    this.queues.push({ queue: q, native: n, words: new BigUint64Array(n.stats) });
  }
  /** Up, and (memif master) the peer has posted its receive buffers: a master that sends
   * right after CONNECT finds the ring empty, because the slave posts them only when
   * CONNECTED arrives. */
  ready(): boolean {
    if (!this.up) return false;
    if (!this.iface || this.iface.closed) return true;
    const d = this.iface.details();
    if (d.role !== 'master') return true;
    const tx = d.rings.find((r) => r.direction === 'tx' && r.queue === 0);
    return tx !== undefined && tx.head !== tx.tail;
  }

  counters(): PortCounters {
    return sumCounters(this.queues.map((q) => readCounters(q.words)));
  }
}

class Link {
  worker: NativeHalWorker | null = null;
  /** Held paused until both ports have been up once (no input eaten before the far side exists). */
  held = true;
  paths: [NativeHalPort, NativeHalPort][] = [];
  constructor(readonly a: Port, readonly b: Port) {}
}

/**
 * Cross-connects memif links and DPDK ports on native worker threads, one per link; this
 * thread only configures, watches links and reads counters. Events: {@link BridgeEvents}.
 */
export class Bridge extends EventEmitter<BridgeEvents> {
  /** The configuration it was created with (ports added later are not in it). */
  readonly config: BridgeConfig;
  #ports = new Map<string, Port>();
  #links: Link[] = [];
  #eal: { filePrefix: string } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #started = false;
  #stopped = false;

  constructor(config: BridgeConfig) {
    super();
    this.config = config;
  }

  /** Whether start() ran and stop() did not. */
  get started(): boolean {
    return this.#started && !this.#stopped;
  }

  /** Initialises EAL (if any DPDK port), opens every port and starts one worker per link. */
  async start(): Promise<void> {
    checkAbi(); // the counters are read by their C order
    if (this.#started) throw new InvalidStateError('start(): the bridge is already running');
    this.#started = true;
    const dpdkPorts = this.config.ports.filter((p) => p.kind === 'dpdk');
    if (dpdkPorts.length > 0) {
      if (!hal.dpdk.built()) throw new BridgeDpdkError('this build of nmemif has no DPDK (libdpdk not found at build time, or WITH_DPDK=OFF)');
      const { args, filePrefix } = buildEalArgs(this.config.eal, dpdkPorts);
      try {
        hal.dpdk.ealInit(args);
      } catch (err) {
        throw new BridgeDpdkError(`EAL init failed (${(err as Error).message}${(err as { detail?: string }).detail ? `: ${(err as { detail?: string }).detail}` : ''}); arguments: ${args.join(' ')}`, { cause: err });
      }
      this.#eal = { filePrefix };
    }
    try {
      for (const pc of this.config.ports) this.#openPort(pc);
      for (const lc of this.config.links) this.#startLink(lc);
    } catch (err) {
      this.stop();
      throw err;
    }
    this.#timer = setInterval(() => this.#pollDpdkLinks(), 1000);
    this.#timer.unref();
    this.#pollDpdkLinks();
  }

  /** Opens a port; it is recorded only once fully open (a failure leaves nothing behind). */
  #openPort(pc: PortConfig): Port {
    if (this.#ports.has(pc.name)) throw new BridgeConfigError(`ports.${pc.name}`, 'a port with this name exists');
    const port = new Port(pc);
    try {
      this.#openResources(port);
    } catch (err) {
      this.#releasePort(port);
      throw err;
    }
    this.#ports.set(pc.name, port);
    return port;
  }

  #openResources(port: Port): void {
    const pc = port.config;
    if (pc.kind === 'memif') {
      const sock = new MemifSocket(pc.parsed.socket.path);
      port.socket = sock;
      const iface = sock.createInterface(pc.parsed.interface);
      port.iface = iface;
      iface.on('connect', () => {
        port.up = true;
        this.#release();
        this.emit('link', port.name, true, '');
      });
      iface.on('disconnect', (reason: string) => {
        if (!port.up) return;
        port.up = false;
        this.emit('link', port.name, false, reason);
      });
      for (let q = 0; q < port.queueCount; q++) {
        // The worker polls, and arms interrupts itself only while it sleeps.
        const lease = iface.leaseQueue(q, 'polling');
        port.addQueue(q, new hal.HalPort({ kind: 'memif', lease, name: `${pc.name}/${q}` }));
      }
    } else {
      const name = devName(pc.devargs);
      let id = hal.dpdk.find(name);
      if (id < 0) {
        hal.dpdk.probe(pc.devargs); // added at run time (not in the EAL arguments)
        id = hal.dpdk.find(name);
      }
      if (id < 0) throw new BridgeDpdkError(`DPDK port ${name} did not appear (devargs ${pc.devargs}); ports: ${hal.dpdk.ports().map((p) => p.name).join(', ') || 'none'}`);
      port.portId = id;
      hal.dpdk.devStart(id, { queues: pc.queues, mbufs: pc.mbufs });
      for (let q = 0; q < pc.queues; q++) port.addQueue(q, new hal.HalPort({ kind: 'dpdk', portId: id, queue: q }));
    }
  }

  #startLink(lc: LinkConfig): void {
    const a = this.#ports.get(lc.a);
    const b = this.#ports.get(lc.b);
    if (!a || !b) throw new BridgeConfigError('links', `unknown port ${!a ? lc.a : lc.b}`);
    const link = new Link(a, b);
    const worker = new hal.HalWorker({
      name: `nhal-${a.name}`.slice(0, 15),
      burst: this.config.burst,
      idleSleepUs: this.config.idleSleepUs,
      ...(lc.cpu === null ? {} : { cpu: lc.cpu }),
    });
    try {
      worker.pause();
      const n = Math.min(a.queues.length, b.queues.length);
      for (let q = 0; q < n; q++) {
        for (const [s, d] of [[a.queues[q].native, b.queues[q].native], [b.queues[q].native, a.queues[q].native]] as const) {
          worker.addPath(s, d);
          link.paths.push([s, d]);
        }
      }
    } catch (err) {
      worker.stop(); // its paths go with it: the ports are free again
      throw err;
    }
    link.worker = worker;
    this.#links.push(link);
    this.#release();
  }

  /** Resumes links whose ports are both up for the first time. */
  #release(tries = 0): void {
    let waiting = false;
    for (const l of this.#links) {
      if (!l.held || !l.worker || !l.a.up || !l.b.up) continue;
      if ((l.a.ready() && l.b.ready()) || tries >= 200) {
        l.held = false;
        l.worker.resume();
      } else {
        waiting = true;
      }
    }
    if (waiting && !this.#stopped) setTimeout(() => this.#release(tries + 1), 5).unref();
  }

  #pollDpdkLinks(): void {
    for (const p of this.#ports.values()) {
      if (p.config.kind !== 'dpdk' || p.portId < 0) continue;
      try {
        const up = hal.dpdk.link(p.portId).up;
        if (up !== p.up) {
          p.up = up;
          this.#release();
          this.emit('link', p.name, up, up ? '' : 'link down');
        }
      } catch {
        /* port closed meanwhile */
      }
    }
  }

  /** Adds a port and, optionally, links it to an existing unlinked port. */
  addPort(pc: PortConfig, linkTo?: string): void {
    if (!this.started) throw new InvalidStateError('addPort(): the bridge is not running; start() it first');
    if (pc.kind === 'dpdk' && !this.#eal) throw new BridgeDpdkError('EAL was not initialised at start (no DPDK port in the configuration)');
    const port = this.#openPort(pc);
    if (linkTo === undefined) return;
    try {
      this.#startLink({ a: pc.name, b: linkTo, cpu: null });
    } catch (err) {
      this.#closePort(port); // all or nothing: no port left behind unlinked
      throw err;
    }
  }

  /** Removes a port (and the link it is in). */
  delPort(name: string): void {
    const port = this.#ports.get(name);
    if (!port) throw new BridgeConfigError('name', `no port "${name}"`);
    for (const link of [...this.#links]) {
      if (link.a === port || link.b === port) this.#stopLink(link);
    }
    this.#closePort(port);
  }

  #stopLink(link: Link): void {
    link.worker?.stop();
    link.worker = null;
    this.#links.splice(this.#links.indexOf(link), 1);
  }

  #closePort(port: Port): void {
    this.#releasePort(port);
    this.#ports.delete(port.name);
  }

  /** Closes whatever of a port is open (also a half-opened one). */
  #releasePort(port: Port): void {
    for (const q of port.queues) q.native.close();
    port.queues = [];
    if (port.socket) port.socket.close();
    port.socket = null;
    if (port.portId >= 0 && this.#eal) hal.dpdk.devStop(port.portId);
    port.portId = -1;
  }

  /** Pauses every worker (they finish their burst and poll nothing) / resumes them. */
  pause(): void {
    for (const l of this.#links) l.worker?.pause();
  }
  /** Resumes the workers pause() stopped. */
  resume(): void {
    for (const l of this.#links) if (!l.held) l.worker?.resume();
  }

  /** Every port: link state, details, counters. */
  ports(): PortStatus[] {
    const out: PortStatus[] = [];
    for (const p of this.#ports.values()) {
      let detail: Record<string, unknown> = {};
      if (p.iface && !p.iface.closed) {
        const d = p.iface.details();
        detail = { role: d.role, id: d.id, socket: d.socketPath, peer: d.peerName, peerApp: d.peerAppName, lastDisconnectReason: d.lastDisconnectReason };
      } else if (p.portId >= 0) {
        try {
          detail = { portId: p.portId, ...hal.dpdk.link(p.portId), nic: hal.dpdk.stats(p.portId) };
        } catch {
          detail = { portId: p.portId };
        }
      }
      out.push({
        name: p.name,
        kind: p.config.kind,
        devargs: p.config.devargs,
        up: p.config.kind === 'memif' ? (p.iface?.connected ?? false) : p.up,
        detail,
        counters: p.counters(),
        queues: p.queues.map((q) => ({ queue: q.queue, counters: readCounters(q.words) })),
      });
    }
    return out;
  }

  /** Counters per port (summed over queues) and per worker. */
  stats(): BridgeStats {
    const ports: Record<string, PortCounters> = {};
    for (const p of this.#ports.values()) ports[p.name] = p.counters();
    const workers: Record<string, Record<string, number>> = {};
    for (const l of this.#links) {
      if (!l.worker) continue;
      const s = l.worker.stats();
      const o: Record<string, number> = {};
      WORKER_STATS.forEach((n, k) => (o[n] = s[k]));
      workers[`${l.a.name}<->${l.b.name}`] = o;
    }
    return { ports, workers };
  }

  /** Stops workers, closes ports, cleans EAL up (idempotent, synchronous: safe in 'exit'). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const l of [...this.#links]) this.#stopLink(l);
    for (const p of [...this.#ports.values()]) {
      try {
        this.#closePort(p);
      } catch (err) {
        this.emit('error', err as Error);
      }
    }
    if (this.#eal) {
      try {
        hal.dpdk.ealCleanup();
      } catch {
        /* already cleaned */
      }
      fs.rmSync(`/var/run/dpdk/${this.#eal.filePrefix}`, { recursive: true, force: true });
      this.#eal = null;
    }
  }
}
