/**
 * The `lwip` stack (plane `nstack-memif`): lwIP 2.1 running in this process (FD.io DMM's
 * deploy type 1) with one lwIP netif per memif interface: IPv4 and IPv6 (link-local always),
 * ARP and ND, ICMP echo, UDP and TCP. Frames move between lwIP and the memif queue in C, with
 * no N-API call per packet; see lwip/stack.ts for threads, readiness and transmission.
 *
 *   const stack = createLwipStack({ interfaces: [{ memif: 'role=client,socket=/run/x.sock,id=0', ip: '10.0.0.2/24' }] });
 *   registerStack(stack);   // or use its StackModule operations directly
 *
 * Built when pkg-config found lwIP (Debian: liblwip-dev); otherwise lwipAvailable() is false
 * and lwipUnavailableReason() says why. lwIP keeps global state: one stack per process.
 */
import { nativeUnavailableReason } from './lwip/native';
import { LwipStackImpl, type LwipStack, type LwipStackOptions } from './lwip/stack';

export type { LwipInterfaceOptions } from './lwip/options';
export type { LwipNetif } from './lwip/netif';
export type { LwipStack, LwipStackOptions } from './lwip/stack';

/** False when the addon was built without lwIP (pkg-config lwip not found); reason in lwipUnavailableReason(). */
export function lwipAvailable(): boolean {
  return nativeUnavailableReason() === '';
}

/** Why the lwIP stack cannot be used here ('' when it can). */
export function lwipUnavailableReason(): string {
  return nativeUnavailableReason();
}

/** One lwIP per process (lwIP keeps global state): a second live stack throws InvalidStateError. */
export function createLwipStack(options?: LwipStackOptions): LwipStack {
  return new LwipStackImpl(options);
}
