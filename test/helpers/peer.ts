/**
 * A long-running fixture process to talk to: its stdout is read as JSON lines ({"event": ...}),
 * commands go to its stdin, and every wait is bounded and fails with what was awaited plus
 * the child's stderr. Used with test/fixtures/memif-peer.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { bound } from './bounds';

const root = path.resolve(__dirname, '..', '..');

export interface PeerEvent {
  event: string;
  pid: number;
  [key: string]: unknown;
}

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Peer {
  readonly child: ChildProcess;
  readonly name: string;
  readonly events: PeerEvent[] = [];
  stdout = '';
  stderr = '';
  exit: PeerExit | null = null;
  readonly #consumed = new Map<string, number>();
  readonly #waiters = new Set<() => void>();
  readonly #exited: Promise<PeerExit>;

  /** `wrapper`: a command that runs node, e.g. ['ip', 'netns', 'exec', 'ns1']. */
  constructor(fixture: string, args: string[], name = fixture, wrapper: string[] = []) {
    this.name = name;
    const node = [process.execPath, '--import', 'tsx', path.join(root, 'test', 'fixtures', fixture), ...args];
    const [cmd, ...rest] = [...wrapper, ...node];
    this.child = spawn(cmd, rest, {
      cwd: root,
      env: process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      partial += d;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        try {
          this.events.push(JSON.parse(line) as PeerEvent);
        } catch {
          // not ours (a log line)
        }
      }
      this.#wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.child.stdin!.on('error', () => {}); // EPIPE once it has exited
    this.#exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        this.#wake();
        resolve(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  #describe(): string {
    const exit = this.exit ? ` (exited: code ${this.exit.code}, signal ${this.exit.signal})` : '';
    return `${this.name}${exit}; its events: ${this.events.map((e) => e.event).join(', ') || 'none'}; stderr: ${this.stderr.slice(-1500) || '(empty)'}`;
  }

  /** The next not yet consumed `event` line (optionally one that satisfies `pred`). */
  next(event: string, ms: number, pred: (e: PeerEvent) => boolean = () => true): Promise<PeerEvent> {
    ms = bound(ms);
    return new Promise((resolve, reject) => {
      const check = () => {
        const from = this.#consumed.get(event) ?? 0;
        for (let i = from; i < this.events.length; i++) {
          const e = this.events[i];
          if (e.event === event && pred(e)) {
            this.#consumed.set(event, i + 1);
            done();
            resolve(e);
            return;
          }
        }
        if (this.exit !== null) {
          done();
          reject(new Error(`${this.name} exited before "${event}": ${this.#describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for "${event}" from ${this.#describe()}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Whether an `event` line has been printed at all. */
  has(event: string): boolean {
    return this.events.some((e) => e.event === event);
  }

  command(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.exit === null) this.child.kill(signal);
  }

  /** Resolves with how it ended; rejects (after killing it) if it is still running after `ms`. */
  async exited(ms: number, what = 'to exit'): Promise<PeerExit> {
    ms = bound(ms);
    let timer!: NodeJS.Timeout;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const msg = `timed out after ${ms} ms waiting for ${this.name} ${what}: ${this.#describe()}`;
        this.kill('SIGKILL');
        reject(new Error(msg));
      }, ms);
    });
    try {
      return await Promise.race([this.#exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills it if still running and waits for it (for teardown). */
  async stop(): Promise<void> {
    if (this.exit === null) {
      this.child.kill('SIGKILL');
      await this.#exited;
    }
  }
}
