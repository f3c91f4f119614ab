/**
 * Child processes of a benchmark: each bounded by a hard time limit, its output collected, and
 * ended only by its own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child {
  proc: ChildProcess;
  out: string;
  err: string;
  done: Promise<number | null>;
  exited: boolean;
  timer: NodeJS.Timeout;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Spawns cmd with a hard limit: SIGTERM at limitS, SIGKILL 5 s later (our own pid only). */
export function start(cmd: string, args: string[], limitS: number, cwd?: string): Child {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const c = { proc, out: '', err: '', exited: false } as Child;
  proc.stdout!.on('data', (d) => (c.out += d));
  proc.stderr!.on('data', (d) => (c.err += d));
  c.done = new Promise((resolve) => {
    proc.on('error', (e) => {
      c.err += `\nspawn error: ${e.message}`;
      c.exited = true;
      resolve(null);
    });
    proc.on('exit', (code, sig) => {
      c.exited = true;
      clearTimeout(c.timer);
      if (sig) c.err += `\n(killed by ${sig})`;
      resolve(code);
    });
  });
  c.timer = setTimeout(() => kill(c, 5000), limitS * 1000);
  return c;
}

/** SIGTERM, then SIGKILL after graceMs; resolves when it has exited. */
export async function kill(c: Child, graceMs: number): Promise<void> {
  if (c.exited || c.proc.pid === undefined) return;
  try {
    process.kill(c.proc.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  const t = setTimeout(() => {
    if (!c.exited && c.proc.pid !== undefined) {
      try {
        process.kill(c.proc.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }, graceMs);
  await c.done;
  clearTimeout(t);
}

/** Waits for the child to exit by itself for up to ms, then ends it. */
export async function finish(c: Child, ms: number): Promise<void> {
  const t = await Promise.race([c.done.then(() => true), sleep(ms).then(() => false)]);
  if (!t) await kill(c, 5000);
}

/** The last line of s that parses as a JSON object, or null. */
export function lastJson(s: string): Record<string, any> | null {
  const lines = s.split('\n').filter((l) => l.startsWith('{'));
  if (lines.length === 0) return null;
  try {
    return JSON.parse(lines[lines.length - 1]);
  } catch {
    return null;
  }
}

export const tail = (s: string, n = 12) => s.trim().split('\n').slice(-n).join('\n');

/** Whether a Unix socket listens at path (from /proc/net/unix). */
export function listening(fs: typeof import('node:fs'), sock: string): boolean {
  return fs.readFileSync('/proc/net/unix', 'utf8').split('\n').some((l) => l.endsWith(` ${sock}`));
}
