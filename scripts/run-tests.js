#!/usr/bin/env node
// The project's test command: builds what the tests run (the native tree with the C tests and
// tools, CMake option NMEMIF_DEV; dist/, which the bin entries run), then the C tests (ctest),
// the typecheck, the API reference (typedoc), the ava tests, the package as a consumer installs it (test/package/run.js);
// with NMIF_TEST_SANITIZERS=1 (CI), the C tests again under ASan+UBSan; with NMIF_TEST_FUZZ=1
// (CI, needs clang and libFuzzer), a short fixed run of each libFuzzer harness. Ends with one line
// "N passed, N failed[, N skipped]" and exits non-zero if anything failed.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function run(cmd, args, opts = {}) {
  process.stdout.write(`\n$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  process.stdout.write(r.stdout || '');
  process.stderr.write(r.stderr || '');
  return r;
}

// ctest prints one line per test: "  3/9 Test  #3: c_test_msg ....   Passed    0.01 sec"
function countCtest(label, out) {
  let seen = 0;
  for (const line of out.split('\n')) {
    const m = /Test\s+#\d+: (\S+) \.+\s*(\*{0,3})(Passed|Failed|Skipped|Not Run|Timeout|Exception|SEGFAULT|Subprocess aborted|Child aborted)?/.exec(line);
    if (!m) continue;
    seen++;
    const status = m[3] || 'Failed';
    if (status === 'Passed') totals.passed++;
    else if (status === 'Skipped') totals.skipped++;
    else { totals.failed++; failures.push(`${label}: ${m[1]} (${status})`); }
  }
  return seen;
}

function ctest(label, buildDir, extra = []) {
  if (!fs.existsSync(path.join(root, buildDir, 'CTestTestfile.cmake'))) {
    totals.failed++;
    failures.push(`${label}: ${buildDir} is not built (npm run build:native)`);
    return;
  }
  const r = run('ctest', ['--test-dir', buildDir, '--output-on-failure', ...extra]);
  if (countCtest(label, r.stdout || '') === 0) {
    totals.failed++;
    failures.push(`${label}: ctest ran no test`);
  }
}

function check(label, cmd, args) {
  const r = run(cmd, args);
  if (r.status === 0) totals.passed++;
  else { totals.failed++; failures.push(label); }
}

function sanitizers() {
  const dir = 'build-sanitize';
  const cfg = run('cmake', ['-S', 'native/libmemif', '-B', dir, '-G', 'Ninja',
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DNMIF_SANITIZE=ON']);
  const build = cfg.status === 0 ? run('cmake', ['--build', dir]) : cfg;
  if (build.status !== 0) { totals.failed++; failures.push('sanitizer build'); return; }
  // Only the C tests: the interop scripts exercise DPDK, not our memory safety.
  ctest('asan+ubsan', dir, ['-R', '^c_']);
}

// Counts a TAP run ("# pass N", "# fail N", "# skip N").
function tap(label, r) {
  const out = r.stdout || '';
  const num = (k) => Number((new RegExp(`^# ${k} (\\d+)`, 'm').exec(out) || [])[1] || 0);
  const pass = num('pass'), fail = num('fail'), skip = num('skip');
  totals.passed += pass; totals.failed += fail; totals.skipped += skip;
  if (fail) failures.push(`${label}: ${fail} failed`);
  if (pass + fail === 0 || (r.status !== 0 && fail === 0)) { totals.failed++; failures.push(`${label} did not run cleanly`); }
}

// The libFuzzer harnesses for a fixed budget each (NMIF_FUZZ_SECONDS, default 40), over the
// committed corpus; a crash fails the step and leaves its input in build-fuzz/fuzz.
function fuzz() {
  const dir = 'build-fuzz';
  const cfg = run('cmake', ['-S', 'native/libmemif', '-B', dir, '-G', 'Ninja',
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo', '-DNMIF_FUZZ=ON',
    `-DNMIF_FUZZ_SECONDS=${process.env.NMIF_FUZZ_SECONDS || 40}`],
  { env: { ...process.env, CC: process.env.CC || 'clang' } });
  const build = cfg.status === 0 ? run('cmake', ['--build', dir, '--target', 'fuzz_msg', 'fuzz_datapath']) : cfg;
  if (build.status !== 0) { totals.failed++; failures.push('fuzz build (needs clang and libfuzzer-14-dev)'); return; }
  ctest('fuzz', dir, ['-R', '^fuzz_.*_run$']);
}

function ava() {
  const files = fs.existsSync(path.join(root, 'test'))
    ? fs.readdirSync(path.join(root, 'test'), { recursive: true }).filter((f) => String(f).endsWith('.test.ts'))
    : [];
  if (files.length === 0) { process.stdout.write('\n(no ava test files yet)\n'); return; }
  tap('ava', run(process.execPath, [path.join(root, 'node_modules/ava/entrypoints/cli.mjs'), '--tap'],
    { env: { ...process.env, CI: 'true' } }));
}

// Incremental: both are quick when nothing changed, and no test runs a stale build.
check('native build (NMEMIF_DEV)', process.execPath, [path.join(root, 'scripts', 'build-native.js'), '--dev']);
check('dist build', process.execPath, [path.join(root, 'scripts', 'build.js')]);
ctest('ctest', 'build');
if (process.env.NMIF_TEST_SANITIZERS === '1') sanitizers();
if (process.env.NMIF_TEST_FUZZ === '1') fuzz();
if (fs.existsSync(path.join(root, 'src'))) check('typecheck', process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
// The API reference: every public class, method, event and error code documented (warnings fail).
check('docs (typedoc, warnings are errors)', process.execPath, [path.join(root, 'node_modules/typedoc/bin/typedoc'), '--emit', 'none']);
ava();
// The packed package in an empty project: CommonJS, ESM and TypeScript consumers, publint, attw.
tap('package', run(process.execPath, [path.join(root, 'test', 'package', 'run.js')]));

if (failures.length) process.stdout.write(`\nFailures:\n  ${failures.join('\n  ')}\n`);
const skipped = totals.skipped ? `, ${totals.skipped} skipped` : '';
process.stdout.write(`\n${totals.passed} passed, ${totals.failed} failed${skipped}\n`);
process.exitCode = totals.failed > 0 || totals.passed === 0 ? 1 : 0;
