/**
 * The lwIP stack (plane nstack-memif) for the tools, taken only when a tool asks for it: an
 * addon built without lwIP says so through lwipAvailable(), and the tool then fails with
 * "lwIP stack not available: <why>".
 */
import { nstack } from '../../src';
import { ToolError } from './errors';

export type LwipStack = nstack.LwipStack;
export type LwipInterfaceOptions = nstack.LwipInterfaceOptions;

/** Why lwIP cannot be used here, or null when it can. */
export function lwipMissing(): string | null {
  return nstack.lwipAvailable() ? null : nstack.lwipUnavailableReason();
}

/** The lwIP part of the nstack API, or a ToolError saying why it is not available. */
export function loadLwip(): Pick<typeof nstack, 'createLwipStack'> {
  const why = lwipMissing();
  if (why !== null) throw new ToolError(`lwIP stack not available: ${why}`);
  return nstack;
}
