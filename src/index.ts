/// <reference types="node" preserve="true" />
// The declarations use Node's types: load them even for consumers with `"types": []`.
/**
 * memif for Node.js: sockets, interfaces and packet batches over shared memory, the errors
 * they throw, and logging. The bridge and the full event engine are `nmemif/bridge` and
 * `nmemif/nstack`.
 * @module nmemif
 */
export * from './memif';
export * from './errors';
export { EventPoll, Engine, defaultEngine, setLogLevel, configureLogging, logger } from './nstack';
/** The nStack socket layer and event engine as one namespace: nstack.createSocket('udp4'), nstack.route(...). */
export * as nstack from './nstack';
