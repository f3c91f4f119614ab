#!/usr/bin/env node
'use strict';
/*
 * bridge-callgrind: instructions per forwarded packet, the bridge's data plane against
 * dpdk-testpmd --forward-mode=io, memif <-> net_null both ways (the cases of bench/bridge.ts).
 *
 *   node --import tsx bench/bridge-callgrind.js [--sizes 64,1500] [--seconds 8] [--cache-sim]
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
 * --cache-sim: callgrind also simulates the caches (valgrind's model of this CPU's L1 and last
 * level); the forwarding thread's data-read misses per packet (D1mr, DLmr) are shown next to the
 * instructions. The model is of one process: lines the peer wrote on another core (ring
 * descriptors, packet data) count as misses only when they left this thread's simulated cache.
 * Prints a table and, as the last line, one JSON object (shape: BridgeCallgrindJson in
 * bench/report/shapes.ts). Progress goes to stderr. Instruction counts do not change with other
 * work, so a busy machine is recorded in the JSON (bench/lib/quiet.ts) but not refused.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Teardowns, Testpmd, waitListening } = require('../test/helpers/testpmd');
const { machine } = require('./lib/machine');
const { QuietGate, QUIET_USAGE, quietArgsOrExit } = require('./lib/quiet');

const ROOT = path.resolve(__dirname, '..');
const HAL = path.join(ROOT, 'build', 'bench', 'hal_forward');
const PERF = path.join(ROOT, 'build', 'native', 'libmemif', 'tools', 'nmif-perf');

const USAGE = `usage: node --import tsx bench/bridge-callgrind.js [--sizes 64,1500] [--seconds 8] [--cache-sim]
${QUIET_USAGE}`;

function parseArgs(args) {
  const { quiet, rest: argv } = quietArgsOrExit(args, 'bridge-callgrind', USAGE);
  const o = { sizes: [64, 1500], seconds: 8, cacheSim: false, quiet };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--sizes') o.sizes = String(argv[++k]).split(',').map(Number);
    else if (a === '--seconds') o.seconds = Number(argv[++k]);
    else if (a === '--cache-sim') o.cacheSim = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
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
function run(cmd, args, limitS) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** A thread file's totals by event name (Ir, D1mr, DLmr, ... with --cache-sim). */
function events(file) {
  const text = fs.readFileSync(file, 'utf8');
  const names = (/^events: (.*)$/m.exec(text) || ['', ''])[1].trim().split(/\s+/);
  const values = (/^totals: (.*)$/m.exec(text) || ['', ''])[1].trim().split(/\s+/).map(Number);
  return Object.fromEntries(names.map((n, k) => [n, values[k] || 0]));
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
  const vg = ['--tool=callgrind', '--fair-sched=yes', '--separate-threads=yes', `--callgrind-out-file=${cg}`, ...(o.cacheSim ? ['--cache-sim=yes'] : [])];
  const limit = o.seconds + 240;
  const owner = new Teardowns();
  let fwd = null;
  let tp = null;
  try {
    if (side === 'ours') {
      fwd = run('valgrind', [...vg, HAL, '--socket', sock, '--dpdk', vdev, '--seconds', String(o.seconds + 120), '--eal-prefix', prefix], limit);
      const t0 = Date.now();
      while (!listening(sock)) {
        if (fwd.proc.exitCode !== null || Date.now() - t0 > 120000) return { error: `${side} did not listen:\n${fwd.err.slice(-800)}` };
        await sleep(200);
      }
    } else {
      tp = await Testpmd.start(owner, { role: 'server', socket: sock, forwardMode: 'io', vdevs: [vdev], burst: 64, lcores: [0, 1],
        wrapper: ['valgrind', ...vg], startMs: 120000, lifetimeMs: limit * 1000, tag: 'bridge-cg' });
      await waitListening(sock, 120000, tp.name);
      tp.forward();
    }
    const peerArgs = ['--role', 'slave', '--socket', sock, '--id', '0', '--rsize', '10', '--bsize', '2048', '--burst', '64',
      '--duration', String(o.seconds), '--json', ...(dir === 'memif->null' ? ['--mode', 'send', '--size', String(size)] : ['--mode', 'recv'])];
    const peer = run(PERF, peerArgs, o.seconds + 60);
    await peer.done;
    const pj = JSON.parse(peer.out.trim().split('\n').filter((l) => l.startsWith('{')).pop() || 'null');
    let packets;
    if (fwd) {
      await fwd.done; // hal_forward ends when its peer has gone
      packets = dir === 'null->memif' ? pj && pj.received : JSON.parse(fwd.out.trim().split('\n').pop()).ports.dpdk0.txPackets;
    } else {
      await tp.stop(60000);
      const sent = tp.portForwardStats(1).txPackets; // port 0 = net_memif0, port 1 = net_null0
      await tp.quit(120000); // callgrind writes its files when testpmd exits
      packets = dir === 'null->memif' ? pj && pj.received : sent;
    }
    const files = threadFiles(cg);
    // ours: the worker thread (with --cache-sim, callgrind_annotate prints more columns: its
    // file is the one that names worker_main, and its totals are that thread's whole life).
    const costs = side === 'ours'
      ? files.map((f) => (o.cacheSim ? (fs.readFileSync(f, 'utf8').includes('worker_main') ? events(f).Ir : 0) : inclusive(f, 'worker_main')))
      : files.map(totals);
    const ir = Math.max(...costs);
    if (!(packets > 0) || !(ir > 0)) return { error: `no count (packets ${packets}, Ir ${ir})` };
    const r = { ir, packets, perPacket: ir / packets };
    if (o.cacheSim) {
      const ev = events(files[costs.indexOf(ir)]); // the forwarding thread's whole life
      r.d1mrPerPacket = ev.D1mr / packets;
      r.dlmrPerPacket = ev.DLmr / packets;
    }
    return r;
  } catch (e) {
    return { error: `${side}: ${e.message.split('\n').slice(0, 15).join('\n')}` };
  } finally {
    if (fwd && fwd.proc.exitCode === null) fwd.proc.kill('SIGKILL');
    await owner.run();
    fs.rmSync(`/var/run/dpdk/${prefix}`, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  for (const [what, ok] of [['valgrind', have('valgrind')], ['dpdk-testpmd', have('dpdk-testpmd')], [HAL, fs.existsSync(HAL)], [PERF, fs.existsSync(PERF)]]) {
    if (!ok) fail(`${what} not found (hal_forward is built when DPDK is found: npm run build:native)`);
  }
  const env = machine();
  const quiet = QuietGate.open('bridge-callgrind', o.quiet, { refuse: false });
  const rows = [];
  for (const size of o.sizes) {
    for (const dir of ['memif->null', 'null->memif']) {
      const row = { dir, size };
      for (const side of ['ours', 'testpmd']) {
        log(`${side} ${dir} ${size} B under callgrind, ${o.seconds} s of traffic`);
        const mark = quiet.runStart();
        row[side] = await measure(side, dir, size, o);
        row[side].others_pct = quiet.runEnd(mark);
        if (row[side].error) log(`  FAILED: ${row[side].error}`);
        else log(`  ${row[side].perPacket.toFixed(1)} Ir/packet (${row[side].ir} Ir / ${row[side].packets} packets)` +
          (o.cacheSim ? `, ${row[side].d1mrPerPacket.toFixed(2)} D1mr/packet, ${row[side].dlmrPerPacket.toFixed(3)} DLmr/packet` : ''));
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
  if (o.cacheSim) {
    out.push('', 'data-read misses per forwarded packet in the forwarding thread (callgrind --cache-sim: L1 D1mr / last level DLmr)',
      `${'case'.padEnd(20)}${'ours D1mr'.padStart(12)}${'testpmd D1mr'.padStart(14)}${'ours DLmr'.padStart(12)}${'testpmd DLmr'.padStart(14)}`);
    const m = (x, k, d) => (x[k] !== undefined ? x[k].toFixed(d) : '-');
    for (const r of rows) {
      out.push(`${`${r.dir} ${r.size} B`.padEnd(20)}${m(r.ours, 'd1mrPerPacket', 2).padStart(12)}${m(r.testpmd, 'd1mrPerPacket', 2).padStart(14)}` +
        `${m(r.ours, 'dlmrPerPacket', 3).padStart(12)}${m(r.testpmd, 'dlmrPerPacket', 3).padStart(14)}`);
    }
  }
  const quietRecord = quiet.record();
  out.push(quietRecord.verdict);
  process.stdout.write(`${out.join('\n')}\n${JSON.stringify({ bench: 'bridge-callgrind', machine: env, quiet: quietRecord, seconds: o.seconds, cases: rows })}\n`);
  if (rows.some((r) => !r.ratio)) process.exitCode = 1;
}

main();
