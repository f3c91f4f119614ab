#!/usr/bin/env node
// npm run bench [-- <scenario>...]: runs the benchmarks in bench/, each printing its figures.
//   ts-forward   TypeScript zero-copy forward vs the C core's forward loop (+ heap/RSS over 10M packets)
//   c-vs-dpdk    our C slave -> master pair vs the DPDK testpmd pair (+ callgrind instructions/packet)
//   bridge       nmemif-bridge memif <-> net_null vs dpdk-testpmd --forward-mode=io, both directions
//   bridge-callgrind  the same cases, instructions per forwarded packet (valgrind), ours vs testpmd
//   startup      what require('nmemif') / import add to node -e 0 (the compiled package in dist/)
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const scenarios = {
  'ts-forward': [process.execPath, ['--import', 'tsx', '--expose-gc', 'bench/ts-forward.ts']],
  'c-vs-dpdk': [process.execPath, ['--import', 'tsx', 'bench/run-c-vs-dpdk.js']],
  bridge: [process.execPath, ['--import', 'tsx', 'bench/bridge.ts']],
  'bridge-callgrind': [process.execPath, ['--import', 'tsx', 'bench/bridge-callgrind.js']],
  startup: [process.execPath, ['--import', 'tsx', 'bench/startup.js']],
};
const picked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = process.argv.slice(2).filter((a) => a.startsWith('-'));
const unknown = picked.filter((name) => !scenarios[name]);
if (unknown.length) {
  console.error(`unknown benchmark "${unknown[0]}"; choose from: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}
// The C benchmarks and peers (CMake option NMEMIF_DEV) and dist/ (the bridge and startup benches run it).
for (const [what, script, args] of [['native build', 'build-native.js', ['--dev']], ['dist build', 'build.js', []]]) {
  console.log(`=== ${what} ===`);
  if (spawnSync(process.execPath, [path.join(root, 'scripts', script), ...args], { cwd: root, stdio: 'inherit' }).status !== 0) process.exit(1);
}
for (const name of picked.length ? picked : Object.keys(scenarios)) {
  const s = scenarios[name];
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(s[0], [...s[1], ...extra], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
