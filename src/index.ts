/// <reference types="node" preserve="true" />
// The declarations use Node's types: load them even for consumers with `"types": []`.
/** nmemif: memif for Node.js. */
export * from './memif';
export * from './errors';
export { EventPoll, Engine, defaultEngine, setLogLevel, configureLogging, logger } from './nstack';
