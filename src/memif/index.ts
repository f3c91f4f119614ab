/** The TypeScript memif API. */
export { MemifSocket } from './socket';
export { MemifInterface, type InterfaceDetails, type InterfaceEvents, type InterfaceSocket, type InterfaceStats, type QueueDetails } from './interface';
export type { NativeQueueStats as QueueStats } from '../native';
export { PacketBatch, WORDS_PER_BUFFER } from './batch';
export { closeAllSockets } from './cleanup';
export { type PacketsOptions, type StreamOptions } from './packet-stream';
export { type WaitOptions } from './waits';
export {
  DEFAULT_SOCKET_PATH,
  interfaceDefaults,
  socketDefaults,
  type InterfaceOptions,
  type ResolvedInterfaceOptions,
  type ResolvedSocketOptions,
  type Mode,
  type Role,
  type RoleName,
  type RxMode,
  type RxTrigger,
  type SocketOptions,
} from './options';
export { MemifQueue, attachQueue, type QueueEvents, type QueueHandle } from './queue';
export { DEVARGS_HELP, parseDevargs, type MemifDevargs } from './devargs';
