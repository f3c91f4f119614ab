/** The handle the lwIP stack gives the framework for one of its sockets (the `S` of
 * StackModule<S>): the native socket id and how it reports readiness. */
import type { Family, Protocol, StackEvents } from '../../stack';

export class LwipSocket {
  readonly id: number;
  readonly protocol: Protocol;
  readonly family: Family;
  readonly events: StackEvents;
  /** The stack it belongs to (a handle of another stack instance is refused). */
  readonly owner: object;
  closed = false;

  constructor(owner: object, id: number, protocol: Protocol, family: Family, events: StackEvents) {
    this.owner = owner;
    this.id = id;
    this.protocol = protocol;
    this.family = family;
    this.events = events;
  }
}
