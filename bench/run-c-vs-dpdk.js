#!/usr/bin/env node
'use strict';
/*
 * run-c-vs-dpdk: our C memif pair against the DPDK testpmd pair, in one run.
 *
 *   node --import tsx bench/run-c-vs-dpdk.js [options]        (--help lists them)
 *
 * Builds nothing: it runs <build-dir>/bench/memif_pair (cmake-js output: build/) and the
 * testpmd pair of bench/lib/testpmd-pair.ts. For each round and each frame size it runs, interleaved,
 *   ours      memif_pair --threads (slave tx on core 0 -> master rx on core 1, rx reads headers)
 *   ours+copy memif_pair --threads --rx-work=copy (the receiver also copies each frame out,
 *             as copy-mode net_memif does into mbufs; --no-rx-copy leaves it out)
 *   dpdk      testpmd txonly client on core 0 -> testpmd rxonly server on core 1
 * with the same ring (1024 slots), buffer size (2048, or the power of two that holds a jumbo
 * frame: bench/lib/sizes.ts) and burst (--burst, 64) on both sides,
 * alternating the order every round (ours first on even rounds, dpdk first on odd ones) so a
 * drift of the machine does not favour one side. Then medians, min/max and ratios ours/dpdk
 * (ratio of the medians, and the median of the per-round ratios), then instructions per packet
 * from callgrind (see CALLGRIND_METHOD), a table on stdout and, as the last line, one JSON
 * summary (shape: CVsDpdkJson in bench/report/shapes.ts). Progress goes to stderr. It refuses to
 * run on a busy machine unless --force (bench/lib/quiet.ts), and says how busy it was.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { QuietGate, QUIET_USAGE, quietArgsOrExit } = require('./lib/quiet');
const { machine } = require('./lib/machine');
const { MAX_FRAME, bufferSizeFor } = require('./lib/sizes');
const { testpmdPair } = require('./lib/testpmd-pair');

const ROOT = path.resolve(__dirname, '..');
const CALLGRIND_METHOD =
  'memif_pair --single (one thread: tx_alloc + frame write + tx_burst, then rx_burst + header ' +
  'read + rx_release) runs under valgrind --tool=callgrind twice, for N1 and N2 packets; ' +
  'instructions/packet = (Ir(N2) - Ir(N1)) / (N2 - N1), which cancels start-up, handshake ' +
  'and teardown. It counts both sides of one packet (tx and rx). Per-function rows use the ' +
  'same difference on each function\'s self cost.';

const DEFAULTS = {
  runs: 5,
  sizes: [64, 1500],
  seconds: 3,
  warmup: 1,
  burst: 64, // both sides: same ring (1024), buffer (2048) and burst
  dpdkBurst: null, // null: the same as burst
  buildDir: process.env.NMEMIF_BUILD_DIR || path.join(ROOT, 'build'),
  dpdk: true,
  rxCopy: true,
  callgrind: true,
  cgPackets: [100000, 300000],
  cgSizes: null, // null: the sizes that are 64 or 1500
  txCore: 0,
  rxCore: 1,
  jsonOut: null,
};

const USAGE = `usage: node --import tsx bench/run-c-vs-dpdk.js [options]
  --runs N             rounds per size, each running every side once (default ${DEFAULTS.runs}, at least 1)
  --sizes A,B          frame sizes in bytes, 64..${MAX_FRAME} (default ${DEFAULTS.sizes.join(',')})
  --seconds S          measuring window of every run (default ${DEFAULTS.seconds})
  --warmup S           traffic before the window opens (default ${DEFAULTS.warmup})
  --burst N            packets per burst, ours and testpmd (default ${DEFAULTS.burst})
  --dpdk-burst N       testpmd --burst only, when it should differ from --burst
  --build-dir DIR      where bench/memif_pair was built (default build/, env NMEMIF_BUILD_DIR)
  --tx-core N          sender core (default 0)
  --rx-core N          receiver core (default 1)
  --callgrind-packets N1,N2  packet counts of the two callgrind runs (default ${DEFAULTS.cgPackets.join(',')})
  --callgrind-sizes A,B  sizes counted under callgrind (default: those of --sizes that are 64 or 1500)
  --no-dpdk            skip testpmd (no ratios)
  --no-rx-copy         skip the ours+copy variant
  --no-callgrind       skip instructions per packet
${QUIET_USAGE}
  --json FILE          also write the JSON summary to FILE
  --help               this text`;

function fail(msg, code = 2) {
  process.stderr.write(`run-c-vs-dpdk: ${msg}\n`);
  process.exit(code);
}

function parseArgs(args) {
  const { quiet, rest: argv } = quietArgsOrExit(args, 'run-c-vs-dpdk', USAGE);
  const o = { ...DEFAULTS, quiet };
  const num = (name, v, lo, hi) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < lo || n > hi)
      fail(`${name} wants a number in ${lo}..${hi}, got '${v}'\n${USAGE}`);
    return n;
  };
  const list = (name, v, lo, hi) =>
    String(v ?? '').split(',').map((x) => Math.round(num(name, x, lo, hi)));
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const next = () => argv[++k];
    switch (a) {
      case '--runs': o.runs = Math.round(num(a, next(), 1, 1000)); break;
      case '--sizes': o.sizes = list(a, next(), 64, MAX_FRAME); break;
      case '--seconds': o.seconds = num(a, next(), 0.1, 3600); break;
      case '--warmup': o.warmup = num(a, next(), 0, 3600); break;
      case '--burst': o.burst = Math.round(num(a, next(), 1, 256)); break;
      case '--dpdk-burst': o.dpdkBurst = Math.round(num(a, next(), 1, 512)); break;
      case '--build-dir': o.buildDir = path.resolve(next() ?? fail(`${a} wants a directory`)); break;
      case '--tx-core': o.txCore = Math.round(num(a, next(), 0, 4095)); break;
      case '--rx-core': o.rxCore = Math.round(num(a, next(), 0, 4095)); break;
      case '--callgrind-packets': {
        o.cgPackets = list(a, next(), 1000, 1e9);
        if (o.cgPackets.length !== 2 || o.cgPackets[0] >= o.cgPackets[1])
          fail(`${a} wants two increasing counts, e.g. 100000,300000`);
        break;
      }
      case '--callgrind-sizes': o.cgSizes = list(a, next(), 64, MAX_FRAME); break;
      case '--no-dpdk': o.dpdk = false; break;
      case '--no-rx-copy': o.rxCopy = false; break;
      case '--no-callgrind': o.callgrind = false; break;
      case '--json': o.jsonOut = next() ?? fail(`${a} wants a file name`); break;
      case '--help': case '-h': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default: fail(`unknown argument '${a}'\n${USAGE}`);
    }
  }
  if (o.txCore === o.rxCore) fail('--tx-core and --rx-core must differ');
  if (o.dpdkBurst === null) o.dpdkBurst = o.burst;
  if (o.cgSizes === null) o.cgSizes = o.sizes.filter((s) => s === 64 || s === 1500);
  return o;
}

function log(msg) {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/* Runs a command bounded by timeoutS; returns the last JSON line of its stdout. */
function runJson(cmd, args, timeoutS, what) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: timeoutS * 1000,
    killSignal: 'SIGTERM',
    maxBuffer: 16 << 20,
  });
  const lines = (r.stdout || '').split('\n').filter((l) => l.startsWith('{'));
  if (r.error || r.status !== 0 || lines.length === 0) {
    const why = r.error ? r.error.message : `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
    const tail = (r.stderr || '').trim().split('\n').slice(-15).join('\n');
    return { error: `${what}: ${why}${tail ? `\n${tail}` : ''}` };
  }
  try {
    return JSON.parse(lines[lines.length - 1]);
  } catch (e) {
    return { error: `${what}: bad JSON: ${lines[lines.length - 1]}` };
  }
}

/* ---- statistics ------------------------------------------------------------------------ */

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarize(xs) {
  if (xs.length === 0) return null;
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/* ---- callgrind --------------------------------------------------------------------------- */

/* Self cost (Ir) per function from a callgrind output file: cost lines count for the
 * current fn=, except the line right after calls=, which is the inclusive cost of a call. */
function callgrindSelf(file) {
  const names = new Map();
  const self = new Map();
  let fn = '???';
  let skipNext = false;
  let totals = null;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('fn=') || line.startsWith('cfn=')) {
      /* Names are compressed: "(id) name" the first time, in fn= or cfn=, then "(id)". */
      const eq = line.indexOf('=');
      const m = /^\((\d+)\)(?: (.*))?$/.exec(line.slice(eq + 1));
      let name = line.slice(eq + 1);
      if (m) {
        if (m[2] !== undefined) names.set(m[1], m[2]);
        name = names.get(m[1]) ?? `(${m[1]})`;
      }
      if (eq === 2) fn = name;
      continue;
    }
    if (line.startsWith('calls=')) { skipNext = true; continue; }
    if (line.startsWith('totals:') || line.startsWith('summary:')) {
      totals = Number(line.split(/\s+/)[1]);
      continue;
    }
    if (/^[+\-*0-9]/.test(line)) {
      if (skipNext) { skipNext = false; continue; }
      const f = line.trim().split(/\s+/);
      const ir = Number(f[f.length - 1]);
      if (f.length >= 2 && Number.isFinite(ir)) self.set(fn, (self.get(fn) || 0) + ir);
    }
  }
  return { totals, self };
}

function callgrindRun(bin, o, size, packets, dir) {
  const out = path.join(dir, `cg.${size}.${packets}.out`);
  const args = ['--tool=callgrind', `--callgrind-out-file=${out}`, bin, '--single',
    '--size', String(size), '--buffer-size', String(bufferSizeFor(size)), '--packets', String(packets)];
  args.push('--burst', String(o.burst));
  const res = runJson('valgrind', args, 600, `callgrind ${size} B x ${packets}`);
  if (res.error) return res;
  const cg = callgrindSelf(out);
  if (!cg.totals) return { error: `callgrind ${size} B: no totals in ${out}` };
  return { run: res, ...cg };
}

/* One row per function; the benchmark's own code and libc get a note saying what they do. */
function groupOf(fn) {
  if (/mem(cpy|move)/.test(fn)) return `${fn} (libc: frame copy)`;
  if (/^(run_single|tx_once|rx_once)$/.test(fn)) return `${fn} (bench: fill lens, read headers)`;
  return fn;
}

function callgrindSize(bin, o, size, dir) {
  const [n1, n2] = o.cgPackets;
  log(`callgrind ${size} B: ${n1} and ${n2} packets`);
  const a = callgrindRun(bin, o, size, n1, dir);
  if (a.error) return a;
  const b = callgrindRun(bin, o, size, n2, dir);
  if (b.error) return b;
  const dn = n2 - n1;
  const perPacket = (b.totals - a.totals) / dn;
  const groups = new Map();
  for (const [fn, ir] of b.self) {
    const d = (ir - (a.self.get(fn) || 0)) / dn;
    const g = groupOf(fn);
    groups.set(g, (groups.get(g) || 0) + d);
  }
  const functions = [...groups]
    .map(([name, ir]) => ({ name, ir_per_packet: round(ir, 2), share: round(ir / perPacket, 4) }))
    .filter((f) => Math.abs(f.ir_per_packet) >= 0.05)
    .sort((x, y) => y.ir_per_packet - x.ir_per_packet);
  return {
    size, burst: a.run.burst, packets: [n1, n2], ir: [a.totals, b.totals],
    ir_per_packet: round(perPacket, 2), functions,
  };
}

/* ---- table ------------------------------------------------------------------------------- */

function round(x, d) {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
const mpps = (x) => (x / 1e6).toFixed(2);
const pad = (s, n) => String(s).padStart(n);
const padr = (s, n) => String(s).padEnd(n);

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const bin = path.join(o.buildDir, 'bench', 'memif_pair');
  if (!fs.existsSync(bin))
    fail(`${bin} not found: build it first (npm run build:native, or cmake -S . -B build -DNMEMIF_DEV=ON && ` +
      'cmake --build build --target memif_pair)', 1);
  if (o.dpdk && !which('dpdk-testpmd')) {
    log('dpdk-testpmd not found: DPDK side skipped (Debian: apt-get install dpdk)');
    o.dpdk = false;
  }
  if (o.callgrind && !which('valgrind')) {
    log('valgrind not found: instructions per packet skipped');
    o.callgrind = false;
  }

  const env = machine();
  const quiet = QuietGate.open('c-vs-dpdk', o.quiet);

  const base = ['--threads', '--seconds', String(o.seconds), '--warmup', String(o.warmup),
    '--tx-core', String(o.txCore), '--rx-core', String(o.rxCore)];
  base.push('--burst', String(o.burst));
  const sides = [{ key: 'ours', args: base }];
  if (o.rxCopy) sides.push({ key: 'ours_rxcopy', args: [...base, '--rx-work', 'copy'] });
  const dpdkRun = async (size) => {
    try {
      return await testpmdPair({ size, bufferSize: bufferSizeFor(size), burst: o.dpdkBurst, warmup: o.warmup,
        seconds: o.seconds, txCore: o.txCore, rxCore: o.rxCore });
    } catch (e) {
      return { error: `testpmd pair ${size} B: ${e.message.split('\n').slice(0, 15).join('\n')}` };
    }
  };

  const limitOurs = o.warmup + o.seconds + 30;
  const runs = []; // every single run, in order
  const errors = [];
  for (let r = 0; r < o.runs; r++) {
    for (const size of o.sizes) {
      const order = [...sides.map((s) => ({ ...s, dpdk: false }))];
      if (o.dpdk) {
        if (r % 2 === 0) order.push({ key: 'dpdk', dpdk: true });
        else order.unshift({ key: 'dpdk', dpdk: true });
      }
      for (const side of order) {
        const mark = quiet.runStart();
        const res = side.dpdk
          ? await dpdkRun(size)
          : runJson(bin, [...side.args, '--size', String(size), '--buffer-size', String(bufferSizeFor(size))],
            limitOurs, `memif_pair ${size} B`);
        const others = quiet.runEnd(mark);
        if (res.error) {
          log(`round ${r + 1} ${side.key} ${size} B FAILED: ${res.error}`);
          errors.push({ round: r + 1, side: side.key, size, error: res.error });
          continue;
        }
        log(`round ${r + 1}/${o.runs} ${padr(side.key, 11)} ${pad(size, 4)} B: ` +
          `${mpps(res.rx_pps)} Mpps rx (${mpps(res.tx_pps)} tx), other processes used ${others} % of the CPUs`);
        runs.push({ round: r + 1, side: side.key, size, rx_pps: res.rx_pps, tx_pps: res.tx_pps,
          others_pct: others, result: res });
      }
    }
  }

  const results = [];
  for (const size of o.sizes) {
    const pick = (key) => runs.filter((x) => x.side === key && x.size === size);
    const row = { size };
    for (const key of ['ours', 'ours_rxcopy', 'dpdk']) {
      const xs = pick(key);
      if (xs.length) row[key] = { rx_pps: summarize(xs.map((x) => x.rx_pps)),
        tx_pps: summarize(xs.map((x) => x.tx_pps)) };
    }
    if (row.dpdk) {
      for (const key of ['ours', 'ours_rxcopy']) {
        if (!row[key]) continue;
        const paired = [];
        for (let r = 1; r <= o.runs; r++) {
          const a = pick(key).find((x) => x.round === r);
          const b = pick('dpdk').find((x) => x.round === r);
          if (a && b && b.rx_pps > 0) paired.push(a.rx_pps / b.rx_pps);
        }
        row[`ratio_${key}_vs_dpdk`] = {
          of_medians: round(row[key].rx_pps.median / row.dpdk.rx_pps.median, 3),
          paired: summarize(paired.map((x) => round(x, 3))),
        };
      }
    }
    results.push(row);
  }

  let callgrind = null;
  if (o.callgrind) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-cg-'));
    callgrind = { method: CALLGRIND_METHOD, sizes: [] };
    for (const size of o.cgSizes) {
      const c = callgrindSize(bin, o, size, dir);
      if (c.error) {
        log(`callgrind ${size} B FAILED: ${c.error}`);
        errors.push({ side: 'callgrind', size, error: c.error });
      } else {
        callgrind.sizes.push(c);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const quietRecord = quiet.record();

  /* ---- report ---- */
  const first = runs.find((x) => x.side === 'ours')?.result;
  const dfirst = runs.find((x) => x.side === 'dpdk')?.result;
  const out = [];
  out.push('');
  out.push('nmemif C (slave -> master) vs DPDK testpmd (txonly client -> rxonly server) over memif');
  out.push(`${o.runs} interleaved rounds per size, ${o.warmup} s warm-up + ${o.seconds} s window per run; ` +
    `tx on core ${o.txCore}, rx on core ${o.rxCore}; ${env.cpus} CPUs (${env.cpu}), ` +
    `load ${quietRecord.loadavg_start.join(' ')} -> ${quietRecord.loadavg_end.join(' ')}`);
  out.push(quietRecord.verdict);
  if (first) out.push(`ours: ${first.impl}, burst ${first.burst}, ring ${first.ring}, buffers ${first.buffer_size} B (larger for jumbo frames), ` +
    `tx writes the whole frame (memcpy), rx ${first.rx_work === 'header' ? 'reads EtherType + IP protocol, no copy' : first.rx_work}`);
  if (o.rxCopy) out.push('ours+copy: same, and the receiver memcpy\'s each frame out (as copy-mode net_memif does)');
  if (dfirst) out.push(`dpdk: ${dfirst.impl}, net_memif copy mode, burst ${dfirst.burst}, ring ${dfirst.ring}`);
  out.push('pps = packets counted by the receiving side / its own measured interval; Mpps shown as median [min..max]');
  out.push('');
  const cols = ['ours', ...(o.rxCopy ? ['ours_rxcopy'] : []), ...(o.dpdk ? ['dpdk'] : [])];
  const colName = { ours: 'ours', ours_rxcopy: 'ours+copy', dpdk: 'dpdk testpmd' };
  const cell = (s) => (s ? `${mpps(s.median)} [${mpps(s.min)}..${mpps(s.max)}]` : '-');
  let hdr = padr('size', 6);
  for (const c of cols) hdr += pad(colName[c], 24);
  if (o.dpdk) for (const c of cols.filter((x) => x !== 'dpdk'))
    hdr += pad(`${colName[c]}/dpdk`, 34);
  out.push(hdr);
  for (const row of results) {
    let line = padr(`${row.size} B`, 6);
    for (const c of cols) line += pad(cell(row[c]?.rx_pps), 24);
    if (o.dpdk) for (const c of cols.filter((x) => x !== 'dpdk')) {
      const r = row[`ratio_${c}_vs_dpdk`];
      const p = r?.paired;
      line += pad(r ? `${r.of_medians.toFixed(2)}x (${p ? `${p.median.toFixed(2)} [${p.min.toFixed(2)}..${p.max.toFixed(2)}]` : '-'})` : '-', 34);
    }
    out.push(line);
  }
  if (o.dpdk) out.push('ratio = median ours / median dpdk; in parentheses the per-round ratios (same round, back to back): median [min..max]');
  if (callgrind) {
    out.push('');
    out.push('Instructions per packet (callgrind, one thread doing tx and rx):');
    out.push(`  method: ${CALLGRIND_METHOD}`);
    for (const c of callgrind.sizes) {
      out.push(`  ${c.size} B, burst ${c.burst}: ${c.ir_per_packet} Ir/packet ` +
        `(Ir ${c.ir[0]} at ${c.packets[0]}, ${c.ir[1]} at ${c.packets[1]})`);
      for (const f of c.functions)
        out.push(`    ${padr(f.name, 56)} ${pad(f.ir_per_packet.toFixed(2), 8)} Ir/pkt ${pad((f.share * 100).toFixed(1), 6)} %`);
    }
  }
  if (errors.length) {
    out.push('');
    out.push(`${errors.length} run(s) failed:`);
    for (const e of errors) out.push(`  ${e.side} ${e.size} B${e.round ? ` round ${e.round}` : ''}: ${e.error.split('\n')[0]}`);
  }
  out.push('');
  const summary = { bench: 'c-vs-dpdk', machine: env, quiet: quietRecord, options: { runs: o.runs, sizes: o.sizes,
    seconds: o.seconds, warmup: o.warmup, burst: first?.burst ?? o.burst,
    dpdk_burst: dfirst?.burst ?? o.dpdkBurst, tx_core: o.txCore, rx_core: o.rxCore },
  results, callgrind, runs: runs.map(({ result, ...r }) => r), errors };
  const json = JSON.stringify(summary);
  process.stdout.write(`${out.join('\n')}\n${json}\n`);
  if (o.jsonOut) fs.writeFileSync(o.jsonOut, `${JSON.stringify(summary, null, 2)}\n`);
  process.exitCode = errors.length ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`run-c-vs-dpdk: ${e.stack || e}\n`);
  process.exitCode = 1;
});
