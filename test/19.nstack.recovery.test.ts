/**
 * Resource recovery of the socket layer, in child processes: closing nSockets under load (one
 * by one, or by recycling the stacks) leaves no fd behind; at process exit and on SIGINT/SIGTERM
 * every stack is recycled before the memif sockets close, and a signal still ends the process.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { lastJson, runFixture } from './helpers/fixture';
import { bound } from './helpers/bounds';
import { until } from './helpers/until';

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
  const r = await runFixture('nstack-exit.ts', { args: ['exit', sock], timeoutMs: 30_000 });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^recycled exit memif-open=true$/m);
  t.false(fs.existsSync(sock));
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal}: stacks recycled, memif socket closed, and the process still ends by the signal`, async (t) => {
    const sock = memifPath(t);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'nstack-exit.ts'), 'signal', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
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
  });
}
