/** Errors of the bridge control plane (codes are stable). */
import { NmemifError } from '../errors';

/** A bad configuration value; `field` names it ("ports[1].devargs", "--burst"). Code `'ERR_NMEMIF_BRIDGE_CONFIG'`. */
export class BridgeConfigError extends NmemifError {
  /** The configuration field at fault. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`, 'ERR_NMEMIF_BRIDGE_CONFIG');
    this.name = 'BridgeConfigError';
    this.field = field;
  }
}

/** DPDK is needed but not built in, or EAL failed. Code `'ERR_NMEMIF_BRIDGE_DPDK'`. */
export class BridgeDpdkError extends NmemifError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'ERR_NMEMIF_BRIDGE_DPDK', options);
    this.name = 'BridgeDpdkError';
  }
}
