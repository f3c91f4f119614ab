#!/usr/bin/env node
// Builds the native tree with cmake-js into build/.
//   node scripts/build-native.js         npm's install script: the addon, build/Release/nmemif.node
//   node scripts/build-native.js --dev   also the C tests, the tools they drive and the C benchmarks
//                                        (CMake option NMEMIF_DEV; npm test, build:native, bench)
// Says what it is doing, how long it took, and what to install when a build tool is missing (npm
// shows an install script's output when it fails, or always with `npm install --foreground-scripts`).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dev = process.argv.includes('--dev');
const say = (line) => process.stdout.write(`nmemif: ${line}\n`);

function fail(line) {
  say(line);
  process.exit(1);
}

function cmakeJs(args) {
  const bin = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const r = spawnSync(process.execPath, [bin, ...args, '--directory', root], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    fail('the native build failed (see above). It needs cmake 3.15+, a C11 and C++17 compiler ' +
      '(Debian/Ubuntu: apt-get install cmake build-essential) and the Node.js headers (uv.h).');
  }
}

if (process.platform !== 'linux') fail(`memif is Linux-only (memfd, eventfd, Unix sockets); this is ${process.platform}`);
const cmake = spawnSync('cmake', ['--version'], { encoding: 'utf8' });
if (cmake.error || cmake.status !== 0) fail('cmake not found: install cmake 3.15 or newer (Debian/Ubuntu: apt-get install cmake build-essential)');
const dpdk = spawnSync('pkg-config', ['--modversion', 'libdpdk'], { encoding: 'utf8' });
const dpdkNote = dpdk.status === 0 ? `DPDK ${dpdk.stdout.trim()} found: DPDK bridge ports on` : 'no DPDK (pkg-config libdpdk): DPDK bridge ports off';
say(`building ${dev ? 'the addon, C tests, tools and benchmarks' : 'the native addon'} with ${cmake.stdout.split('\n')[0]}; ${dpdkNote}`);

const started = Date.now();
if (dev) {
  // cmake-js configures only a fresh tree: turn the option on in an existing one.
  const cache = path.join(root, 'build', 'CMakeCache.txt');
  const on = fs.existsSync(cache) && /^NMEMIF_DEV:BOOL=ON$/m.test(fs.readFileSync(cache, 'utf8'));
  if (!on) cmakeJs(['configure', '--CDNMEMIF_DEV=ON']);
  cmakeJs(['build']);
} else {
  cmakeJs(['compile']);
}
say(`built build/Release/nmemif.node${dev ? ' and the dev targets' : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
