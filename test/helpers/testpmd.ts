/**
 * DPDK `dpdk-testpmd` with one `net_memif` port as a test peer, driven through its interactive
 * command line (a TypeScript port of native/libmemif/test/interop_lib.bash).
 *
 *   const tp = await Testpmd.start(t, { role: 'server', socket: path, forwardMode: 'rxonly' });
 *   ... our interface connects ...
 *   tp.forward();                  // "start": only once our side is connected
 *   const stats = await tp.stop(); // "stop": counters printed while the link is still up
 *   await tp.quit();               // "quit": closes the port, which disconnects us
 *
 * What this relies on (DPDK 22.11, 2 vCPUs, no hugepages; see DESIGN.md, "Real peers"):
 *  - `--no-huge -m 1024 --no-pci --total-num-mbufs=16384`, two lcores (main lcore 0, the
 *    forwarding lcore 1), a unique `--file-prefix` per run;
 *  - `--no-lsc-interrupt --disable-link-check`: do not wait for or react to link state;
 *    `--no-flush-rx`: "start" would otherwise receive and free whatever already waits;
 *  - forwarding starts only after the memif link is up (a DPDK 22.11 server that forwards while
 *    a client connects can dereference a not yet mapped ring);
 *  - the memif PMD clears its counters when the link drops, so they are read with "stop";
 *  - a testpmd still forwarding when its peer goes away may segfault: always "stop" first;
 *  - it sometimes segfaults at exit after printing "Bye..."; that is tolerated, before it not;
 *  - a DPDK client connects once, when its port starts: the server must already listen;
 *  - its stdout is a pipe here, so it runs under `stdbuf -oL` to get its printf output by line.
 *
 * Lifetime: every testpmd is SIGKILLed (its own pid only) after `lifetimeMs` at the latest and
 * when the test ends; its EAL runtime directory (/var/run/dpdk/<file-prefix>) is removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bound } from './bounds';
import { threadId } from 'node:worker_threads';
import type { ExecutionContext } from 'ava';

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

/** Why testpmd tests cannot run here, or null if they can (decided once, at load time). */
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
export type ForwardMode = 'rxonly' | 'txonly' | 'io' | 'macswap';

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
  /** More testpmd application arguments (after `--`), e.g. ['--txpkts=64']. */
  args?: string[];
  /** SIGKILL after this long, ms (default 45 s). */
  lifetimeMs?: number;
  /** Part of the file prefix and of messages. */
  tag?: string;
}

/** The "Accumulated forward statistics for all ports" block printed by "stop". */
export interface ForwardStats {
  rxPackets: number;
  rxDropped: number;
  rxTotal: number;
  txPackets: number;
  txDropped: number;
  txTotal: number;
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

  /** Starts testpmd and waits for its prompt; it is killed and cleaned up when `t` ends. */
  static async start(t: ExecutionContext, o: TestpmdOptions): Promise<Testpmd> {
    if (testpmdSkipReason !== null) throw new Error(`cannot start testpmd: ${testpmdSkipReason}`);
    const tag = (o.tag ?? o.forwardMode).replace(/[^A-Za-z0-9_-]/g, '-');
    const filePrefix = `nmemif-ts-${process.pid}-${threadId}-${++seq}-${tag}`;
    const vdev = [
      'net_memif0',
      `role=${o.role}`,
      `id=${o.id ?? 0}`,
      `bsize=${o.bufferSize ?? 2048}`,
      `rsize=${o.log2RingSize ?? 10}`,
      memifSocketDevargs(o.socket),
    ].join(',');
    const argv = [
      TESTPMD!,
      '-l', '0,1', '--main-lcore', '0', '--no-huge', '-m', '1024', '--no-pci',
      `--file-prefix=${filePrefix}`, '--log-level=pmd.net.memif:info', `--vdev=${vdev}`,
      '--',
      '-i', '--no-lsc-interrupt', '--disable-link-check', '--no-flush-rx', '--total-num-mbufs=16384',
      `--forward-mode=${o.forwardMode}`,
      ...(o.args ?? []),
    ];
    const tp = new Testpmd(argv, filePrefix, `testpmd ${o.role} ${o.forwardMode} (${tag})`, o.lifetimeMs ?? 45_000);
    t.teardown(() => tp.dispose());
    t.log(`${tp.name}: ${tp.commandLine}`);
    await tp.waitFor(/testpmd> /, 20_000, 'its prompt');
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

  /** Counters from the last "Accumulated forward statistics" block. */
  lastStats(): ForwardStats {
    const at = this.output.lastIndexOf('Accumulated forward statistics');
    if (at < 0) throw new Error(`${this.name}: no forward statistics printed; ${this.describe()}`);
    const lines = this.output.slice(at).split('\n').slice(1);
    const end = lines.findIndex((l) => /^\s*\++\s*$/.test(l));
    const block = (end < 0 ? lines : lines.slice(0, end)).join('\n');
    const field = (name: string): number => {
      const m = new RegExp(`${name}:\\s*(\\d+)`).exec(block);
      if (m === null) throw new Error(`${this.name}: no ${name} in its statistics:\n${block}`);
      return Number(m[1]);
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

  #count(re: RegExp): number {
    return this.output.match(re)?.length ?? 0;
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}
