/** The bridge: memif <-> DPDK (or memif <-> memif) cross-connects on native workers. */
export { Bridge, dpdkBuilt, type BridgeEvents, type PortStatus } from './bridge';
export { parseConfig, loadConfigFile, configFromFlags, splitArgs, bridgeDefaults, type BridgeConfig, type PortConfig } from './config';
export { buildEalArgs } from './eal';
export { BridgeConfigError, BridgeControlError, BridgeDpdkError } from '../errors';
export { PORT_STATS, readCounters, type PortCounters } from './stats';
