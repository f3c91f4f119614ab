/** nmemif: memif for Node.js. */
export * from './memif';
export * from './errors';
export { EventPoll, Engine, defaultEngine, setLogLevel, configureLogging, logger } from './nstack';
/** The nStack socket layer and event engine as one namespace: nstack.createSocket('udp4'), nstack.route(...). */
export * as nstack from './nstack';
