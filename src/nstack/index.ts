/// <reference types="node" preserve="true" />
// The declarations use Node's types: load them even for consumers with `"types": []`.
/**
 * The nStack event engine: EventPoll, virtual sources, event constants, logging.
 * @module nmemif/nstack
 */
export {
  EventPoll,
  type CtlOp,
  type EventPollOptions,
  type PollTarget,
  type ReadyEvent,
  type ReadyHandler,
  type WakeListener,
} from './event-poll';
export {
  ManualSource,
  VirtualSourceBase,
  isVirtualSource,
  type ReadyNotify,
  type VirtualSource,
} from './virtual-source';
export * from './constants';
export { Engine, defaultEngine, type EventHandler } from './engine';
export {
  DEFAULT_LOG_LEVEL,
  LOG_LEVELS,
  Logger,
  configureLogging,
  getLogLevel,
  logger,
  parseLogSpec,
  setLogLevel,
  setLogSink,
  type EmitLevel,
  type LogFn,
  type LogLevel,
  type LogSink,
} from './log';
