#!/usr/bin/env node
'use strict';
/*
 * lwip-callgrind: instructions per datagram of the lwIP glue without Node (build/bench/lwip_glue:
 * lwIP on one side of a memif pair, a raw memif peer on the other, one process).
 *
 *   node --import tsx bench/lwip-callgrind.js [--sizes 64,1472] [--counts 20000,40000]
 *
 *   rx  peer -> memif -> netif poll -> lwIP (Ethernet, IPv4, UDP) -> socket queue -> recv_batch
 *   tx  send (lwIP UDP, IPv4, ARP, Ethernet) -> flush (one memif burst per 64) -> peer
 * Each case runs twice under valgrind --tool=callgrind with two counts; the cost per datagram
 * is the difference of the totals over the difference of the counts (set-up cancels out). The
 * peer's own work (tx_copy for rx, rx_burst for tx) is included and shown apart. Wall-clock rates
 * swing on this 2-vCPU machine; instruction counts do not, so a busy machine is recorded in the
 * JSON (bench/lib/quiet.ts) but not refused. Last line: one JSON object.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { machine } = require('./lib/machine');
const { QuietGate, QUIET_USAGE, quietArgsOrExit } = require('./lib/quiet');

const GLUE = path.join(__dirname, '..', 'build', 'bench', 'lwip_glue');

function parseArgs(argv) {
  const o = { sizes: [64, 1472], counts: [20000, 40000] };
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === '--sizes') o.sizes = String(argv[++k]).split(',').map(Number);
    else if (argv[k] === '--counts') o.counts = String(argv[++k]).split(',').map(Number);
    else fail(`unknown argument '${argv[k]}'; usage: node bench/lwip-callgrind.js [--sizes 64,1472] [--counts 20000,40000]`);
  }
  if (o.counts.length !== 2 || !(o.counts[1] > o.counts[0])) fail('--counts A,B with B > A');
  return o;
}

function fail(msg) {
  process.stderr.write(`lwip-callgrind: ${msg}\n`);
  process.exit(2);
}

/** Total and per-function inclusive Ir of one run. */
function profile(mode, count, size, dir) {
  const out = path.join(dir, `cg.${mode}.${count}.${size}`);
  const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, GLUE, mode, String(count), String(size)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) fail(`${mode} ${count}: status ${r.status}\n${r.stdout}${r.stderr.slice(-2000)}`);
  const ann = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
  const total = Number(/([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/.exec(ann)[1].replace(/,/g, ''));
  const fn = (name) => {
    const m = new RegExp(`^\\s*([\\d,]+) \\([ \\d.]+%\\)\\s+\\S*:${name} `, 'm').exec(ann);
    return m ? Number(m[1].replace(/,/g, '')) : 0;
  };
  return { total, fn };
}

function main() {
  const { quiet: quietOptions, rest } = quietArgsOrExit(process.argv.slice(2), 'lwip-callgrind', `usage: node --import tsx bench/lwip-callgrind.js [--sizes 64,1472] [--counts 20000,40000]\n${QUIET_USAGE}`);
  const o = parseArgs(rest);
  const quiet = QuietGate.open('lwip-callgrind', quietOptions, { refuse: false });
  if (!fs.existsSync(GLUE)) fail(`${GLUE} is missing (built with the tree when lwIP is found)`);
  if (spawnSync('sh', ['-c', 'command -v valgrind']).status !== 0) fail('valgrind is not installed');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-lwip-cg-'));
  const [a, b] = o.counts;
  const rows = [];
  try {
    for (const size of o.sizes) {
      for (const mode of ['rx', 'tx']) {
        const p1 = profile(mode, a, size, dir);
        const p2 = profile(mode, b, size, dir);
        const per = (x) => (x(p2) - x(p1)) / (b - a);
        const peer = per((p) => p.fn(mode === 'rx' ? 'nmif_tx_copy' : 'nmif_rx_burst'));
        const lwip = per((p) => (mode === 'rx' ? p.fn('ethernet_input') : p.fn('udp_sendto')));
        rows.push({ mode, size, perDatagram: Math.round(per((p) => p.total)), peer: Math.round(peer), lwip: Math.round(lwip) });
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log('instructions per datagram (callgrind), lwIP glue without Node:');
  for (const r of rows) {
    console.log(`  ${r.mode} ${String(r.size).padStart(5)} B  ${r.perDatagram} in all; ${r.lwip} in lwIP (${r.mode === 'rx' ? 'ethernet_input' : 'udp_sendto'}), ${r.peer} by the test's memif peer`);
  }
  const quietRecord = quiet.record();
  console.log(quietRecord.verdict);
  console.log(JSON.stringify({ bench: 'lwip-callgrind', machine: machine(), quiet: quietRecord, counts: o.counts, rows }));
}

main();
