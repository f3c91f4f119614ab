/**
 * Loading the native addon: not on import (startup cost), on first use; a missing addon is an
 * ERR_NMEMIF_NATIVE_LOAD error that says what a consumer can do, also from the tools.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { hasStackTrace } from './helpers/tools';

const root = path.resolve(__dirname, '..');

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
}

test('importing the library does not load the addon; the first socket does', (t) => {
  const script = `
    const loaded = () => Object.keys(require.cache).some((f) => f.endsWith('nmemif.node'));
    const { MemifSocket } = require('./src/index.ts');
    const onImport = loaded();
    new MemifSocket('@nmemif-native-load-' + process.pid).close();
    console.log(JSON.stringify([onImport, loaded()]));
  `;
  const r = run(['--import', 'tsx', '-e', script]);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout.trim()), [false, true]);
});

test('a missing addon: import works, first use throws ERR_NMEMIF_NATIVE_LOAD saying to run npm rebuild', (t) => {
  const script = `
    const { MemifSocket } = require('./src/index.ts');
    try { new MemifSocket('@nmemif-native-missing'); console.log('no error'); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }
  `;
  const r = run(['--import', 'tsx', '-e', script], { NMEMIF_NATIVE: '/nonexistent-nmemif/nmemif.node' });
  t.is(r.status, 0, r.stderr);
  const err = JSON.parse(r.stdout.trim()) as { name: string; code: string; message: string };
  t.is(err.name, 'NativeLoadError');
  t.is(err.code, 'ERR_NMEMIF_NATIVE_LOAD');
  t.regex(err.message, /\/nonexistent-nmemif\/nmemif\.node/);
  t.regex(err.message, /npm rebuild nmemif/);
  t.notRegex(err.message, /build:native/);
});

test('a missing addon: a tool prints one line and exits 2', (t) => {
  const r = run([path.join(root, 'bin', 'nmemif-loopback.js'), '--duration', '1'], { NMEMIF_NATIVE: '/nonexistent-nmemif/nmemif.node' });
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /^nmemif-loopback: nmemif\.node not found .*npm rebuild nmemif/);
  t.false(hasStackTrace(r.stderr), r.stderr);
});
