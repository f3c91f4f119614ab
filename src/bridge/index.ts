/// <reference types="node" preserve="true" />
// The declarations use Node's types: load them even for consumers with `"types": []`.
/** The bridge: memif <-> DPDK (or memif <-> memif) cross-connects on native workers. */
export { Bridge, dpdkBuilt, type BridgeEvents, type PortStatus } from './bridge';
export { parseConfig, loadConfigFile, configFromFlags, splitArgs, bridgeDefaults, type BridgeConfig, type PortConfig } from './config';
export { buildEalArgs } from './eal';
export { BridgeConfigError, BridgeDpdkError } from './errors';
export { PORT_STATS, drops, readCounters, type PortCounters } from './stats';
export { BridgeControlError, ControlServer, DEFAULT_CONTROL_PATH, controlRequest, type ControlReply } from './control';
