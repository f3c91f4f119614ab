#!/usr/bin/env node
'use strict';
/*
 * bridge-callgrind: instructions per forwarded packet, the bridge's data plane against
 * dpdk-testpmd --forward-mode=io, memif <-> net_null both ways (the cases of bench/bridge.ts).
 *
 *   node bench/bridge-callgrind.js [--sizes 64,1500] [--seconds 8]
 *
 * Wall-clock rates on a small shared machine swing between runs; instruction counts do not. Each forwarder runs under valgrind --tool=callgrind --separate-threads=yes while a
 * native nmif-perf peer (slave, ring 1024, buffers 2048, burst 64) feeds or drains it for
 * --seconds; under valgrind the forwarder is by far the slower side, so it always has work.
 *   ours     build/bench/hal_forward: the same nhal worker, ports and gate as nmemif-bridge,
 *            without Node. Cost = inclusive Ir of worker_main (the worker thread's whole life).
 *   testpmd  dpdk-testpmd -l 0,1 (one forwarding lcore). Cost = total Ir of its busiest thread,
 *            the forwarding lcore (its only job; EAL init runs on the main thread).
 * Packets: null->memif counts what the peer received; memif->null what the forwarder sent to
 * net_null (hal_forward's dpdk0.txPackets, testpmd's port 1 TX-packets).
 * Prints a table and, as the last line, one JSON object. Progress goes to stderr.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const HAL = path.join(ROOT, 'build', 'bench', 'hal_forward');
const PERF = path.join(ROOT, 'build', 'native', 'libmemif', 'tools', 'nmif-perf');

function parseArgs(argv) {
  const o = { sizes: [64, 1500], seconds: 8 };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--sizes') o.sizes = String(argv[++k]).split(',').map(Number);
    else if (a === '--seconds') o.seconds = Number(argv[++k]);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node bench/bridge-callgrind.js [--sizes 64,1500] [--seconds 8]\n');
      process.exit(0);
    } else fail(`unknown argument '${a}'`);
  }
  if (o.sizes.some((s) => !(s >= 60 && s <= 2048)) || !(o.seconds >= 1 && o.seconds <= 120)) fail('--sizes 60..2048, --seconds 1..120');
  return o;
}

function fail(msg) {
  process.stderr.write(`bridge-callgrind: ${msg}\n`);
  process.exit(2);
}
const log = (m) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Spawns with a hard limit (SIGKILL after limitS); resolves with exit code and output. */
function run(cmd, args, limitS, stdin = 'ignore') {
  const p = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'] });
  const c = { proc: p, out: '', err: '' };
  p.stdout.on('data', (d) => (c.out += d));
  p.stderr.on('data', (d) => (c.err += d));
  const timer = setTimeout(() => p.kill('SIGKILL'), limitS * 1000);
  c.done = new Promise((resolve) => p.on('close', (code) => {
    clearTimeout(timer);
    resolve(code);
  }));
  return c;
}

function listening(sock) {
  return fs.readFileSync('/proc/net/unix', 'utf8').split('\n').some((l) => l.endsWith(` ${sock}`));
}

function threadFiles(prefix) {
  const dir = path.dirname(prefix);
  return fs.readdirSync(dir).filter((f) => f.startsWith(`${path.basename(prefix)}-`)).map((f) => path.join(dir, f));
}

function totals(file) {
  const m = /^totals: (\d+)/m.exec(fs.readFileSync(file, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Inclusive cost of fn in one thread's file (callgrind_annotate --inclusive=yes). */
function inclusive(file, fn) {
  const r = spawnSync('callgrind_annotate', ['--inclusive=yes', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const re = new RegExp(`^\\s*([\\d,]+) \\([^)]*\\)\\s+\\S*:${fn} \\[`, 'm');
  const m = re.exec(r.stdout || '');
  return m ? Number(m[1].replace(/,/g, '')) : 0;
}

async function measure(side, dir, size, o) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-bcg-'));
  const sock = path.join(tmp, 'm.sock');
  const cg = path.join(tmp, 'cg.out');
  const prefix = `bcg-${process.pid}-${side}-${size}`;
  const vdev = dir === 'memif->null' ? 'net_null0,no-rx=1' : `net_null0,size=${size}`;
  const vg = ['--tool=callgrind', '--fair-sched=yes', '--separate-threads=yes', `--callgrind-out-file=${cg}`];
  const limit = o.seconds + 240;
  let fwd;
  if (side === 'ours') {
    fwd = run('valgrind', [...vg, HAL, '--socket', sock, '--dpdk', vdev, '--seconds', String(o.seconds + 120), '--eal-prefix', prefix], limit);
  } else {
    fwd = run('valgrind', [...vg, 'dpdk-testpmd', '-l', '0,1', '--main-lcore', '0', '--no-huge', '-m', '1024', '--no-pci', `--file-prefix=${prefix}`,
      '--no-telemetry', `--vdev=net_memif0,role=server,id=0,socket=${sock},socket-abstract=no,rsize=10,bsize=2048`, `--vdev=${vdev}`, '--',
      '--forward-mode=io', '--no-lsc-interrupt', '--total-num-mbufs=16384', '--burst=64'], limit, 'pipe');
  }
  try {
    const t0 = Date.now();
    while (!listening(sock)) {
      if (fwd.proc.exitCode !== null || Date.now() - t0 > 120000) return { error: `${side} did not listen:\n${fwd.err.slice(-800)}` };
      await sleep(200);
    }
    const peerArgs = ['--role', 'slave', '--socket', sock, '--id', '0', '--rsize', '10', '--bsize', '2048', '--burst', '64',
      '--duration', String(o.seconds), '--json', ...(dir === 'memif->null' ? ['--mode', 'send', '--size', String(size)] : ['--mode', 'recv'])];
    const peer = run(PERF, peerArgs, o.seconds + 60);
    await peer.done;
    const pj = JSON.parse(peer.out.trim().split('\n').filter((l) => l.startsWith('{')).pop() || 'null');
    if (side === 'ours') await fwd.done; // hal_forward ends when its peer has gone
    else {
      fwd.proc.stdin.end(); // testpmd stops forwarding, prints its statistics and exits
      await fwd.done;
    }
    let packets;
    if (dir === 'null->memif') packets = pj && pj.received;
    else if (side === 'ours') packets = JSON.parse(fwd.out.trim().split('\n').pop()).ports.dpdk0.txPackets;
    else {
      const m = /Forward statistics for port 1[\s\S]*?TX-packets:\s+(\d+)/.exec(fwd.out);
      packets = m && Number(m[1]);
    }
    const files = threadFiles(cg);
    const ir = side === 'ours' ? Math.max(...files.map((f) => inclusive(f, 'worker_main'))) : Math.max(...files.map(totals));
    if (!(packets > 0) || !(ir > 0)) return { error: `no count (packets ${packets}, Ir ${ir})` };
    return { ir, packets, perPacket: ir / packets };
  } finally {
    if (fwd.proc.exitCode === null) fwd.proc.kill('SIGKILL');
    fs.rmSync(`/var/run/dpdk/${prefix}`, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  for (const [what, ok] of [['valgrind', have('valgrind')], ['dpdk-testpmd', have('dpdk-testpmd')], [HAL, fs.existsSync(HAL)], [PERF, fs.existsSync(PERF)]]) {
    if (!ok) fail(`${what} not found (hal_forward is built when DPDK is found: npm run build:native)`);
  }
  const rows = [];
  for (const size of o.sizes) {
    for (const dir of ['memif->null', 'null->memif']) {
      const row = { dir, size };
      for (const side of ['ours', 'testpmd']) {
        log(`${side} ${dir} ${size} B under callgrind, ${o.seconds} s of traffic`);
        row[side] = await measure(side, dir, size, o);
        if (row[side].error) log(`  FAILED: ${row[side].error}`);
        else log(`  ${row[side].perPacket.toFixed(1)} Ir/packet (${row[side].ir} Ir / ${row[side].packets} packets)`);
      }
      if (row.ours.perPacket && row.testpmd.perPacket) row.ratio = Math.round((row.ours.perPacket / row.testpmd.perPacket) * 1000) / 1000;
      rows.push(row);
    }
  }
  const out = ['', 'instructions per forwarded packet (callgrind; lower is better)',
    `${'case'.padEnd(20)}${'ours (nhal worker)'.padStart(20)}${'testpmd io'.padStart(14)}${'ours/testpmd'.padStart(14)}`];
  for (const r of rows) {
    const c = (x) => (x.perPacket ? x.perPacket.toFixed(1) : 'failed');
    out.push(`${`${r.dir} ${r.size} B`.padEnd(20)}${c(r.ours).padStart(20)}${c(r.testpmd).padStart(14)}${(r.ratio ? `${r.ratio.toFixed(2)}x` : '-').padStart(14)}`);
  }
  process.stdout.write(`${out.join('\n')}\n${JSON.stringify({ bench: 'bridge-callgrind', seconds: o.seconds, cases: rows })}\n`);
  if (rows.some((r) => !r.ratio)) process.exitCode = 1;
}

main();
