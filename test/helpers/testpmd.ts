/**
 * The one launcher of DPDK `dpdk-testpmd` with a `net_memif` port, for the TypeScript tests and
 * every benchmark in bench/ (the ctest interop scripts, plain bash without Node, keep theirs in
 * native/libmemif/test/interop_lib.bash). testpmd runs interactively, driven through its
 * command line:
 *
 *   const tp = await Testpmd.start(t, { role: 'server', socket: path, forwardMode: 'rxonly' });
 *   ... our interface connects ...
 *   tp.forward();                    // "start": only once our side is connected
 *   await tp.portStats(0);           // "show port stats 0": counters and testpmd's own rates
 *   const stats = await tp.stop();   // "stop": counters printed while the link is still up
 *   tp.portForwardStats(1);          // one port's part of that summary
 *   await tp.quit();                 // "quit": closes the port, which disconnects us
 *
 * `t` is whoever owns it: an ava ExecutionContext, or a Teardowns list in a benchmark.
 *
 * What this relies on (DPDK 22.11, 2 vCPUs, no hugepages; see DESIGN.md, "Real peers"):
 *  - `--no-huge -m 1024 --no-pci --total-num-mbufs=16384`, two lcores (the main lcore, which
 *    only reads commands, and one forwarding lcore), a unique `--file-prefix` per run;
 *  - `--no-lsc-interrupt --disable-link-check`: do not wait for or react to link state;
 *    `--no-flush-rx`: "start" would otherwise receive and free whatever already waits;
 *  - forwarding starts only after the memif link is up (a DPDK 22.11 server that forwards while
 *    a client connects can dereference a not yet mapped ring);
 *  - the memif PMD clears its counters when the link drops, so they are read with "stop";
 *  - a testpmd still forwarding when its peer goes away may segfault: always "stop" first;
 *  - it sometimes segfaults at exit after printing "Bye..."; that is tolerated, before it not;
 *  - a DPDK client connects once, when its port starts: the server must already listen;
 *  - its stdout is a pipe here, so it runs under `stdbuf -oL` to get its printf output by line;
 *  - the end of its stdin ends it (interactive mode quits at end of input), so it does not
 *    outlive a process of ours that dies.
 *
 * Lifetime: every testpmd is SIGKILLed (its own pid only) after `lifetimeMs` at the latest, when
 * its owner tears down and when this process exits; its EAL runtime directory
 * (/var/run/dpdk/<file-prefix>) is removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { bound } from './bounds';

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    if (dir === '') continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

export const TESTPMD = onPath('dpdk-testpmd');
const STDBUF = onPath('stdbuf');

/** Why testpmd cannot run here, or null if it can (decided once, at load time). */
export const testpmdSkipReason: string | null =
  TESTPMD === null
    ? 'dpdk-testpmd is not installed (Debian: apt-get install dpdk-dev)'
    : STDBUF === null
      ? 'stdbuf (coreutils) is missing: testpmd output through a pipe would be block-buffered'
      : null;

/** EAL's runtime directory: /var/run/dpdk for root, else $XDG_RUNTIME_DIR/dpdk or /tmp/dpdk. */
export function dpdkRuntimeDir(): string {
  if (process.geteuid?.() === 0) return '/var/run/dpdk';
  return path.join(process.env.XDG_RUNTIME_DIR ?? os.tmpdir(), 'dpdk');
}

export type TestpmdRole = 'server' | 'client';
export type ForwardMode = 'rxonly' | 'txonly' | 'io' | 'macswap' | 'icmpecho';

/** Who owns a testpmd: it is ended when the owner tears down (an ava `t` is one). */
export interface TestpmdOwner {
  teardown(fn: () => unknown): void;
  log(...values: unknown[]): void;
}

/** An owner for code outside ava (benchmarks): `await owner.run()` in a finally. */
export class Teardowns implements TestpmdOwner {
  readonly #fns: Array<() => unknown> = [];
  readonly #log: ((msg: string) => void) | null;

  constructor(log: ((msg: string) => void) | null = null) {
    this.#log = log;
  }

  teardown(fn: () => unknown): void {
    this.#fns.push(fn);
  }

  log(...values: unknown[]): void {
    this.#log?.(values.map(String).join(' '));
  }

  /** Runs the teardowns, last registered first. */
  async run(): Promise<void> {
    while (this.#fns.length) await this.#fns.pop()!();
  }
}

export interface TestpmdOptions {
  role: TestpmdRole;
  /** The socket as our API spells it: a filesystem path, or '@name' for an abstract socket. */
  socket: string;
  forwardMode: ForwardMode;
  /** memif interface id (default 0). */
  id?: number;
  /** net_memif bsize and rsize (log2 ring size); defaults 2048 and 10, as ours. */
  bufferSize?: number;
  log2RingSize?: number;
  /** More ports after net_memif0 (port 0), as --vdev values: ports 1, 2, ... */
  vdevs?: string[];
  /** testpmd --burst (default: testpmd's own). */
  burst?: number;
  /** [main lcore, forwarding lcore] (default [0, 1]). */
  lcores?: [number, number];
  /** More EAL arguments (before `--`), e.g. ['--single-file-segments']. */
  eal?: string[];
  /** More testpmd application arguments (after `--`), e.g. ['--txpkts=64']. */
  args?: string[];
  /** A command testpmd runs under, e.g. ['valgrind', '--tool=callgrind']. */
  wrapper?: string[];
  /** How long it may take to show its prompt, ms (default 20 s; raised to the wait floor). */
  startMs?: number;
  /** SIGKILL after this long, ms (default 45 s). */
  lifetimeMs?: number;
  /** Part of the file prefix and of messages. */
  tag?: string;
}

/** A forward statistics block: "Accumulated forward statistics for all ports" or one port's. */
export interface ForwardStats {
  rxPackets: number;
  rxDropped: number;
  rxTotal: number;
  txPackets: number;
  txDropped: number;
  txTotal: number;
}

/** What "show port stats N" prints: counters, and rates since the previous show (testpmd's clock). */
export interface PortStats {
  rxPackets: number;
  rxMissed: number;
  rxBytes: number;
  rxErrors: number;
  rxNombuf: number;
  txPackets: number;
  txErrors: number;
  txBytes: number;
  rxPps: number;
  txPps: number;
  /** performance.now() when the block arrived. */
  at: number;
}

export interface TestpmdExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It died of a signal or a non-zero status after "Bye..." (known DPDK 22.11 exit crash). */
  crashedAfterBye: boolean;
}

/** net_memif devargs for a socket spelled our way ('@name' is abstract). */
export function memifSocketDevargs(socket: string): string {
  return socket.startsWith('@') ? `socket=${socket.slice(1)},socket-abstract=yes` : `socket=${socket},socket-abstract=no`;
}

/** Waits until someone listens on `socket` (a path or '@name'), per /proc/net/unix. */
export async function waitListening(socket: string, ms: number, who = 'the server'): Promise<void> {
  ms = bound(ms);
  const end = performance.now() + ms;
  for (;;) {
    const lines = fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1);
    // Listening sockets have flags 00010000 (__SO_ACCEPTCON); the last column is the name.
    if (lines.some((l) => l.trim().split(/\s+/).pop() === socket && l.includes(' 00010000 '))) return;
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms: nobody listens on ${socket} (${who})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `Name: 123` pairs of one statistics block. */
function fields(block: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const [, k, v] of block.matchAll(/([A-Za-z-]+):\s*(\d+)/g)) m.set(k, Number(v));
  return m;
}

/** Testpmds still running, ended synchronously if this process exits first. */
const live = new Set<Testpmd>();
process.on('exit', () => {
  for (const tp of live) tp.kill();
  for (const tp of live) fs.rmSync(path.join(dpdkRuntimeDir(), tp.filePrefix), { recursive: true, force: true });
});

let seq = 0;

export class Testpmd {
  readonly argv: readonly string[];
  readonly filePrefix: string;
  readonly name: string;
  /** Everything it printed (stdout and stderr interleaved). */
  output = '';
  exit: TestpmdExit | null = null;
  readonly #child: ChildProcess;
  readonly #exited: Promise<TestpmdExit>;
  readonly #lifetime: NodeJS.Timeout;
  #killedByLifetime = false;
  readonly #waiters = new Set<() => void>();

  private constructor(argv: string[], filePrefix: string, name: string, lifetimeMs: number) {
    this.argv = argv;
    this.filePrefix = filePrefix;
    this.name = name;
    this.#child = spawn(STDBUF!, ['-oL', '-eL', ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this);
    const collect = (d: string): void => {
      this.output += d;
      this.#wake();
    };
    this.#child.stdout!.setEncoding('utf8').on('data', collect);
    this.#child.stderr!.setEncoding('utf8').on('data', collect);
    this.#child.stdin!.on('error', () => {}); // EPIPE once it has gone
    this.#exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exit !== null) return;
        clearTimeout(this.#lifetime);
        live.delete(this);
        const crashed = code !== 0;
        this.exit = { code, signal, crashedAfterBye: crashed && /^Bye\.\.\./m.test(this.output) };
        this.#wake();
        resolve(this.exit);
      };
      this.#child.on('exit', done);
      this.#child.on('error', (err) => {
        this.output += `\n[spawn error: ${err.message}]\n`;
        done(null, null);
      });
    });
    this.#lifetime = setTimeout(() => {
      this.#killedByLifetime = true;
      this.kill();
    }, lifetimeMs);
    this.#lifetime.unref();
  }

  /** Starts testpmd and waits for its prompt; it is ended and cleaned up when `owner` tears down. */
  static async start(owner: TestpmdOwner, o: TestpmdOptions): Promise<Testpmd> {
    if (testpmdSkipReason !== null) throw new Error(`cannot start testpmd: ${testpmdSkipReason}`);
    const tag = (o.tag ?? o.forwardMode).replace(/[^A-Za-z0-9_-]/g, '-');
    const filePrefix = `nmemif-tp-${process.pid}-${threadId}-${++seq}-${tag}`;
    const memif = [
      'net_memif0',
      `role=${o.role}`,
      `id=${o.id ?? 0}`,
      `bsize=${o.bufferSize ?? 2048}`,
      `rsize=${o.log2RingSize ?? 10}`,
      memifSocketDevargs(o.socket),
    ].join(',');
    const [main, fwd] = o.lcores ?? [0, 1];
    const argv = [
      ...(o.wrapper ?? []),
      TESTPMD!,
      '-v', '-l', `${main},${fwd}`, '--main-lcore', String(main), '--no-huge', '-m', '1024', '--no-pci', '--no-telemetry',
      `--file-prefix=${filePrefix}`, '--log-level=pmd.net.memif:info', `--vdev=${memif}`,
      ...(o.vdevs ?? []).map((v) => `--vdev=${v}`),
      ...(o.eal ?? []),
      '--',
      '-i', '--no-lsc-interrupt', '--disable-link-check', '--no-flush-rx', '--total-num-mbufs=16384',
      `--forward-mode=${o.forwardMode}`,
      ...(o.burst ? [`--burst=${o.burst}`] : []),
      ...(o.args ?? []),
    ];
    const tp = new Testpmd(argv, filePrefix, `testpmd ${o.role} ${o.forwardMode} (${tag})`, o.lifetimeMs ?? 45_000);
    owner.teardown(() => tp.dispose());
    owner.log(`${tp.name}: ${tp.commandLine}`);
    await tp.waitFor(/testpmd> /, o.startMs ?? 20_000, 'its prompt');
    return tp;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get commandLine(): string {
    return this.argv.join(' ');
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** DPDK's version as EAL printed it (-v), e.g. "DPDK 22.11.4". */
  get version(): string | null {
    return /RTE Version: '([^']+)'/.exec(this.output)?.[1] ?? null;
  }

  /** Sends one command line. */
  command(line: string): void {
    if (this.exit === null && this.#child.stdin!.writable) this.#child.stdin!.write(`${line}\n`);
  }

  /** "start": begin forwarding (call once our side is connected). */
  forward(): void {
    this.command('start');
  }

  /** "stop": ends forwarding and returns the counters printed for it (the link stays up). */
  async stop(ms = 10_000): Promise<ForwardStats> {
    const before = this.#count(/Accumulated forward statistics/g);
    const doneBefore = this.#count(/^Done\.\s*$/gm);
    this.command('stop');
    await this.waitFor(
      () => this.#count(/Accumulated forward statistics/g) > before && this.#count(/^Done\.\s*$/gm) > doneBefore,
      ms,
      'forward statistics after "stop"',
    );
    return this.lastStats();
  }

  /** Counters from the last "Accumulated forward statistics" block ("stop" or the exit summary). */
  lastStats(): ForwardStats {
    return this.#forwardStats('Accumulated forward statistics for all ports');
  }

  /** One port's counters from the last forward statistics ("stop" or the exit summary). */
  portForwardStats(port: number): ForwardStats {
    return this.#forwardStats(`Forward statistics for port ${port} `);
  }

  /** "show port stats N": the port's counters, and its rates since the previous show. */
  async portStats(port: number, ms = 10_000): Promise<PortStats> {
    const head = `NIC statistics for port ${port} `;
    const before = this.output.length;
    this.command(`show port stats ${port}`);
    let block = '';
    await this.waitFor(
      () => {
        const at = this.output.indexOf(head, before);
        const end = at < 0 ? -1 : this.output.indexOf('Tx-pps:', at);
        if (end < 0 || this.output.indexOf('\n', end) < 0) return false;
        block = this.output.slice(at, this.output.indexOf('\n', end));
        return true;
      },
      ms,
      `"show port stats ${port}"`,
    );
    const f = fields(block);
    const get = (k: string): number => {
      const v = f.get(k);
      if (v === undefined) throw new Error(`${this.name}: no ${k} in "show port stats ${port}":\n${block}`);
      return v;
    };
    return {
      rxPackets: get('RX-packets'), rxMissed: get('RX-missed'), rxBytes: get('RX-bytes'), rxErrors: get('RX-errors'),
      rxNombuf: get('RX-nombuf'), txPackets: get('TX-packets'), txErrors: get('TX-errors'), txBytes: get('TX-bytes'),
      rxPps: get('Rx-pps'), txPps: get('Tx-pps'), at: performance.now(),
    };
  }

  /** "quit": closes the port (our side sees a disconnect) and waits for the process to end. */
  async quit(ms = 15_000): Promise<TestpmdExit> {
    this.command('quit');
    this.#child.stdin!.end();
    await this.waitFor(() => this.exit !== null, ms, 'the process to exit after "quit"');
    const exit = this.exit!;
    if (exit.code !== 0 && !exit.crashedAfterBye) {
      throw new Error(`${this.name} ended with code ${exit.code}, signal ${exit.signal} before "Bye..."; ${this.describe()}`);
    }
    return exit;
  }

  /** SIGKILL to this testpmd's own pid, if it still runs. */
  kill(): void {
    if (this.exit === null && this.#child.pid !== undefined) {
      try {
        process.kill(this.#child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Waits for `what` in its output (a RegExp) or for a condition; fails early if it exits. */
  async waitFor(cond: RegExp | (() => boolean), ms: number, what: string): Promise<void> {
    ms = bound(ms);
    const test = typeof cond === 'function' ? cond : () => cond.test(this.output);
    if (test()) return;
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (test()) finish();
        else if (this.exit !== null) finish(new Error(`${this.name} exited (code ${this.exit.code}, signal ${this.exit.signal}) before ${what}; ${this.describe()}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${ms} ms waiting for ${this.name}: ${what}; ${this.describe()}`)), ms);
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.#waiters.add(check);
    });
  }

  /** The end of its output, for failure messages. */
  describe(): string {
    const killed = this.#killedByLifetime ? ' (killed: lifetime exceeded)' : '';
    return `${this.name}${killed} output (last 2000 chars):\n${this.output.slice(-2000)}`;
  }

  /** Ends it (stop, quit; SIGKILL if that does not work) and removes its EAL runtime dir. */
  async dispose(): Promise<void> {
    if (this.exit === null) {
      this.command('stop');
      this.command('quit');
      this.#child.stdin!.end();
      const t = setTimeout(() => this.kill(), 3000);
      await this.#exited;
      clearTimeout(t);
    }
    clearTimeout(this.#lifetime);
    fs.rmSync(path.join(dpdkRuntimeDir(), this.filePrefix), { recursive: true, force: true });
  }

  #forwardStats(head: string): ForwardStats {
    const at = this.output.lastIndexOf(head);
    if (at < 0) throw new Error(`${this.name}: no "${head.trim()}" printed; ${this.describe()}`);
    const lines = this.output.slice(at).split('\n').slice(1);
    const end = lines.findIndex((l) => /^\s*(\++|-+)\s*$/.test(l));
    const block = (end < 0 ? lines : lines.slice(0, end)).join('\n');
    const f = fields(block);
    const field = (name: string): number => {
      const v = f.get(name);
      if (v === undefined) throw new Error(`${this.name}: no ${name} in its statistics:\n${block}`);
      return v;
    };
    return {
      rxPackets: field('RX-packets'),
      rxDropped: field('RX-dropped'),
      rxTotal: field('RX-total'),
      txPackets: field('TX-packets'),
      txDropped: field('TX-dropped'),
      txTotal: field('TX-total'),
    };
  }

  #count(re: RegExp): number {
    return this.output.match(re)?.length ?? 0;
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}
