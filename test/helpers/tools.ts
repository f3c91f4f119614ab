/**
 * The command-line tools (bin/nmemif-*.js) as child processes: output collected, waits on
 * what they print, a hard time limit, and SIGKILL to their own pid when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { ExecutionContext } from 'ava';
import { bound } from './bounds';

export const BIN = path.join(__dirname, '..', '..', 'bin');

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class ToolProcess {
  readonly name: string;
  readonly args: readonly string[];
  stdout = '';
  stderr = '';
  exit: ToolExit | null = null;
  readonly done: Promise<ToolExit>;
  readonly #child: ChildProcess;
  readonly #waiters = new Set<() => void>();

  constructor(t: ExecutionContext, name: string, args: string[], limitMs = 30_000) {
    this.name = name;
    this.args = args;
    this.#child = spawn(process.execPath, [path.join(BIN, `${name}.js`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.#wake();
    });
    this.#child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.#wake();
    });
    const limit = setTimeout(() => this.kill('SIGKILL'), limitMs);
    this.done = new Promise((resolve) => {
      this.#child.on('close', (code, signal) => {
        clearTimeout(limit);
        this.exit = { code, signal, stdout: this.stdout, stderr: this.stderr };
        this.#wake();
        resolve(this.exit);
      });
    });
    t.teardown(() => this.kill('SIGKILL'));
    t.log(`${name} ${args.join(' ')}`);
  }

  /** Its process id (-1 if it could not start). */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exit === null && this.#child.pid !== undefined) {
      try {
        process.kill(this.#child.pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /** Waits until `re` matches its stderr (or stdout with `stream`); fails early if it exits. */
  waitFor(re: RegExp, ms: number, stream: 'stderr' | 'stdout' = 'stderr'): Promise<void> {
    ms = bound(ms);
    const test = () => re.test(stream === 'stderr' ? this.stderr : this.stdout);
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (test()) finish();
        else if (this.exit !== null) finish(new Error(`${this.name} exited (${this.exit.code}) before ${re}; ${this.describe()}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${ms} ms waiting for ${re} from ${this.name}; ${this.describe()}`)), ms);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.#waiters.add(check);
    });
  }

  /** The JSON object it printed on stdout (the last line that parses). */
  json<T = Record<string, unknown>>(): T {
    const lines = this.stdout.trim().split('\n').reverse();
    for (const l of lines) {
      try {
        return JSON.parse(l) as T;
      } catch {
        // not this line
      }
    }
    throw new Error(`${this.name} printed no JSON; ${this.describe()}`);
  }

  describe(): string {
    return `${this.name} stdout:\n${this.stdout.slice(-1500)}\nstderr:\n${this.stderr.slice(-1500)}`;
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** Runs a tool to its end. */
export function runTool(t: ExecutionContext, name: string, args: string[], limitMs = 30_000): Promise<ToolExit> {
  return new ToolProcess(t, name, args, limitMs).done;
}

/** No JavaScript stack trace lines ("    at f (file:1:2)") in `text`. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+[(:]/m.test(text);
}
