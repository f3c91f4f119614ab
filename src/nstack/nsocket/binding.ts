/**
 * What ties an nSocket to the stack nRD chose for it (DMM binds a socket to one stack once
 * chosen), and the nSocket's EventPoll memberships (a VirtualSource's subscribers, with the
 * interest each one registered, replayed to the stack's epCtl once the stack is known).
 */
import { stackRegistry, type RegistryMember, type Route } from '../registry';
import type { Family, Protocol, StackModule } from '../stack';
import type { ReadyNotify } from '../virtual-source';

export class StackBinding {
  readonly stack: StackModule<unknown>;
  readonly handle: unknown;
  readonly route: Route;
  #closed = false;

  constructor(stack: StackModule<unknown>, handle: unknown, route: Route) {
    this.stack = stack;
    this.handle = handle;
    this.route = route;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Current readiness (the stack's epGetEvt). */
  poll(): number {
    return this.#closed ? 0 : this.stack.epGetEvt(this.handle);
  }

  epCtl(op: 'add' | 'mod' | 'del', events: number): void {
    if (!this.#closed) this.stack.epCtl?.(this.handle, op, events);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stack.close(this.handle);
  }
}

/**
 * Chooses the stack for a socket of `protocol` to (or bound to) `address` (or the `pinned`
 * stack), opens the stack socket and registers `member` for recycling. Throws NoStackError or
 * what the stack's socket() throws.
 */
export function openBinding(
  member: RegistryMember,
  protocol: Protocol,
  family: Family,
  address: string,
  pinned: string | undefined,
  notify: (events: number) => void,
): StackBinding {
  const registry = stackRegistry();
  const { stack, route } = registry.choose(address, protocol, pinned);
  const handle = stack.socket(protocol, family, { notify });
  registry.track(member);
  return new StackBinding(stack, handle, route);
}

/** Wraps a socket a stack returned from accept(). */
export function adoptBinding(member: RegistryMember, stack: StackModule<unknown>, handle: unknown, route: Route): StackBinding {
  stackRegistry().track(member);
  return new StackBinding(stack, handle, route);
}

export function untrack(member: RegistryMember): void {
  stackRegistry().untrack(member);
}

/** The EventPolls watching one nSocket. */
export class Watchers {
  #subs: readonly ReadyNotify[] = [];
  readonly #interest = new Map<ReadyNotify, number>();

  subscribe(notify: ReadyNotify): void {
    if (!this.#subs.includes(notify)) this.#subs = [...this.#subs, notify];
  }

  unsubscribe(notify: ReadyNotify): void {
    this.#subs = this.#subs.filter((fn) => fn !== notify);
    this.#interest.delete(notify);
  }

  /** Records a membership's interest and tells the stack, if there is one yet. */
  ctl(op: 'add' | 'mod' | 'del', events: number, notify: ReadyNotify, binding: StackBinding | null): void {
    if (op === 'del') this.#interest.delete(notify);
    else this.#interest.set(notify, events);
    binding?.epCtl(op, events);
  }

  /** Tells a newly chosen stack about the memberships made before. */
  replay(binding: StackBinding): void {
    for (const events of this.#interest.values()) binding.epCtl('add', events);
  }

  wake(events: number): void {
    const subs = this.#subs;
    for (let i = 0; i < subs.length; i++) subs[i](events);
  }

  get count(): number {
    return this.#subs.length;
  }
}
