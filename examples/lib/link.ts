/**
 * Opening the memif link the tools talk over: a socket and one interface from `--memif`
 * devargs, and waiting for the link with a bounded time and a message that says what to check.
 */
import { MemifSocket, parseDevargs, type MemifDevargs, type MemifInterface, type RxMode } from '../../src';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ToolError } from './errors';
import { parseMac, randomMac } from './packets';

export interface Link {
  devargs: MemifDevargs;
  socket: MemifSocket;
  iface: MemifInterface;
  mac: Uint8Array;
  queues: number;
}

export function openLink(devargs: string | undefined, o: { queues?: number; rxMode?: RxMode; name: string }): Link {
  const d = parseDevargs(devargs ?? '');
  const queues = o.queues ?? d.interface.rxQueues ?? 1;
  if (!d.socket.path.startsWith('@')) {
    const dir = path.dirname(path.resolve(d.socket.path));
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new ToolError(`socket directory ${dir} does not exist (socket=${d.socket.path}): create it, or choose another socket= path`);
    }
  }
  const socket = new MemifSocket({ path: d.socket.path, appName: o.name });
  try {
    const iface = socket.createInterface({ ...d.interface, rxQueues: queues, txQueues: queues, rxMode: o.rxMode ?? 'interrupt', name: o.name });
    const mac = d.mac !== undefined ? parseMac(d.mac)! : randomMac();
    return { devargs: d, socket, iface, mac, queues };
  } catch (err) {
    socket.close();
    throw err;
  }
}

export function describe(link: Link): string {
  const { iface } = link;
  const d = link.devargs;
  return `memif id ${iface.id} as ${iface.role === 'master' ? 'server (master)' : 'client (slave)'} on ${d.socket.path}`;
}

/** Resolves when the link is up; rejects with a UsageError after `ms` (or when `abort` fires). */
export function waitForLink(link: Link, ms: number, abort?: AbortSignal): Promise<void> {
  const { iface } = link;
  if (iface.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      iface.off('connect', onUp);
      abort?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onUp = () => done();
    const onAbort = () => done(new ToolError('interrupted while waiting for the link'));
    const timer = setTimeout(() => {
      const p = link.devargs.socket.path;
      const missing = iface.role === 'slave' && !p.startsWith('@') && !fs.existsSync(p) ? ` (no socket file at ${p})` : '';
      const why = iface.lastDisconnectReason ? ` (last attempt: ${iface.lastDisconnectReason})` : missing;
      const peer = iface.role === 'master' ? 'no client connected to' : 'no server answered on';
      done(
        new ToolError(
          `link not up after ${ms / 1000} s: ${peer} ${link.devargs.socket.path} with id ${iface.id}${why}; ` +
            `start the ${iface.role === 'master' ? 'client' : 'server'} side, or check socket=, id=, role= and secret=`,
        ),
      );
    }, ms);
    iface.on('connect', onUp);
    abort?.addEventListener('abort', onAbort);
  });
}

/**
 * An AbortSignal fired by the first SIGINT or SIGTERM; a second one exits at once. Call it
 * before opening the link: its handler then runs before the library's own (which closes every
 * socket), and while it stays installed the library does not re-raise the signal, so the tool
 * can print its counters. `off()` removes the handlers.
 */
export function stopSignal(): { signal: AbortSignal; off: () => void } {
  const ac = new AbortController();
  const on = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
    ac.abort();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: ac.signal,
    off: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
