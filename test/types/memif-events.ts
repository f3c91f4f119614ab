/**
 * Type test, checked by `npm run typecheck` (tsc, strict): memif objects work with Node's own
 * event helpers and with `using`. Every line must compile; every @ts-expect-error line must be
 * an error (tsc fails on one that is not). Never run: the functions are only type-checked.
 */
import { EventEmitter, on, once } from 'node:events';
import {
  attachQueue,
  MemifSocket,
  type HandshakeError,
  type MemifInterface,
  type MemifQueue,
  type QueueHandle,
  type StackError,
} from '../../src/index';

export async function eventsOnce(iface: MemifInterface, q: MemifQueue, signal: AbortSignal): Promise<void> {
  await once(iface, 'connect');
  await once(iface, 'connect', { signal });
  const [reason] = await once(iface, 'disconnect');
  console.log(reason);
  await once(q, 'drain');
  await once(q, 'connect', { signal });
  for await (const [queue] of on(iface, 'rx', { signal })) console.log(queue);
  for await (const _ of on(q, 'rx')) break;
  // Both are Node EventEmitters, so anything typed for one takes them.
  const emitters: EventEmitter[] = [iface, q];
  console.log(emitters.length);
}

export function listenerTypes(iface: MemifInterface, q: MemifQueue): void {
  iface.on('rx', (queue: number) => console.log(queue));
  iface.on('drain', (queue: number) => console.log(queue));
  iface.on('disconnect', (reason: string) => console.log(reason));
  iface.on('connectionError', (err: StackError | HandshakeError) => console.log(err.code));
  q.on('drain', () => undefined);
  // @ts-expect-error 'rx' gives the queue number, not a string
  iface.on('rx', (queue: string) => console.log(queue));
  // @ts-expect-error no such event
  iface.on('packet', () => undefined);
  // @ts-expect-error a queue's 'rx' has no arguments
  q.on('rx', (queue: number) => console.log(queue));
}

export async function waits(iface: MemifInterface, q: MemifQueue, signal: AbortSignal): Promise<void> {
  await iface.whenConnected();
  await iface.whenConnected({ signal, timeout: 5000 });
  await q.whenConnected({ timeout: 100 });
  for await (const frame of iface.packets(0, { signal, copy: true })) console.log(frame.byteLength);
  // @ts-expect-error timeout is a number of ms
  await iface.whenConnected({ timeout: '5s' });
}

export async function disposal(handle: QueueHandle): Promise<void> {
  using sock = new MemifSocket('/tmp/types.sock');
  using iface = sock.createInterface({ role: 'slave', rxTrigger: 'edge' });
  using q = attachQueue(handle);
  await using other = new MemifSocket({ path: '@types', handleSignals: false });
  other.unref().ref();
  console.log(iface.id, q.queue, sock.hasRef());
}
