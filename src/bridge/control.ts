/**
 * The bridge's control socket (like DPVS's sockopt IPC): a Unix stream socket speaking JSON
 * lines. One request line, one reply line:
 *
 *   {"cmd":"show"}                                  → {"ok":true,"ports":[PortStatus...]}
 *   {"cmd":"stats"}                                 → {"ok":true,"ports":{...},"workers":{...}}
 *   {"cmd":"add","port":{"name":..,"memif"|"dpdk":..},"link":"other"}
 *                                                   → {"ok":true,"port":PortStatus}
 *   {"cmd":"del","name":"m1"}                       → {"ok":true,"name":"m1"}
 *   anything wrong                                  → {"ok":false,"error":{"code":..,"message":..}}
 *
 * Requests run on the main thread, calling the Bridge's own methods (never worker state).
 * A stale socket file (nobody listening) is removed; a live one is refused.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BridgeControlError } from '../errors';
import type { Bridge } from './bridge';
import { parsePort } from './config';

/** Where the bridge's control socket is unless configured otherwise. */
export const DEFAULT_CONTROL_PATH = '/run/nmemif/bridge.sock';
/** Longest request line accepted (bytes). */
const MAX_LINE = 64 * 1024;

/** One reply line of the control socket: the result, or the error with its stable code. */
export type ControlReply =
  | {
      /** The request succeeded. */
      ok: true;
      /** The result's fields ("ports", "workers", "port", "name"). */
      [k: string]: unknown;
    }
  | {
      /** The request failed. */
      ok: false;
      /** Why. */
      error: {
        /** A stable code (ERR_NMEMIF_...). */
        code: string;
        /** What went wrong, for people. */
        message: string;
      };
    };

function errorReply(err: unknown): ControlReply {
  const e = err as { code?: unknown; message?: unknown };
  return { ok: false, error: { code: typeof e?.code === 'string' ? e.code : 'ERR_NMEMIF_BRIDGE_CONTROL', message: String(e?.message ?? err) } };
}

/** Runs one request against `bridge`. */
export function handleRequest(bridge: Bridge, req: unknown): ControlReply {
  try {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new BridgeControlError('request must be a JSON object with "cmd"', 'ERR_NMEMIF_BRIDGE_REQUEST');
    const r = req as Record<string, unknown>;
    switch (r.cmd) {
      case 'show':
        return { ok: true, ports: bridge.ports() };
      case 'stats':
        return { ok: true, ...bridge.stats() };
      case 'add': {
        const pc = parsePort('port', r.port);
        if (r.link !== undefined && typeof r.link !== 'string') throw new BridgeControlError('"link" must name a port', 'ERR_NMEMIF_BRIDGE_REQUEST');
        if (typeof r.link === 'string' && !bridge.ports().some((p) => p.name === r.link)) {
          throw new BridgeControlError(`link: no port "${r.link}"`, 'ERR_NMEMIF_BRIDGE_REQUEST');
        }
        bridge.addPort(pc, r.link as string | undefined);
        return { ok: true, port: bridge.ports().find((p) => p.name === pc.name) };
      }
      case 'del': {
        if (typeof r.name !== 'string' || r.name === '') throw new BridgeControlError('"name" must be a port name', 'ERR_NMEMIF_BRIDGE_REQUEST');
        bridge.delPort(r.name);
        return { ok: true, name: r.name };
      }
      default:
        throw new BridgeControlError(`unknown cmd ${JSON.stringify(r.cmd)}; accepted: show, stats, add, del`, 'ERR_NMEMIF_BRIDGE_REQUEST');
    }
  } catch (err) {
    return errorReply(err);
  }
}

function checkDir(file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new BridgeControlError(`control socket directory ${dir} does not exist (control ${file}): create it, or choose another path`);
  }
}

/** Whether something accepts connections on `file`. */
function probe(file: string, ms = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(file);
    const done = (live: boolean) => {
      clearTimeout(timer);
      c.destroy();
      resolve(live);
    };
    const timer = setTimeout(() => done(true), ms); // connected-but-silent counts as live
    c.once('connect', () => done(true));
    c.once('error', () => done(false));
  });
}

/** The bridge's Unix control socket, serving JSON lines (show, stats, add, del). */
export class ControlServer {
  /** The socket path. */
  readonly path: string;
  #server: net.Server;
  #clients = new Set<net.Socket>();
  #ino = -1;
  #closed = false;

  private constructor(bridge: Bridge, file: string) {
    this.path = file;
    this.#server = net.createServer((sock) => this.#serve(bridge, sock));
  }

  /** Listens on `file` (removing a stale socket file, refusing a live one). */
  static async listen(bridge: Bridge, file: string): Promise<ControlServer> {
    checkDir(file);
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (st) {
      if (!st.isSocket()) throw new BridgeControlError(`control path ${file} exists and is not a socket: remove it, or choose another path`);
      if (await probe(file)) throw new BridgeControlError(`a bridge is already listening on ${file}: stop it, or choose another --control path`, 'ERR_NMEMIF_BRIDGE_CONTROL_BUSY');
      fs.rmSync(file, { force: true }); // stale: its bridge died
    }
    const s = new ControlServer(bridge, file);
    await new Promise<void>((resolve, reject) => {
      s.#server.once('error', (err) => reject(new BridgeControlError(`cannot listen on ${file}: ${err.message}`, 'ERR_NMEMIF_BRIDGE_CONTROL', { cause: err })));
      s.#server.listen(file, () => resolve());
    });
    s.#server.on('error', () => undefined);
    s.#server.unref();
    s.#ino = fs.statSync(file).ino;
    return s;
  }

  #serve(bridge: Bridge, sock: net.Socket): void {
    this.#clients.add(sock);
    sock.unref();
    sock.setEncoding('utf8');
    let buf = '';
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        let reply: ControlReply;
        try {
          reply = handleRequest(bridge, JSON.parse(line));
        } catch (err) {
          reply = errorReply(new BridgeControlError(`request is not valid JSON: ${(err as Error).message}`, 'ERR_NMEMIF_BRIDGE_REQUEST'));
        }
        sock.write(`${JSON.stringify(reply)}\n`);
      }
      if (buf.length > MAX_LINE) {
        sock.end(`${JSON.stringify(errorReply(new BridgeControlError(`request line longer than ${MAX_LINE} bytes`, 'ERR_NMEMIF_BRIDGE_REQUEST')))}\n`);
        buf = '';
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.#clients.delete(sock));
  }

  /** Stops listening, drops clients and removes the socket file (synchronous, idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#clients) c.destroy();
    this.#clients.clear();
    this.#server.close();
    try {
      if (fs.statSync(this.path).ino === this.#ino) fs.rmSync(this.path, { force: true });
    } catch {
      /* already gone */
    }
  }
}

/** Sends one request to the bridge listening on `file` and resolves with its reply. */
export function controlRequest(file: string, req: Record<string, unknown>, timeoutMs = 5000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const c = net.connect(file);
    let buf = '';
    const fail = (err: Error) => {
      clearTimeout(timer);
      c.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new BridgeControlError(`no reply from the bridge on ${file} within ${timeoutMs / 1000} s`)), timeoutMs);
    c.setEncoding('utf8');
    c.once('connect', () => c.write(`${JSON.stringify(req)}\n`));
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      c.destroy();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as ControlReply);
      } catch (err) {
        reject(new BridgeControlError(`bad reply from ${file}: ${(err as Error).message}`));
      }
    });
    c.on('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT' ? 'no such socket' : err.code === 'ECONNREFUSED' ? 'nobody listening (stale socket?)' : err.code === 'EACCES' ? 'permission denied' : err.message;
      fail(new BridgeControlError(`cannot reach a bridge on ${file}: ${why}; is nmemif-bridge running with --control ${file}?`));
    });
    c.on('close', () => fail(new BridgeControlError(`the bridge on ${file} closed the connection without a reply`)));
  });
}
