/// <reference types="node" preserve="true" />
// The declarations use Node's types: load them even for consumers with `"types": []`.
/**
 * The bridge: memif <-> DPDK (or memif <-> memif) cross-connects on native workers, its
 * configuration, counters and control socket.
 * @module nmemif/bridge
 */
export { Bridge, dpdkBuilt, type BridgeEvents, type BridgeStats, type PortStatus } from './bridge';
export { parseConfig, loadConfigFile, configFromFlags, splitArgs, bridgeDefaults, type BridgeConfig, type DpdkPortConfig, type LinkConfig, type MemifPortConfig, type PortConfig } from './config';
export { buildEalArgs, type EalArgs } from './eal';
export { BridgeConfigError, BridgeControlError, BridgeDpdkError } from '../errors';
export { PORT_STATS, drops, readCounters, type PortCounters, type PortStatName } from './stats';
export { ControlServer, DEFAULT_CONTROL_PATH, controlRequest, type ControlReply } from './control';
