/// <reference types="node" preserve="true" />
// The declarations use Node's types: load them even for consumers with `"types": []`.
/**
 * nStack: the event engine (EventPoll, virtual sources, event constants, logging) and the
 * socket layer (stack registry, nRD rules, nSockets, the kernel stack).
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

/* The socket layer: stack registry and nRD, nSockets shaped like node:dgram and node:net. */
export type {
  DatagramList,
  Family,
  Protocol,
  ShutdownHow,
  SockAddr,
  SockOpt,
  StackEpollOps,
  StackEvents,
  StackModule,
  StackSocketOps,
} from './stack';
export {
  closeStacks,
  getRules,
  getStack,
  listStacks,
  loadRules,
  registerStack,
  route,
  setRules,
  unregisterStack,
  type Route,
} from './registry';
export { NrdRules, describeRule, type NrdMatch, type NrdRule, type NrdRuleSpec, type NrdRulesSpec } from './nrd';
export { KERNEL_PLANE, KERNEL_STACK, createKernelStack, type KernelStack, type KernelStackOptions } from './stacks/kernel';
export type { IpAddress, IpPrefix } from './ip';
export type { MessageChunk, MessageData } from './nsocket/message';
export { createLwipStack, lwipAvailable, lwipUnavailableReason, type LwipInterfaceOptions, type LwipNetif, type LwipStack, type LwipStackOptions } from './stacks/lwip';
export { createDatagramList, datagramAt, type DatagramListOptions } from './datagram-list';
export { UdpSocket, createSocket, type BindOptions, type SendCallback, type UdpSocketEvents, type UdpSocketOptions, type UdpType } from './nsocket/udp-socket';
export { TcpSocket, connect, createConnection, type TcpConnectOptions, type TcpSocketOptions } from './nsocket/tcp-socket';
export { TcpServer, createServer, type ListenOptions, type TcpServerEvents, type TcpServerOptions } from './nsocket/tcp-server';
export { RemoteSocket, attachSocket } from './nsocket/remote-socket';
export type { SendQueueHandle } from './nsocket/shared-send';
export type { AddressInfo, RemoteInfo } from './nsocket/address';
