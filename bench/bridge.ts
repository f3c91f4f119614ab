/**
 * Bridge throughput (issue 5): nmemif-bridge against `dpdk-testpmd --forward-mode=io`, between
 * the same two vdevs, in the same run.
 *
 *   node --import tsx bench/bridge.ts [--runs 3] [--seconds 3] [--sizes 64,1500] [--burst 64] [--pin] [--json FILE] [--force]
 *
 * Cases, for each frame size S:
 *   memif -> null   peer `nmif-perf --role slave --mode send --size S --duration D` feeds the
 *                   forwarder's memif server port; the forwarder sends to `net_null0,no-rx=1` (sink).
 *                   Rate = frames the peer got into the ring / its duration (nmif-perf "sent" /
 *                   "duration"). The forwarder's own totals (bridge --json: memif rxPackets and
 *                   dpdk txPackets; testpmd exit summary: port 1 TX-packets) are shown as "fwd %"
 *                   = forwarded / sent, to show the sink got them (they are whole-run totals).
 *   null -> memif   `net_null0,size=S` (source) -> forwarder -> memif server port; peer
 *                   `nmif-perf --role slave --mode recv --duration D` counts.
 *                   Rate = nmif-perf "received" / "duration" (duration counted from link up).
 * Forwarders, each a child process (EAL once per process):
 *   ours     node bin/nmemif-bridge.js --memif role=server,... --dpdk <vdev> --cpu 1 --control none --json
 *            (one native worker, pinned to core 1 like testpmd's forwarding lcore, moves both
 *            directions of the link; Node's own threads float, like testpmd's main lcore 0 idles;
 *            stopped with SIGTERM)
 *   testpmd  dpdk-testpmd --forward-mode=io between net_memif0 (server) and <vdev>, --burst=B, one
 *            forwarding lcore on core 1 for both streams (the one launcher, test/helpers/testpmd.ts;
 *            "start" once it listens, "stop" for its counters when the peer is done, then "quit")
 * Same memif ring (1024 slots), buffer size (2048) and burst on both. Runs interleave (ours
 * first on even rounds, testpmd first on odd ones); medians [min..max] and ratios ours/testpmd
 * (ratio of the medians, and the median of the per-round ratios); last stdout line: one JSON.
 * --pin: also pins the nmif-perf peer to core 0 (taskset), the core the forwarders leave free.
 * Every child is bounded by a timeout and ended by its pid; /var/run/dpdk/<prefix> dirs removed.
 * It refuses to run on a busy machine unless --force (bench/lib/quiet.ts); the JSON (shape:
 * BridgeJson in bench/report/shapes.ts) says how busy it was.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Teardowns, Testpmd, waitListening } from '../test/helpers/testpmd';
import { finish, kill, lastJson, listening, sleep, start as startIn, tail, type Child } from './lib/children';
import { argParser } from './lib/args';
import { machine } from './lib/machine';
import { QuietGate, QUIET_USAGE, quietArgsOrExit, type QuietOptions } from './lib/quiet';

const root = path.resolve(__dirname, '..');
const perfBin = path.join(root, 'build', 'native', 'libmemif', 'tools', 'nmif-perf');
const bridgeBin = path.join(root, 'bin', 'nmemif-bridge.js');
const start = (cmd: string, args: string[], limitS: number): Child => startIn(cmd, args, limitS, root);

interface Args {
  runs: number;
  seconds: number;
  sizes: number[];
  burst: number;
  pin: boolean;
  json: string | null;
  only: string | null;
  quiet: QuietOptions;
}

const USAGE = `usage: node --import tsx bench/bridge.ts [options]
  --runs N        rounds; each runs ours and testpmd once per case (default 3)
  --seconds S     the peer's --duration per run (default 3)
  --sizes A,B     frame sizes (default 64,1500)
  --burst N       burst of the bridge, testpmd and nmif-perf (default 64)
  --pin           taskset the nmif-perf peer to core 0 (both forwarders forward on core 1)
  --only ours|testpmd  run one side only (no ratios)
  --json FILE     also write the JSON summary to FILE
${QUIET_USAGE}
  --help          this text`;

function parseArgs(args: string[]): Args {
  const { quiet, rest: argv } = quietArgsOrExit(args, 'bench/bridge', USAGE);
  const o: Args = { runs: 3, seconds: 3, sizes: [64, 1500], burst: 64, pin: false, json: null, only: null, quiet };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    switch (a) {
      case '--runs': o.runs = Math.round(num(a, argv[++k], 1, 100)); break;
      case '--seconds': o.seconds = num(a, argv[++k], 0.5, 600); break;
      case '--sizes': o.sizes = String(argv[++k] ?? '').split(',').map((s) => Math.round(num(a, s, 60, 2048))); break;
      case '--burst': o.burst = Math.round(num(a, argv[++k], 1, 256)); break;
      case '--pin': o.pin = true; break;
      case '--only': {
        const v = argv[++k];
        if (v !== 'ours' && v !== 'testpmd') fail(`--only wants ours or testpmd\n${USAGE}`);
        o.only = v;
        break;
      }
      case '--json': o.json = argv[++k] ?? fail('--json wants a file'); break;
      case '--help': case '-h': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default: fail(`unknown argument '${a}'\n${USAGE}`);
    }
  }
  return o;
}

const { fail, num } = argParser('bench/bridge', USAGE);
function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
type Dir = 'memif->null' | 'null->memif';
type Side = 'ours' | 'testpmd';

interface RunResult {
  pps: number;
  peerCount: number;
  peerDuration: number;
  forwarded: number | null; // the forwarder's own count toward the sink / memif (whole run)
  drops: number | null;
  /** Other processes' share of the CPUs during the run, in %. */
  othersPct?: number;
  error?: string;
}

let seq = 0;
async function runOne(side: Side, dir: Dir, size: number, o: Args): Promise<RunResult> {
  const dirTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-bbench-'));
  const sock = path.join(dirTmp, 'memif.sock');
  const prefix = `nbb-${process.pid}-${seq++}`;
  const vdev = dir === 'memif->null' ? 'net_null0,no-rx=1' : `net_null0,size=${size}`;
  const limit = o.seconds + 40;
  let fwd: Child | null = null;
  let tp: Testpmd | null = null;
  let peer: Child | null = null;
  const owner = new Teardowns();
  try {
    if (side === 'ours') {
      const args = [bridgeBin, '--memif', `role=server,socket=${sock},socket-abstract=no,id=0,rsize=10,bsize=2048`, '--dpdk', vdev,
        `--eal=--file-prefix=${prefix}`, '--control', 'none', '--burst', String(o.burst), '--cpu', '1', '--json'];
      fwd = start(process.execPath, args, limit);
      const t0 = Date.now();
      while (!listening(fs, sock)) {
        if (fwd.exited) return bad(`${side} exited before listening:\n${tail(fwd.err + fwd.out)}`);
        if (Date.now() - t0 > 20000) return bad(`${side} does not listen on ${sock} after 20 s:\n${tail(fwd.err + fwd.out)}`);
        await sleep(50);
      }
    } else {
      tp = await Testpmd.start(owner, { role: 'server', socket: sock, forwardMode: 'io', vdevs: [vdev], burst: o.burst, lcores: [0, 1],
        lifetimeMs: limit * 1000, tag: 'bridge-io' });
      await waitListening(sock, 20_000, tp.name);
      tp.forward();
    }
    const perfArgs = ['--role', 'slave', '--socket', sock, '--id', '0', '--rsize', '10', '--bsize', '2048', '--burst', String(o.burst),
      '--duration', String(o.seconds), '--json', ...(dir === 'memif->null' ? ['--mode', 'send', '--size', String(size)] : ['--mode', 'recv'])];
    peer = o.pin ? start('taskset', ['-c', '0', perfBin, ...perfArgs], limit) : start(perfBin, perfArgs, limit);
    const code = await peer.done;
    const pj = lastJson(peer.out);
    // stop the forwarder: the bridge prints its counters on SIGTERM; testpmd prints them on "stop"
    let tpStats: ReturnType<Testpmd['portForwardStats']> | null = null;
    if (fwd) {
      if (!fwd.exited) process.kill(fwd.proc.pid!, 'SIGTERM');
      await finish(fwd, 15000);
    } else if (tp) {
      try {
        await tp.stop();
        tpStats = tp.portForwardStats(1); // port 0 = net_memif0, port 1 = net_null0
        await tp.quit();
      } catch (e) {
        log(`testpmd did not stop cleanly (its counters are left out): ${(e as Error).message.split('\n')[0]}`);
      }
    }
    const fwdOut = fwd ? tail(fwd.err + fwd.out) : tp ? tp.describe() : '';
    if (!pj || code === null || code > 1) return bad(`nmif-perf exit ${code}:\n${tail(peer.err + peer.out)}\n${side}:\n${fwdOut}`);
    const count = dir === 'memif->null' ? pj.sent : pj.received;
    const dur = pj.duration;
    if (!(dur > 0) || !(count > 0)) return bad(`nmif-perf counted ${count} in ${dur} s:\n${tail(peer.err)}`);
    let forwarded: number | null = null;
    let drops: number | null = null;
    if (fwd) {
      const bj = lastJson(fwd.out);
      if (bj) {
        const m = bj.ports?.memif0;
        const d = bj.ports?.dpdk0;
        forwarded = dir === 'memif->null' ? d?.txPackets ?? null : m?.txPackets ?? null;
        const src = dir === 'memif->null' ? d : m; // drops are counted on the tx port
        drops = src ? src.dropTxFull + src.dropNoMbuf + src.dropTooBig : null; // link-down drops (after the peer left) excluded
      }
    } else if (tpStats && dir === 'memif->null') {
      // net_memif resets its counters when the link drops (the peer leaving), so only the
      // net_null side is read.
      forwarded = tpStats.txPackets;
      drops = tpStats.txDropped;
    }
    return { pps: count / dur, peerCount: count, peerDuration: dur, forwarded, drops };
  } catch (e) {
    return bad(`${side}: ${(e as Error).message}`);
  } finally {
    if (peer) await kill(peer, 3000);
    if (fwd) await kill(fwd, 5000);
    await owner.run();
    fs.rmSync(`/var/run/dpdk/${prefix}`, { recursive: true, force: true });
    fs.rmSync(dirTmp, { recursive: true, force: true });
  }
}

function bad(error: string): RunResult {
  return { pps: NaN, peerCount: 0, peerDuration: 0, forwarded: null, drops: null, error };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const mpps = (x: number) => (x / 1e6).toFixed(2);
const stat = (xs: number[]) => (xs.length ? { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) } : null);

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(perfBin)) fail(`${perfBin} not built (npm run build)`, 1);
  const env = machine();
  const quiet = QuietGate.open('bridge', o.quiet);
  const haveTestpmd = spawnSync('sh', ['-c', 'command -v dpdk-testpmd'], { encoding: 'utf8' }).status === 0;
  const sides: Side[] = o.only ? [o.only as Side] : haveTestpmd ? ['ours', 'testpmd'] : ['ours'];
  if (!haveTestpmd) log('dpdk-testpmd not found: ours only, no ratios');
  const dirs: Dir[] = ['memif->null', 'null->memif'];
  const cases = o.sizes.flatMap((size) => dirs.map((dir) => ({ dir, size })));
  const res = new Map<string, RunResult[]>();
  const key = (s: Side, d: Dir, z: number) => `${s}|${d}|${z}`;
  log(`bridge bench: ${o.runs} rounds x ${cases.length} cases x ${sides.join('+')}, ${o.seconds} s each, burst ${o.burst}${o.pin ? ', pinned' : ''}`);
  for (let r = 0; r < o.runs; r++) {
    for (const c of cases) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const mark = quiet.runStart();
        const x = await runOne(side, c.dir, c.size, o);
        x.othersPct = quiet.runEnd(mark);
        const k = key(side, c.dir, c.size);
        if (!res.has(k)) res.set(k, []);
        res.get(k)!.push(x);
        if (x.error) log(`round ${r + 1}/${o.runs} ${side.padEnd(7)} ${c.dir} ${c.size} B: FAILED: ${x.error}`);
        else log(`round ${r + 1}/${o.runs} ${side.padEnd(7)} ${c.dir} ${String(c.size).padStart(4)} B: ${mpps(x.pps)} Mpps (peer ${x.peerCount} in ${x.peerDuration.toFixed(3)} s; forwarder counted ${x.forwarded ?? '?'}, drops ${x.drops ?? '?'}; others used ${x.othersPct} % of the CPUs)`);
      }
    }
  }

  const rows = cases.map((c) => {
    const row: Record<string, any> = { dir: c.dir, size: c.size };
    for (const s of sides) {
      const ok = (res.get(key(s, c.dir, c.size)) ?? []).filter((x) => !x.error);
      const st = stat(ok.map((x) => x.pps));
      const fwdPct = ok.filter((x) => x.forwarded !== null).map((x) => (100 * x.forwarded!) / x.peerCount);
      row[s] = st && { ...st, median: Math.round(st.median), min: Math.round(st.min), max: Math.round(st.max), failed: (res.get(key(s, c.dir, c.size)) ?? []).length - ok.length,
        fwd_pct_median: fwdPct.length ? Math.round(median(fwdPct) * 100) / 100 : null, drops_max: Math.max(0, ...ok.map((x) => x.drops ?? 0)) };
    }
    if (row.ours && row.testpmd) {
      const a = (res.get(key('ours', c.dir, c.size)) ?? []);
      const b = (res.get(key('testpmd', c.dir, c.size)) ?? []);
      const per = a.map((x, k) => x.pps / b[k]?.pps).filter((x) => Number.isFinite(x));
      row.ratio = { of_medians: Math.round((row.ours.median / row.testpmd.median) * 1000) / 1000, per_round: stat(per) };
    }
    return row;
  });

  const out: string[] = [];
  const cell = (s: any) => (s ? `${mpps(s.median)} [${mpps(s.min)}..${mpps(s.max)}]${s.failed ? ` (${s.failed} failed)` : ''}` : '-');
  out.push(`\nbridge throughput, Mpps: median [min..max] of ${o.runs} runs, ${o.seconds} s each (rate measured by the nmif-perf peer)`);
  let hdr = 'case'.padEnd(20) + 'ours (nmemif-bridge)'.padStart(26);
  if (sides.includes('testpmd')) hdr += 'testpmd io'.padStart(26) + 'ours/testpmd'.padStart(16) + 'per-round ratio'.padStart(26);
  hdr += '  fwd% ours/tp';
  out.push(hdr);
  for (const r of rows) {
    let line = `${r.dir} ${r.size} B`.padEnd(20) + cell(r.ours).padStart(26);
    if (sides.includes('testpmd')) {
      const pr = r.ratio?.per_round;
      line += cell(r.testpmd).padStart(26) + (r.ratio ? `${r.ratio.of_medians.toFixed(2)}x` : '-').padStart(16) +
        (pr ? `${pr.median.toFixed(2)} [${pr.min.toFixed(2)}..${pr.max.toFixed(2)}]` : '-').padStart(26);
    }
    line += `  ${r.ours?.fwd_pct_median ?? '-'}/${r.testpmd?.fwd_pct_median ?? '-'}`;
    out.push(line);
  }
  out.push('memif->null: rate = nmif-perf --mode send "sent"/"duration" (frames put in the ring); fwd% = forwarder tx to net_null / sent (bridge --json dpdk0.txPackets; testpmd port 1 TX-packets), whole-run totals.');
  out.push('null->memif: rate = nmif-perf --mode recv "received"/"duration" (from link up); fwd% = bridge memif0.txPackets / received (whole run, so >= 100); testpmd\'s memif counters reset at link drop: not shown.');
  const quietRecord = quiet.record();
  out.push(quietRecord.verdict);
  process.stdout.write(`${out.join('\n')}\n`);
  const summary = { bench: 'bridge', machine: env, quiet: quietRecord, runs: o.runs, seconds: o.seconds, burst: o.burst, pin: o.pin, cpus: os.cpus().length, cases: rows };
  const line = JSON.stringify(summary);
  if (o.json) fs.writeFileSync(o.json, `${line}\n`);
  process.stdout.write(`${line}\n`);
  if (rows.some((r) => sides.some((s) => !r[s] || r[s].failed))) process.exitCode = 1;
}

void main();
