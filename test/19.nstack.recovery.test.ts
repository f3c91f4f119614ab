/**
 * Resource recovery of the socket layer, in child processes: closing nSockets under load (one
 * by one, or by recycling the stacks) leaves no fd behind; at process exit and on SIGINT/SIGTERM
 * every stack is recycled before the memif sockets close, and a signal still ends the process;
 * active nSockets keep the process alive unless unref()ed, as dgram and net handles do.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { lastJson, runFixture as runFixtureNow, type FixtureOptions, type FixtureResult } from './helpers/fixture';
import { bound } from './helpers/bounds';
import { until } from './helpers/until';

// At most two child processes at a time: each one starts tsx, and the machine has 2 cores.
let running = 0;
const queue: Array<() => void> = [];
async function inSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((resolve) => queue.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    queue.shift()?.();
  }
}

function runFixture(name: string, options?: FixtureOptions): Promise<FixtureResult> {
  return inSlot(() => runFixtureNow(name, options));
}

test('closing sockets under load (close()/destroy(), or closeStacks()) leaks no fd', async (t) => {
  const r = await runFixture('nstack-fd-leak.ts', { timeoutMs: 90_000 });
  t.is(r.code, 0, r.stderr);
  const out = lastJson<{ baseline: number; rounds: Array<{ open: number; after: number }> }>(r);
  t.log(JSON.stringify(out));
  for (const [i, round] of out.rounds.entries()) {
    t.true(round.open >= out.baseline + 17, `round ${i + 1} had its sockets open (${round.open} fds; 16 UDP and an eventfd at least)`);
    t.is(round.after, out.baseline, `round ${i + 1}`);
  }
});

function memifPath(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nstack-exit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'memif.sock');
}

test('process.exit(): stacks are recycled, then the memif socket closes (its file removed)', async (t) => {
  const sock = memifPath(t);
  const r = await runFixture('nstack-exit.ts', { args: ['exit', sock], timeoutMs: 60_000 });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^recycled exit memif-open=true$/m);
  t.false(fs.existsSync(sock));
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal}: stacks recycled, memif socket closed, and the process still ends by the signal`, (t) => inSlot(async () => {
    const sock = memifPath(t);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'nstack-exit.ts'), 'signal', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
    try {
      t.true(await until(() => stdout.includes('ready') || child.exitCode !== null, bound(25_000)), stderr);
      child.kill(signal);
      t.is(await exited, signal, stderr);
      t.regex(stdout, new RegExp(`^recycled ${signal} memif-open=true$`, 'm'));
      t.false(fs.existsSync(sock));
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  }));
}

for (const [mode, staysAlive] of [
  ['udp', true],
  ['tcp-server', true],
  ['tcp-client', true],
  ['udp-unref-ref', true],
  ['udp-unref', false],
  ['tcp-server-unref', false],
  ['tcp-client-unref', false],
  ['unbound', false],
  ['closed', false],
] as const) {
  test(`keep-alive: ${mode} -> ${staysAlive ? 'keeps the process alive' : 'lets it exit'}`, async (t) => {
    // As in the EventPoll keep-alive tests: "alive" = still running 2 s after its last
    // statement; "exits" gets a generous bound so a loaded machine cannot fake "kept alive".
    const r = await runFixture('nstack-keep-alive.ts', { args: [mode], timeoutMs: 60_000, killAfter: { marker: 'started', ms: staysAlive ? 2000 : 30_000 } });
    t.true(r.stdout.includes('started'), r.stderr);
    t.is(r.timedOut, staysAlive, `ran for ${Math.round(r.ms)} ms`);
    if (!staysAlive) t.is(r.code, 0, r.stderr);
  });
}
