/**
 * One member of an EventPoll (DMM's and Linux's "epitem") and the ready list of virtual
 * members ("rdlist"). Internal to src/nstack.
 */
import type { ReadyNotify, VirtualSource } from './virtual-source';

export class EpItem<T> {
  readonly target: number | VirtualSource;
  /** Interest, with EPOLLERR | EPOLLHUP always included; 0 while a fired ONESHOT is disabled. */
  mask: number;
  /** EPOLLET | EPOLLONESHOT. */
  flags: number;
  data: T;
  /** What the source calls to report readiness (virtual members only). */
  notify: ReadyNotify | null = null;
  /** Set by del() and close(): a stale notify or a batch already harvested skips the item. */
  removed = false;

  // Ready-list links (virtual members only).
  prev: EpItem<T> | null = null;
  next: EpItem<T> | null = null;
  linked = false;
  /** When the item was queued; a scan takes only items queued before it started. */
  seq = 0;

  constructor(target: number | VirtualSource, mask: number, flags: number, data: T) {
    this.target = target;
    this.mask = mask;
    this.flags = flags;
    this.data = data;
  }
}

/** Intrusive FIFO of ready items: O(1) push, remove and pop, no allocation. */
export class ReadyList<T> {
  head: EpItem<T> | null = null;
  tail: EpItem<T> | null = null;
  size = 0;

  push(item: EpItem<T>, seq: number): void {
    item.seq = seq;
    item.prev = this.tail;
    item.next = null;
    if (this.tail !== null) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    item.linked = true;
    this.size++;
  }

  remove(item: EpItem<T>): void {
    if (!item.linked) return;
    if (item.prev !== null) item.prev.next = item.next;
    else this.head = item.next;
    if (item.next !== null) item.next.prev = item.prev;
    else this.tail = item.prev;
    item.prev = item.next = null;
    item.linked = false;
    this.size--;
  }

  clear(): void {
    let item = this.head;
    while (item !== null) {
      const next = item.next;
      item.prev = item.next = null;
      item.linked = false;
      item = next;
    }
    this.head = this.tail = null;
    this.size = 0;
  }
}
