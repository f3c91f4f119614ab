#!/usr/bin/env node
// npm run bench [-- <scenario>...] [options]: runs the benchmarks in bench/, each printing its figures.
//   ts-forward   TypeScript zero-copy forward vs the C core's forward loop (+ heap/RSS over 10M packets)
//   c-vs-dpdk    our C slave -> master pair vs the DPDK testpmd pair (+ callgrind instructions/packet)
//   bridge       nmemif-bridge memif <-> net_null vs dpdk-testpmd --forward-mode=io, both directions
//   bridge-callgrind  the same cases, instructions per forwarded packet (valgrind), ours vs testpmd
//   startup      what require('nmemif') / import add to node -e 0 (the compiled package in dist/)
//   nstack       nStack sockets (kernel, lwIP/memif) vs node:dgram/net: UDP one-way, UDP echo, TCP stream
//   lwip         lwIP over memif between two processes vs Node dgram/net over loopback (UDP one-way, echo, TCP)
//   lwip-callgrind  instructions per datagram of the lwIP glue without Node (rx and tx)
//   lwip-hop     frames into lwIP under its lock on the polling thread vs through lwIP's own thread
//   tools        nmemif-sender vs nmif-perf --mode send into the same sink; nmemif-responder vs nmif-perf
//                --mode echo behind the same sender
//   latency      round trips with one frame in flight: C<->C, TS<->C, TS<->TS per rx mode, 64 and 1500 B
//                (--baseline PATH: an older build's nmif-perf as one more C<->C row)
// Options (any other argument goes to every scenario run):
//   --report DIR   also keep each scenario's JSON in DIR/<scenario>.json and write a report with plots
//                  (DIR/index.html and PNGs); c-vs-dpdk and ts-forward then sweep the frame sizes
//                  64..9000 unless --sizes is given
//   --no-run       with --report: run nothing, write the report from the JSON already in DIR
//   --runs N, --seconds S    to the scenarios that take them (not startup)
//   --sizes A,B,...          to c-vs-dpdk and ts-forward (the throughput-vs-size sweep)
//   --force, --busy-threshold P, --quiet-wait S   to every scenario: each refuses to measure while
//                  other processes keep the machine busy (bench/lib/quiet.ts), exit status 3
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const tsx = ['--import', 'tsx'];
/** [node arguments, the shared options the scenario takes]. */
const scenarios = {
  'ts-forward': [[...tsx, '--expose-gc', 'bench/ts-forward.ts'], ['--runs', '--seconds', '--sizes']],
  'c-vs-dpdk': [[...tsx, 'bench/run-c-vs-dpdk.js'], ['--runs', '--seconds', '--sizes']],
  bridge: [[...tsx, 'bench/bridge.ts'], ['--runs', '--seconds']],
  'bridge-callgrind': [[...tsx, 'bench/bridge-callgrind.js'], ['--seconds']],
  startup: [[...tsx, 'bench/startup.js'], []],
  nstack: [[...tsx, 'bench/nstack.ts'], ['--runs', '--seconds']],
  lwip: [[...tsx, 'bench/lwip-udp.ts'], ['--runs', '--seconds']],
  'lwip-callgrind': [[...tsx, 'bench/lwip-callgrind.js'], []],
  'lwip-hop': [[...tsx, 'bench/lwip-hop.ts'], ['--runs']],
  tools: [[...tsx, 'bench/tools.ts'], ['--runs', '--seconds']],
  latency: [[...tsx, 'bench/latency.ts'], ['--runs']],
};
const SHARED = ['--runs', '--seconds', '--sizes'];
const SWEEP = '64,128,256,512,1024,1500,4096,9000'; // bench/lib/sizes.ts SWEEP_SIZES
const EXIT_BUSY = 3; // bench/lib/quiet.ts

function usage(msg) {
  console.error(`${msg}\nusage: npm run bench [-- <scenario>...] [--report DIR [--no-run]] [--runs N] [--seconds S] [--sizes A,B] [--force] ...` +
    `\nscenarios: ${Object.keys(scenarios).join(', ')}`);
  process.exit(2);
}

const picked = [];
const shared = new Map(); // option -> value
const rest = [];
let reportDir = null;
let run = true;
const argv = process.argv.slice(2);
for (let k = 0; k < argv.length; k++) {
  const a = argv[k];
  if (scenarios[a]) picked.push(a);
  else if (a === '--report') reportDir = argv[++k] ?? usage('--report wants a directory');
  else if (a === '--no-run') run = false;
  else if (SHARED.includes(a)) shared.set(a, argv[++k] ?? usage(`${a} wants a value`));
  else if (!a.startsWith('-') && !(k > 0 && argv[k - 1].startsWith('-'))) usage(`unknown benchmark "${a}"`);
  else rest.push(a);
}
if (!run && !reportDir) usage('--no-run goes with --report DIR');
if (reportDir) {
  reportDir = path.resolve(reportDir);
  fs.mkdirSync(reportDir, { recursive: true });
}

function argsFor(name) {
  const out = [];
  for (const opt of scenarios[name][1]) {
    if (shared.has(opt)) out.push(opt, shared.get(opt));
    else if (opt === '--sizes' && reportDir) out.push(opt, SWEEP);
  }
  return [...out, ...rest];
}

/** Runs one scenario, its output passed through; resolves with its exit status and last JSON line. */
function runScenario(name) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...scenarios[name][0], ...argsFor(name)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      tail = (tail + d).slice(-(16 << 20));
    });
    child.on('close', (code, signal) => {
      const json = tail.split('\n').filter((l) => l.startsWith('{')).pop() ?? null;
      resolve({ code: code ?? 128, signal, json });
    });
  });
}

async function main() {
  const runs = [];
  if (run) {
    // The C benchmarks and peers (CMake option NMEMIF_DEV) and dist/ (the bridge and startup benches run it).
    for (const [what, script, args] of [['native build', 'build-native.js', ['--dev']], ['dist build', 'build.js', []]]) {
      console.log(`=== ${what} ===`);
      if (spawnSync(process.execPath, [path.join(root, 'scripts', script), ...args], { cwd: root, stdio: 'inherit' }).status !== 0) process.exit(1);
    }
    for (const name of picked.length ? picked : Object.keys(scenarios)) {
      console.log(`\n=== ${name} ===`);
      const started = new Date();
      const r = await runScenario(name);
      const seconds = Math.round((Date.now() - started.getTime()) / 1000);
      let status = r.code === 0 ? 'ok' : r.code === EXIT_BUSY ? 'refused: the machine was busy (--force to measure anyway)' : `failed (exit ${r.code}${r.signal ? `, ${r.signal}` : ''})`;
      if (r.code !== 0) process.exitCode = 1;
      if (reportDir && r.json) {
        fs.writeFileSync(path.join(reportDir, `${name}.json`), `${JSON.stringify(JSON.parse(r.json), null, 1)}\n`);
        if (r.code !== 0) status += ', its partial result kept';
      } else if (reportDir && r.code === 0) status = 'ok, but it printed no JSON';
      runs.push({ scenario: name, status, started: started.toISOString(), seconds });
    }
  }
  if (!reportDir) return;
  if (run) {
    // Keep the log of scenarios run earlier into the same DIR (their JSON stays there too).
    const logFile = path.join(reportDir, 'runs.json');
    const earlier = fs.existsSync(logFile) ? JSON.parse(fs.readFileSync(logFile, 'utf8')).runs ?? [] : [];
    const all = [...earlier.filter((e) => !runs.some((x) => x.scenario === e.scenario)), ...runs];
    fs.writeFileSync(logFile, `${JSON.stringify({ runs: all }, null, 1)}\n`);
  }
  console.log('\n=== report ===');
  const r = spawnSync(process.execPath, [...tsx, 'bench/report/report.ts', reportDir], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}

main();
