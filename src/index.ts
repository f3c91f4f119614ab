/** nmemif: memif for Node.js. */
export * from './memif';
export * from './errors';
export { EventPoll, Engine, defaultEngine, setLogLevel, configureLogging, logger } from './nstack';
