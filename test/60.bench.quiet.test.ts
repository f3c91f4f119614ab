/**
 * bench/lib/quiet.ts, the busy-machine gate of every benchmark: what it counts as our own CPU
 * time and what as other processes', its options, and that it refuses a busy machine unless
 * --force (while still recording busy). CPU time is compared in ticks (USER_HZ, 100 per second),
 * never against a wall-clock time.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXIT_BUSY, QUIET_DEFAULTS, takeQuietArgs, type QuietRecord } from '../bench/lib/quiet';
import { waitUntil } from './helpers/memif';
import { lastJson, runFixture } from './helpers/fixture';

test('takeQuietArgs takes --force, --busy-threshold and --quiet-wait and leaves the rest', (t) => {
  const { quiet, rest } = takeQuietArgs(['--runs', '2', '--force', '--busy-threshold', '25', '--quiet-wait', '60', '--sizes', '64']);
  t.deepEqual(quiet, { force: true, thresholdPct: 25, waitS: 60 });
  t.deepEqual(rest, ['--runs', '2', '--sizes', '64']);
  t.deepEqual(takeQuietArgs([]).quiet, QUIET_DEFAULTS);
  t.throws(() => takeQuietArgs(['--busy-threshold', 'lots']), { instanceOf: RangeError, message: /--busy-threshold wants a number in 0\.1\.\.100, got 'lots'/ });
  t.throws(() => takeQuietArgs(['--quiet-wait']), { instanceOf: RangeError, message: /--quiet-wait wants a number/ });
});

test('CPU time of our own child counts as ours; an orphan that left our tree counts as others', async (t) => {
  const burnMs = 500;
  const r = await runFixture('quiet-accounting.ts', { args: [String(burnMs)], timeoutMs: 180_000 });
  t.is(r.code, 0, r.stderr);
  const j = lastJson<{ child: { ours: number; others: number }; orphan: { ours: number; others: number }; orphanDone: boolean }>(r);
  t.log(JSON.stringify(j));
  const ticks = burnMs / 10;
  t.true(j.orphanDone, 'the orphan burned its CPU time and ended');
  t.true(j.child.ours >= ticks * 0.8, `our child's ${burnMs} ms of CPU counted as ours: ${j.child.ours} ticks`);
  t.true(j.orphan.ours < ticks / 2, `the orphan's ${burnMs} ms not counted as ours: ${j.orphan.ours} ticks`);
  t.true(j.orphan.others >= ticks * 0.8, `the orphan's ${burnMs} ms counted as others: ${j.orphan.others} ticks`);
});

test.serial('the gate refuses a busy machine with exit 3 and says so; --force measures and records busy', async (t) => {
  // A sibling of the fixture (not its descendant) keeps a CPU busy: "other work" for the gate.
  const flag = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-quiet-')), 'started');
  t.teardown(() => fs.rmSync(path.dirname(flag), { recursive: true, force: true }));
  const burner = spawn(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(flag)}, ''); const end = Date.now() + 120000; while (Date.now() < end);`], { stdio: 'ignore' });
  t.teardown(() => {
    if (burner.exitCode === null && burner.pid !== undefined) process.kill(burner.pid, 'SIGKILL');
  });
  await waitUntil(() => fs.existsSync(flag), 30_000, 'the CPU burner to start');

  const refused = await runFixture('quiet-gate.ts', { args: ['--busy-threshold', '1'], timeoutMs: 60_000 });
  t.is(refused.code, EXIT_BUSY, refused.stderr);
  t.regex(refused.stderr, /refusing to measure on a busy machine: other processes used [\d.]+ % of the \d+ CPUs \(threshold 1 %/);
  t.regex(refused.stderr, /--force/);
  t.is(refused.stdout, '', 'nothing measured, nothing printed');

  const forced = await runFixture('quiet-gate.ts', { args: ['--busy-threshold', '1', '--force'], timeoutMs: 60_000 });
  t.is(forced.code, 0, forced.stderr);
  t.regex(forced.stderr, /WARNING: measuring on a busy machine \(--force\)/);
  const rec = lastJson<QuietRecord>(forced);
  t.true(rec.busy);
  t.true(rec.forced);
  t.is(rec.threshold_pct, 1);
  t.true(rec.before.others_pct > 1, `others before: ${rec.before.others_pct} %`);
  t.regex(rec.verdict, /^quiet-gate-fixture: BUSY: .*measured with --force: not a figure to quote$/);
});
