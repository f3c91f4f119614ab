/**
 * How the nstack tools pick their stack: --stack pins every socket to a stack, --memif creates
 * the lwIP stack with one interface (and, without --rules or --stack, pins to it), --rules
 * loads nRD rules; otherwise the registry's default (the kernel). explain() says what nRD (or
 * the pin) chooses for an address, as `--explain` prints it.
 */
import { nstack } from '../../src';
import { ToolError, UsageError } from './errors';
import { loadLwip, type LwipStack } from './lwip';

export type StackChoice = 'kernel' | 'lwip';

export interface StackSetupOptions {
  stack?: StackChoice;
  memif?: string;
  ip?: string;
  rules?: string;
}

export interface StackSetup {
  /** The stack every socket is pinned to, or undefined (nRD decides). */
  pinned: string | undefined;
  lwip: LwipStack | null;
  close(): void;
}

export function setupStacks(o: StackSetupOptions): StackSetup {
  if (o.ip !== undefined && o.memif === undefined) throw new UsageError('--ip is the address of the --memif interface: give --memif too');
  if (o.stack === 'lwip' && o.memif === undefined) throw new UsageError('--stack lwip needs an interface: give --memif DEVARGS --ip ADDR/LEN');
  if (o.rules !== undefined) nstack.loadRules(o.rules);
  let lwip: LwipStack | null = null;
  if (o.memif !== undefined) {
    const mod = loadLwip();
    lwip = mod.createLwipStack({ interfaces: [{ memif: o.memif, ip: o.ip }] });
    nstack.registerStack(lwip);
  }
  const pinned = o.stack ?? (o.memif !== undefined && o.rules === undefined ? 'lwip' : undefined);
  return {
    pinned,
    lwip,
    close: () => nstack.closeStacks('done'),
  };
}

/** One line: which plane and stack a `proto` socket to `address` uses, and why. */
export function explain(setup: StackSetup, address: string, proto: 'udp' | 'tcp'): string {
  if (setup.pinned !== undefined) {
    const s = nstack.getStack(setup.pinned);
    if (s === undefined) throw new ToolError(`no stack named ${setup.pinned}`);
    return `${proto} ${address}: plane ${s.plane}, stack ${s.name} (pinned by --stack or --memif)`;
  }
  const r = nstack.route(address, proto);
  const stack = r.stack ?? 'none registered';
  return `${proto} ${address}: plane ${r.plane || '-'}, stack ${stack} (${r.reason})`;
}

/** Waits (bounded) until the lwIP interface is up; a no-op on other stacks. */
export async function waitForInterface(setup: StackSetup, ms: number): Promise<void> {
  const netif = setup.lwip?.interfaces[0];
  if (netif === undefined) return;
  const end = performance.now() + ms;
  while (!netif.up) {
    if (performance.now() > end) throw new ToolError(`the lwIP interface ${netif.name} is not up after ${ms / 1000} s: is the memif peer there (check --memif role=, socket=, id=)?`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
