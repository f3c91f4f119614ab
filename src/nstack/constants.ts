/**
 * Event bits of the nStack event engine. The values are Linux's own (identical for epoll and
 * poll), so masks pass to the kernel unchanged.
 *
 * EPOLLET is bit 31: a mask built with `|` that includes it is a negative number in
 * JavaScript (`EPOLLIN | EPOLLET === -2147483647`). Every API accepts both forms and
 * normalises with `>>> 0`.
 */

/** Readable (data, a pending connection, an eventfd/timerfd count). */
export const EPOLLIN = 0x001;
/** Urgent data. */
export const EPOLLPRI = 0x002;
/** Writable. */
export const EPOLLOUT = 0x004;
/** Error; always reported, whether asked for or not. */
export const EPOLLERR = 0x008;
/** Hang-up (both directions shut down, or the peer closed); always reported. */
export const EPOLLHUP = 0x010;
/** The peer shut down its writing side (half-close). Reported only if asked for. */
export const EPOLLRDHUP = 0x2000;
/** One-shot: after one event the member is disabled until the next `mod`. */
export const EPOLLONESHOT = 0x40000000;
/** Edge-triggered: reported when readiness arrives, not while it lasts. */
export const EPOLLET = 0x80000000;

/** Readiness bits (what can be asked for and reported). */
export const EVENT_BITS = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP;
/** Behaviour flags (asked for, never reported). */
export const FLAG_BITS = (EPOLLET | EPOLLONESHOT) >>> 0;
/** Reported whether asked for or not. */
export const ALWAYS_REPORTED = EPOLLERR | EPOLLHUP;

/** Largest batch of wait() and of one onReady() pass. */
export const MAX_EVENTS_LIMIT = 1024;
/** Default batch of wait() and of one onReady() pass. */
export const DEFAULT_MAX_EVENTS = 64;

const NAMES: ReadonlyArray<[number, string]> = [
  [EPOLLIN, 'IN'],
  [EPOLLPRI, 'PRI'],
  [EPOLLOUT, 'OUT'],
  [EPOLLERR, 'ERR'],
  [EPOLLHUP, 'HUP'],
  [EPOLLRDHUP, 'RDHUP'],
  [EPOLLONESHOT, 'ONESHOT'],
  [EPOLLET, 'ET'],
];

/** 'IN|HUP' for EPOLLIN | EPOLLHUP; '0' for nothing; unknown bits in hex. For logs and tests. */
export function formatEvents(mask: number): string {
  let rest = mask >>> 0;
  const parts: string[] = [];
  for (const [bit, name] of NAMES) {
    if ((rest & bit) >>> 0 !== 0) {
      parts.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0) parts.push(`0x${rest.toString(16)}`);
  return parts.length > 0 ? parts.join('|') : '0';
}
