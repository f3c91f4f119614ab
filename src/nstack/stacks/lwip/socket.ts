/** The handle the lwIP stack gives the framework for one of its sockets (the `S` of
 * StackModule<S>): the native socket id plus what is reused on every call. */
import type { Family, Protocol, SockAddr, StackEvents } from '../../stack';

export class LwipSocket {
  readonly id: number;
  readonly protocol: Protocol;
  readonly family: Family;
  readonly events: StackEvents;
  /** The stack it belongs to (a handle of another stack instance is refused). */
  readonly owner: object;
  closed = false;
  /** recv()'s result object, reused: read it before the next recv() on this socket. */
  readonly result: { bytes: number; from: SockAddr };

  constructor(owner: object, id: number, protocol: Protocol, family: Family, events: StackEvents) {
    this.owner = owner;
    this.id = id;
    this.protocol = protocol;
    this.family = family;
    this.events = events;
    this.result = { bytes: 0, from: { address: family === 6 ? '::' : '0.0.0.0', port: 0, family } };
  }
}
