#!/usr/bin/env node
// npm run bench [-- <scenario>...]: runs the benchmarks in bench/, each printing its figures.
//   ts-forward   TypeScript zero-copy forward vs the C core's forward loop (+ heap/RSS over 10M packets)
//   c-vs-dpdk    our C slave -> master pair vs the DPDK testpmd pair (+ callgrind instructions/packet)
//   bridge       nmemif-bridge memif <-> net_null vs dpdk-testpmd --forward-mode=io, both directions
//   bridge-callgrind  the same cases, instructions per forwarded packet (valgrind), ours vs testpmd
//   lwip         lwIP over memif between two processes vs Node dgram/net over loopback (UDP one-way, echo, TCP)
//   lwip-callgrind  instructions per datagram of the lwIP glue without Node (rx and tx)
//   lwip-hop     frames into lwIP under its lock on the polling thread vs through lwIP's own thread
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const scenarios = {
  'ts-forward': [process.execPath, ['--import', 'tsx', '--expose-gc', 'bench/ts-forward.ts']],
  'c-vs-dpdk': [process.execPath, ['bench/run-c-vs-dpdk.js']],
  bridge: [process.execPath, ['--import', 'tsx', 'bench/bridge.ts']],
  'bridge-callgrind': [process.execPath, ['bench/bridge-callgrind.js']],
  lwip: [process.execPath, ['--import', 'tsx', 'bench/lwip-udp.ts']],
  'lwip-callgrind': [process.execPath, ['bench/lwip-callgrind.js']],
  'lwip-hop': [path.join(root, 'build', 'bench', 'lwip_hop'), []],
};
const picked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = process.argv.slice(2).filter((a) => a.startsWith('-'));
for (const name of picked.length ? picked : Object.keys(scenarios)) {
  const s = scenarios[name];
  if (!s) {
    console.error(`unknown benchmark "${name}"; choose from: ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(s[0], [...s[1], ...extra], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
