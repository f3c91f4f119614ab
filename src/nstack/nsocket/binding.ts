/**
 * What ties an nSocket to the stack nRD chose for it (DMM binds a socket to one stack once
 * chosen), the nSocket's EventPoll memberships (a VirtualSource's subscribers, with the
 * interest each one registered, replayed to the stack's epCtl once the stack is known), and the
 * members every nSocket class shares (defineSocketMember).
 */
import { stackRegistry, type RegistryMember, type Route } from '../registry';
import type { Family, Protocol, StackModule } from '../stack';
import type { ReadyNotify } from '../virtual-source';
import type { LoopRef } from './keep-alive';

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

/** Where the shared members find an nSocket's state (symbols keep them out of its surface). */
export const kWatchers = Symbol('nstack.watchers');
export const kBinding = Symbol('nstack.binding');
export const kAlive = Symbol('nstack.alive');

interface MemberState {
  readonly [kWatchers]: Watchers;
  readonly [kBinding]: StackBinding | null;
  readonly [kAlive]: LoopRef;
}

/** What every nSocket class has besides its own poll(): the rest of VirtualSource, its route,
 * and ref()/unref() as dgram and net have them. */
export interface SocketMember {
  /** Lets the socket keep the process alive while active (the default). */
  ref(): this;
  /** Lets the process exit even while the socket is active. */
  unref(): this;
  subscribe(notify: ReadyNotify): void;
  unsubscribe(notify: ReadyNotify): void;
  epCtl(op: 'add' | 'mod' | 'del', events: number, notify: ReadyNotify): void;
  /** Which plane and stack carry the socket and why (null until the stack is chosen). */
  readonly route: Route | null;
  /** The stack's name (null until chosen). */
  readonly stackName: string | null;
}

/** Puts the SocketMember members on an nSocket class's prototype (its instances hold kWatchers,
 * kBinding and kAlive). */
export function defineSocketMember(proto: object): void {
  const method = (value: (this: MemberState, ...args: never[]) => unknown) => ({ value, writable: true, configurable: true });
  Object.defineProperties(proto, {
    ref: method(function () {
      this[kAlive].setRef(true);
      return this;
    }),
    unref: method(function () {
      this[kAlive].setRef(false);
      return this;
    }),
    subscribe: method(function (notify: ReadyNotify) {
      this[kWatchers].subscribe(notify);
    }),
    unsubscribe: method(function (notify: ReadyNotify) {
      this[kWatchers].unsubscribe(notify);
    }),
    epCtl: method(function (op: 'add' | 'mod' | 'del', events: number, notify: ReadyNotify) {
      this[kWatchers].ctl(op, events, notify, this[kBinding]);
    }),
    route: {
      get(this: MemberState) {
        return this[kBinding]?.route ?? null;
      },
      configurable: true,
    },
    stackName: {
      get(this: MemberState) {
        return this[kBinding]?.stack.name ?? null;
      },
      configurable: true,
    },
  });
}
