/**
 * The stack registry of this thread (after DMM's stack modules and nRD): which stacks exist,
 * which plane each serves, the nRD rules, and the choice of a stack for a socket.
 *
 * Each thread has its own registry (stacks and their sockets belong to the thread that
 * registered them). It starts with the `kernel` stack (plane `nstack-linux`); registerStack()
 * adds others. Closing it (closeStacks(), process exit, SIGINT/SIGTERM) closes every nSocket of
 * the thread, then recycles every stack (DMM's recycle); the next use starts a fresh one.
 */
import { AlreadyRegisteredError, InvalidArgumentError, NoStackError, NotRegisteredError } from '../errors';
import { EXIT_ORDER_NSTACK, addExitHook, removeExitHook, type ExitReason } from '../exit-hooks';
import { logger } from './log';
import { NrdRules, describeRule, type NrdRule, type NrdRulesSpec } from './nrd';
import type { Protocol, StackModule } from './stack';
import { createKernelStack } from './stacks/kernel';

const log = logger('nstack');

/** Which plane and stack a socket would use, and why. */
export interface Route {
  /** The plane chosen ('nstack-linux', 'nstack-memif', ...). */
  plane: string;
  /** The stack's name, or null when no registered stack serves the plane with this protocol. */
  stack: string | null;
  /** The rule that decided, or null (default plane, highest-priority stack, or pinned). */
  rule: NrdRule | null;
  /** For humans: 'rules[0] (10.0.0.0/8)', 'default plane of the rules', ... */
  reason: string;
}

/** What the registry needs of an open nSocket to close it before its stack is recycled. */
export interface RegistryMember {
  /** The stack carrying it, or null while none was chosen. */
  readonly stackName: string | null;
  /** Closes the socket at once (no graceful end): its stack is going away. */
  abort(reason: string): void;
}

const SOCKET_OPS = [
  'socket', 'bind', 'connect', 'listen', 'accept', 'send', 'recv', 'recvBatch', 'shutdown', 'close',
  'getsockname', 'getpeername', 'getsockopt', 'setsockopt', 'epGetEvt', 'recycle',
] as const;

function checkModule(m: StackModule): void {
  if (typeof m !== 'object' || m === null) throw new InvalidArgumentError('registerStack() takes a stack module object');
  if (typeof m.name !== 'string' || m.name === '') throw new InvalidArgumentError('stack.name must be a non-empty string');
  const what = `stack "${m.name}"`;
  if (typeof m.plane !== 'string' || m.plane === '') throw new InvalidArgumentError(`${what}: plane must be a non-empty string`);
  if (!Number.isInteger(m.priority) || m.priority < 0) throw new InvalidArgumentError(`${what}: priority must be an integer >= 0 (0 = highest)`);
  if (!Array.isArray(m.protocols) || m.protocols.length === 0 || !m.protocols.every((p) => p === 'udp' || p === 'tcp')) {
    throw new InvalidArgumentError(`${what}: protocols must be a non-empty array of 'udp' and/or 'tcp'`);
  }
  for (const op of SOCKET_OPS) {
    if (typeof m[op] !== 'function') throw new InvalidArgumentError(`${what}: ${op}() is missing (every stack implements it; throw StackError('EOPNOTSUPP') where it does not apply)`);
  }
  for (const op of ['epCtl', 'moduleInit', 'sendOwned', 'recvOwned'] as const) {
    if (m[op] !== undefined && typeof m[op] !== 'function') throw new InvalidArgumentError(`${what}: ${op} must be a function when given`);
  }
}

export class StackRegistry {
  #stacks: StackModule[] = [];
  #rules: NrdRules | null = null;
  readonly #members = new Set<RegistryMember>();
  #closed = false;

  register(module: StackModule): void {
    checkModule(module);
    if (this.#stacks.some((s) => s.name === module.name)) throw new AlreadyRegisteredError(`a stack named "${module.name}" is already registered`);
    const samePlane = this.#stacks.find((s) => s.plane === module.plane);
    if (samePlane !== undefined) throw new AlreadyRegisteredError(`plane "${module.plane}" is already served by stack "${samePlane.name}"`);
    module.moduleInit?.();
    this.#stacks.push(module);
    log.debug('stack %s registered (plane %s, priority %d)', module.name, module.plane, module.priority);
  }

  /** Closes the stack's sockets, recycles it and forgets it. */
  unregister(name: string, reason: string): void {
    const module = this.#stacks.find((s) => s.name === name);
    if (module === undefined) throw new NotRegisteredError(`no stack named "${name}"`);
    this.#abortMembers(reason, name);
    this.#stacks = this.#stacks.filter((s) => s !== module);
    module.recycle(reason);
  }

  get(name: string): StackModule | undefined {
    return this.#stacks.find((s) => s.name === name);
  }

  byPlane(plane: string): StackModule | undefined {
    return this.#stacks.find((s) => s.plane === plane);
  }

  /** In registration order. */
  list(): readonly StackModule[] {
    return [...this.#stacks];
  }

  get rules(): NrdRules | null {
    return this.#rules;
  }

  set rules(rules: NrdRules | null) {
    this.#rules = rules;
  }

  /** The highest-priority stack carrying `protocol` (ties: the first registered). */
  defaultStack(protocol: Protocol): StackModule | undefined {
    let best: StackModule | undefined;
    for (const s of this.#stacks) {
      if (s.protocols.includes(protocol) && (best === undefined || s.priority < best.priority)) best = s;
    }
    return best;
  }

  route(address: string, protocol: Protocol): Route {
    const match = this.#rules?.match(address, protocol) ?? null;
    if (match !== null) {
      const stack = this.byPlane(match.plane);
      const carries = stack !== undefined && stack.protocols.includes(protocol);
      return {
        plane: match.plane,
        stack: carries ? stack.name : null,
        rule: match.rule,
        reason: match.rule === null ? 'default plane of the rules' : describeRule(match.rule),
      };
    }
    const stack = this.defaultStack(protocol);
    if (stack === undefined) return { plane: '', stack: null, rule: null, reason: `no registered stack carries ${protocol}` };
    return { plane: stack.plane, stack: stack.name, rule: null, reason: `no rule matched: highest-priority stack (priority ${stack.priority})` };
  }

  /** The stack for a new socket: `pinned` by name, or by route(). Throws NoStackError. */
  choose(address: string, protocol: Protocol, pinned?: string): { stack: StackModule; route: Route } {
    if (pinned !== undefined) {
      const stack = this.get(pinned);
      if (stack === undefined) throw new NoStackError(`no stack named "${pinned}" is registered (registered: ${this.#names()})`);
      if (!stack.protocols.includes(protocol)) throw new NoStackError(`stack "${pinned}" does not carry ${protocol}`);
      return { stack, route: { plane: stack.plane, stack: stack.name, rule: null, reason: `stack "${pinned}" asked for` } };
    }
    const route = this.route(address, protocol);
    const stack = route.stack === null ? undefined : this.get(route.stack);
    if (stack === undefined) {
      const why = route.plane === '' ? route.reason : `nRD chose plane "${route.plane}" (${route.reason}) but no registered stack serves it with ${protocol}`;
      throw new NoStackError(`no stack for ${protocol} to ${address}: ${why} (registered: ${this.#names()})`);
    }
    return { stack, route };
  }

  track(member: RegistryMember): void {
    this.#members.add(member);
  }

  untrack(member: RegistryMember): void {
    this.#members.delete(member);
  }

  /** Open nSockets of this thread. */
  get memberCount(): number {
    return this.#members.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes every nSocket, then recycles every stack (last registered first). Idempotent. */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abortMembers(reason, null);
    const stacks = this.#stacks.reverse();
    this.#stacks = [];
    for (const s of stacks) {
      try {
        s.recycle(reason);
      } catch (err) {
        log.error('stack %s failed to recycle: %s', s.name, (err as Error).message);
      }
    }
  }

  #abortMembers(reason: string, stackName: string | null): void {
    for (const m of [...this.#members]) {
      if (stackName !== null && m.stackName !== stackName) continue;
      this.#members.delete(m);
      try {
        m.abort(reason);
      } catch (err) {
        log.error('closing a socket failed: %s', (err as Error).message);
      }
    }
  }

  #names(): string {
    return this.#stacks.map((s) => `${s.name} (${s.plane})`).join(', ') || 'none';
  }
}

let current: StackRegistry | null = null;

function onExit(reason: ExitReason): void {
  closeStacks(reason);
}

/** This thread's registry, created (with the kernel stack) on first use. */
export function stackRegistry(): StackRegistry {
  if (current === null) {
    const r = new StackRegistry();
    r.register(createKernelStack());
    current = r;
    addExitHook(onExit, EXIT_ORDER_NSTACK);
  }
  return current;
}

/**
 * Adds a stack to this thread's registry (after DMM's nstack_stack_register_fn): checks the
 * module, calls its moduleInit() once, and from then on nRD may send sockets to its plane.
 */
export function registerStack(module: StackModule): void {
  stackRegistry().register(module);
}

/** Closes the sockets a stack carries, recycles it and removes it from the registry. */
export function unregisterStack(name: string, reason = 'unregistered'): void {
  stackRegistry().unregister(name, reason);
}

/** The registered stack called `name`, or undefined. */
export function getStack(name: string): StackModule | undefined {
  return stackRegistry().get(name);
}

/** Every stack registered in this thread, in registration order. */
export function listStacks(): readonly StackModule[] {
  return stackRegistry().list();
}

/** Sets this thread's nRD rules (an object as in a rules file, or parsed rules; null = none). */
export function setRules(rules: NrdRulesSpec | NrdRules | null): NrdRules | null {
  const parsed = rules === null ? null : NrdRules.parse(rules);
  stackRegistry().rules = parsed;
  return parsed;
}

/** Reads a JSON rules file and makes it this thread's nRD rules. */
export function loadRules(file: string): NrdRules {
  const rules = NrdRules.readFile(file);
  stackRegistry().rules = rules;
  return rules;
}

/** This thread's nRD rules, or null when none are set (every socket then goes to the highest-priority stack). */
export function getRules(): NrdRules | null {
  return stackRegistry().rules;
}

/** Which plane and stack a socket of `protocol` to (or bound to) `address` would use. */
export function route(address: string, protocol: Protocol): Route {
  return stackRegistry().route(address, protocol);
}

/**
 * Closes every nSocket of this thread and recycles every stack (also done at exit and on
 * SIGINT/SIGTERM). The next use starts a fresh registry with the kernel stack only.
 */
export function closeStacks(reason = 'closed'): void {
  const r = current;
  if (r === null) return;
  current = null;
  removeExitHook(onExit);
  r.close(reason);
}
