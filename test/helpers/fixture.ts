/** Runs a test/fixtures/*.ts program in a child process (under tsx) and collects its output. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

export interface FixtureResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed by us because it was still running after timeoutMs. */
  timedOut: boolean;
  ms: number;
}

const root = path.resolve(__dirname, '..', '..');

export interface FixtureOptions {
  args?: string[];
  /** Node flags before the script, e.g. --expose-gc. */
  nodeArgs?: string[];
  /** Killed (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
  /** Also killed (timedOut = true) `ms` after stdout first contains `marker`: for checks of
   * whether a program exits by itself that must not depend on how long it took to start. */
  killAfter?: { marker: string; ms: number };
}

export function runFixture(name: string, options: FixtureOptions = {}): Promise<FixtureResult> {
  const { args = [], nodeArgs = [], timeoutMs = 30_000, killAfter } = options;
  const file = path.join(root, 'test', 'fixtures', name);
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', file, ...args], {
      cwd: root,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let markerTimer: NodeJS.Timeout | null = null;
    const kill = () => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (killAfter !== undefined && markerTimer === null && stdout.includes(killAfter.marker)) {
        markerTimer = setTimeout(kill, killAfter.ms);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(kill, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (markerTimer !== null) clearTimeout(markerTimer);
      resolve({ code, signal, stdout, stderr, timedOut, ms: performance.now() - start });
    });
  });
}

/** The last line of stdout, parsed as JSON. */
export function lastJson<T>(r: FixtureResult): T {
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}
