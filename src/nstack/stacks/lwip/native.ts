/**
 * The native side of the lwIP stack (native/binding/lwip_*.cc over native/stacks/lwip), typed.
 * Only this folder uses it.
 */
import { native, type NativeMemifLease } from '../../../native';

/** Bytes of one nlwip_addr_t: family, zone, port (host order u16), 16 address bytes. */
export const ADDR_BYTES = 20;
export const PROTO_UDP = 17;
export const PROTO_TCP = 6;
/** What the hot calls return instead of throwing. */
export const EAGAIN_RET = -11;

/** NativeLwipNetif.poll() flags: the interrupt fd fired; stay masked when idle (busy poll). */
export const POLL_IRQ = 1;
export const POLL_SPIN = 2;

/** Indexes of NativeLwipStack.shared. */
export const SHARED_CHANGED = 0;
export const SHARED_TX_QUEUED = 1;

/** Indexes of NativeLwipStack.counters() (enum nlwip_counter). */
export const COUNTER_NAMES = ['rxFrames', 'rxBadFrames', 'rxNoMem', 'txFrames', 'txBursts', 'udpRxDrops', 'wakeups', 'rxSynDrops'] as const;

/** enum nlwip_opt */
export const OPTIONS = { reuseAddr: 1, noDelay: 2, keepAlive: 3, broadcast: 4, recvBufferSize: 5, sendBufferSize: 6, ttl: 7 } as const;

export interface NativeLwipStack {
  readonly wakeFd: number;
  readonly readiness: Uint32Array;
  readonly shared: Uint32Array;
  takeChanged(out: Uint32Array): number;
  flush(): number;
  counters(): Float64Array;
  close(): void;
  socket(protocol: number, family: number): number;
  bind(id: number, address: string, port: number): number;
  connect(id: number, address: string, port: number): number;
  listen(id: number, backlog: number): number;
  accept(id: number, peerOut: Uint8Array): number;
  send(id: number, data: Uint8Array, address?: string, port?: number): number;
  recv(id: number, into: Uint8Array, fromOut: Uint8Array): number;
  recvBatch(id: number, data: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, fromOut: Uint8Array, max: number, pendingOut: Uint32Array): number;
  shutdown(id: number, how: number): number;
  closeSocket(id: number): number;
  sockname(id: number, peer: boolean, out: Uint8Array): number;
  /** The pending error's errno name, or 0 (reading clears it). */
  sockError(id: number): string | 0;
  getopt(id: number, option: number): number;
  setopt(id: number, option: number, value: number): number;
}

export interface NativeLwipNetif {
  readonly name: string;
  ip6(): Uint8Array[];
  linkUp(): number;
  linkDown(): void;
  /** frames * 2 + more; flags: POLL_IRQ | POLL_SPIN */
  poll(budget: number, flags: number): number;
}

export interface NativeHalPort {
  close(): void;
}

interface LwipAddon {
  LwipStack?: { new (): NativeLwipStack; readonly built: boolean; readonly unavailableReason: string };
  LwipNetif: new (stack: NativeLwipStack, port: NativeHalPort, options: { mac: Uint8Array; mtu: number; ip4?: Uint8Array; ip6?: Uint8Array }) => NativeLwipNetif;
  HalPort: new (o: { kind: 'memif'; lease: NativeMemifLease; name?: string }) => NativeHalPort;
}

export const lwipNative = native as unknown as LwipAddon;

export function nativeUnavailableReason(): string {
  const ctor = lwipNative.LwipStack;
  if (ctor === undefined) return 'this nmemif.node has no lwIP binding (rebuild it)';
  return ctor.built ? '' : ctor.unavailableReason;
}
