/** Helpers for the memif tests: private temp dirs, unique abstract names, bounded waits. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import type { ExecutionContext } from 'ava';
import { MemifSocket } from '../../src/memif/socket';
import type { MemifInterface } from '../../src/memif/interface';
import type { InterfaceOptions } from '../../src/memif/options';
import { bound } from './bounds';

/** A fresh directory under the system temp dir, removed when the test ends. */
export function tempDir(t: ExecutionContext, prefix = 'nmemif-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A socket path in a fresh temp dir. */
export function socketPath(t: ExecutionContext): string {
  return path.join(tempDir(t), 'memif.sock');
}

let abstractCounter = 0;
/** An abstract socket name no other test (thread or process) uses. */
export function abstractName(tag = 't'): string {
  return `@nmemif-${tag}-${process.pid}-${threadId}-${++abstractCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Resolves with `promise`, or rejects with `message` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  ms = bound(ms);
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${message}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/* eslint-disable @typescript-eslint/no-explicit-any -- any typed emitter (eventemitter3 or Node's) */
interface Emitter {
  once(event: any, fn: any): unknown;
  off(event: any, fn: any): unknown;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The arguments of the next `event`, or a rejection naming what was awaited after `ms`. */
export function nextEvent<T extends unknown[] = unknown[]>(emitter: Emitter, event: string, ms: number, what = event): Promise<T> {
  let fn!: (...args: T) => void;
  const p = new Promise<T>((resolve) => {
    fn = (...args: T) => resolve(args);
    emitter.once(event, fn);
  });
  return within(p, ms, what).finally(() => emitter.off(event, fn));
}

/** Resolves once the interface is connected (at once if it already is). The default bound is
 * generous: under load a handshake can time out and be retried. */
export async function connected(iface: MemifInterface, ms = 30000, what = `interface ${iface.id} (${iface.role}) to connect`): Promise<void> {
  if (iface.connected) return;
  await nextEvent(iface, 'connect', ms, what);
}

/** Waits until cond() holds, polling every few ms; rejects with `what` after `ms`. */
export async function waitUntil(cond: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  ms = bound(ms);
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 3));
  }
}

export interface Pair {
  master: MemifInterface;
  slave: MemifInterface;
  masterSocket: MemifSocket;
  slaveSocket: MemifSocket;
  path: string;
}

/** A master and a slave in this process on `path` (default: a fresh temp path), connected;
 * both sockets are closed when the test ends. */
export async function connectedPair(
  t: ExecutionContext,
  options: { path?: string; master?: InterfaceOptions; slave?: InterfaceOptions; shared?: InterfaceOptions } = {},
): Promise<Pair> {
  const p = options.path ?? socketPath(t);
  const masterSocket = new MemifSocket(p);
  t.teardown(() => masterSocket.close());
  const slaveSocket = new MemifSocket(p);
  t.teardown(() => slaveSocket.close());
  const master = masterSocket.createInterface({ id: 1, ...options.shared, ...options.master, role: 'master' });
  const slave = slaveSocket.createInterface({ id: 1, ...options.shared, ...options.slave, role: 'slave' });
  await Promise.all([connected(master), connected(slave)]);
  return { master, slave, masterSocket, slaveSocket, path: p };
}
