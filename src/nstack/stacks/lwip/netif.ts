/**
 * One lwIP netif over a memif queue pair, driven from this thread's event engine: the queue's
 * interrupt fd is a member of the engine while the link is up; when it fires, one native call
 * takes a burst of frames into lwIP (and sends what lwIP answered). While frames keep coming
 * the interrupt stays masked and the netif is polled again on the next turn of the loop
 * (setImmediate), and for busyPollUs after the last frame (a reply that comes back soon is
 * taken without a wake-up); then the interrupt is armed again.
 */
import { MemifInterface } from '../../../memif/interface';
import type { Engine } from '../../engine';
import { EPOLLIN } from '../../constants';
import { logger } from '../../log';
import { formatIPv6, formatMac } from './addr';
import { POLL_IRQ, POLL_SPIN, lwipNative, type NativeHalPort, type NativeLwipNetif, type NativeLwipStack } from './native';
import type { ResolvedInterface } from './options';
import type { MemifSocket } from '../../../memif/socket';

const log = logger('lwip');

/** Frames one poll takes at most before the loop gets a turn. */
const POLL_BUDGET = 256;

/** What a netif needs from its stack. */
export interface NetifHost {
  readonly native: NativeLwipStack;
  readonly engine: Engine;
  /** Keep polling this long after the last frame before sleeping on the interrupt (ms). */
  readonly busyPollMs: number;
  /** Reports sockets whose readiness changed and schedules the transmit flush. */
  after(): void;
  /** The stack's memif socket for a path, opened on first use. */
  memifSocket(path: string): MemifSocket;
}

/** What the application sees of a netif. */
export interface LwipNetif {
  /** lwIP's name of the netif: 'mf' and its number ('mf0'). */
  readonly name: string;
  /** Its MAC address, "02:00:00:00:00:01". */
  readonly mac: string;
  /** Its IPv4 address and prefix length, "10.0.0.2/24" (absent when it has none). */
  readonly ip?: string;
  /** Its IPv6 addresses (the link-local one first). */
  readonly ip6: string[];
  /** Whether the netif is up: its memif link is connected. */
  readonly up: boolean;
}

export class LwipNetifDriver implements LwipNetif {
  readonly name: string;
  readonly mac: string;
  readonly ip?: string;
  readonly ip6: string[];
  readonly #host: NetifHost;
  readonly #iface: MemifInterface;
  readonly #queue: number;
  readonly #ownsIface: boolean;
  #native: NativeLwipNetif | null;
  #port: NativeHalPort | null;
  #up = false;
  #irqFd = -1;
  #again: NodeJS.Immediate | null = null;
  /** When the last poll found frames (performance.now()). */
  #lastFrames = -Infinity;
  readonly #onConnect = (): void => this.#linkUp();
  readonly #onDisconnect = (): void => this.#linkDown();
  readonly #onIrq = (): void => this.#poll(true);
  readonly #onAgain = (): void => {
    this.#again = null;
    this.#poll(false);
  };

  constructor(host: NetifHost, r: ResolvedInterface) {
    this.#host = host;
    this.#queue = r.queue;
    if (r.memif instanceof MemifInterface) {
      this.#iface = r.memif;
      this.#ownsIface = false;
    } else {
      this.#iface = host.memifSocket(r.memif.socket.path).createInterface(r.memif.interface);
      this.#ownsIface = true;
    }
    let port: NativeHalPort | null = null;
    try {
      // The netif polls the queue and arms its interrupt itself while idle (as the bridge does).
      const lease = this.#iface.leaseQueue(r.queue, 'polling');
      port = new lwipNative.HalPort({ kind: 'memif', lease, name: `lwip/${this.#iface.id}/${r.queue}` });
      this.#native = new lwipNative.LwipNetif(host.native, port, {
        mac: r.mac,
        mtu: r.mtu,
        ...(r.ip4 ? { ip4: r.ip4 } : {}),
        ...(r.ip6 ? { ip6: r.ip6 } : {}),
      });
    } catch (err) {
      port?.close();
      this.#releaseIface();
      throw err;
    }
    this.#port = port;
    this.name = this.#native.name;
    this.mac = formatMac(r.mac);
    if (r.ip !== undefined) this.ip = r.ip;
    this.ip6 = this.#native.ip6().map((b) => formatIPv6(b));
    this.#iface.on('connect', this.#onConnect);
    this.#iface.on('disconnect', this.#onDisconnect);
    if (this.#iface.connected) this.#linkUp();
  }

  get up(): boolean {
    return this.#up;
  }

  /** The memif interface under this netif. */
  get memif(): MemifInterface {
    return this.#iface;
  }

  /** Stops watching the link (the stack's first step of closing; the native netif stays). */
  detach(): void {
    this.#iface.off('connect', this.#onConnect);
    this.#iface.off('disconnect', this.#onDisconnect);
    this.#stopWatching();
    this.#up = false;
  }

  /** After the native netif is gone with its stack: the port, and the queue or interface. */
  release(): void {
    this.#native = null;
    this.#port?.close();
    this.#port = null;
    this.#releaseIface();
  }

  #releaseIface(): void {
    if (this.#iface.closed) return;
    if (this.#ownsIface) this.#iface.close();
    else this.#iface.reclaimQueue(this.#queue);
  }

  #linkUp(): void {
    const nat = this.#native;
    if (nat === null) return;
    this.#stopWatching(); // a new connection: the netif replaces the old fd
    const fd = nat.linkUp();
    if (fd >= 0) {
      this.#irqFd = fd;
      this.#host.engine.watch(fd, EPOLLIN, this.#onIrq);
    } else {
      log.error('%s: link up, but its interrupt cannot be armed (%d): not polled', this.name, fd);
    }
    this.#up = true;
    log.info('%s: link up (%s)', this.name, this.mac);
    this.#host.after();
  }

  #linkDown(): void {
    const nat = this.#native;
    if (nat === null) return;
    this.#stopWatching();
    nat.linkDown();
    this.#up = false;
    log.info('%s: link down', this.name);
    this.#host.after();
  }

  #stopWatching(): void {
    if (this.#irqFd >= 0) this.#host.engine.unwatch(this.#irqFd);
    this.#irqFd = -1;
    if (this.#again !== null) clearImmediate(this.#again);
    this.#again = null;
  }

  #poll(irq: boolean): void {
    const nat = this.#native;
    if (nat === null || !this.#up) return;
    const now = performance.now();
    const spin = now - this.#lastFrames < this.#host.busyPollMs;
    const r = nat.poll(POLL_BUDGET, (irq ? POLL_IRQ : 0) | (spin ? POLL_SPIN : 0));
    if (r > 1) this.#lastFrames = now;
    this.#host.after();
    if ((r & 1) !== 0 && this.#again === null) this.#again = setImmediate(this.#onAgain);
  }
}
