/**
 * The lwIP stack (plane nstack-memif), loaded only when a tool asks for it: the module
 * src/nstack/stacks/lwip.ts is built by its own branch and exists only once merged, and an
 * addon built without lwIP says so through lwipAvailable(). Either way the tool fails with
 * "lwIP stack not available: <why>".
 */
import type { MemifInterface, nstack } from '../../src';
import { ToolError } from './errors';

/** The part of the lwip module's contract the tools use. */
export interface LwipInterfaceOptions {
  memif: MemifInterface | string;
  queue?: number;
  ip?: string;
  gateway?: string;
  ip6?: string;
  mac?: string;
  mtu?: number;
}
export interface LwipNetif {
  readonly name: string;
  readonly mac: string;
  readonly ip?: string;
  readonly ip6: string[];
  readonly up: boolean;
}
export interface LwipStack extends nstack.StackModule<unknown> {
  addInterface(options: LwipInterfaceOptions): LwipNetif;
  readonly interfaces: readonly LwipNetif[];
  close(): void;
}
interface LwipModule {
  lwipAvailable(): boolean;
  lwipUnavailableReason(): string;
  createLwipStack(options?: { interfaces?: LwipInterfaceOptions[] }): LwipStack;
}

const MODULE = '../../src/nstack/stacks/lwip';

/** Why lwIP cannot be used here, or null when it can. */
export function lwipMissing(): string | null {
  let mod: LwipModule;
  try {
    mod = require(MODULE) as LwipModule;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('stacks/lwip')) return 'this build has no lwIP stack module (src/nstack/stacks/lwip.ts)';
    throw err;
  }
  return mod.lwipAvailable() ? null : mod.lwipUnavailableReason();
}

/** The lwIP module, or a ToolError saying why it is not available. */
export function loadLwip(): LwipModule {
  const why = lwipMissing();
  if (why !== null) throw new ToolError(`lwIP stack not available: ${why}`);
  return require(MODULE) as LwipModule;
}
