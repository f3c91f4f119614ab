/**
 * Round-trip latency with one frame in flight (window 1), per pair of ends, rx mode and frame
 * size. A pair is "<sender>-<echo>": the sender sends a frame, waits for it to come back,
 * sends the next; the echo copies each frame back.
 *   C-C    nmif-perf --mode roundtrip --window 1  ⇄  nmif-perf --mode echo
 *   C-TS   nmif-perf roundtrip  ⇄  bench/latency-peer.ts --mode echo (the TypeScript echo)
 *   TS-C   latency-peer.ts --mode roundtrip  ⇄  nmif-perf echo
 *   TS-TS  latency-peer.ts roundtrip  ⇄  latency-peer.ts echo
 *   C-C@base  the C pair of another build (--baseline PATH to its nmif-perf), interrupt and
 *          polling only; an older nmif-perf prints no round-trip times, only round trips/s.
 * rx modes: interrupt (each end sleeps until the peer's interrupt), polling (each end spins),
 * adaptive (interrupts while idle; after traffic the queue is masked and polled for a short
 * window before sleeping again: the library's 'adaptive' rx mode, `nmif-perf --rx-mode adaptive`).
 * The echo runs pinned on CPU 0, the sender on CPU 1.
 * Runs are interleaved (every case once per round), 5 rounds by default; each figure is the
 * median over the rounds with min/max, and the ratios are taken per round. Then each echo's
 * idle CPU: the sender sends a few frames and holds the link without traffic for --idle-seconds
 * while the echo's CPU time is read from /proc/<pid>/stat.
 * It refuses to run on a busy machine unless --force (bench/lib/quiet.ts); the last stdout line
 * is one JSON object (shape: LatencyJson in bench/report/shapes.ts).
 *
 *   node --import tsx bench/latency.ts [--runs 5] [--count 20000] [--sizes 64,1500]
 *       [--modes interrupt,polling,adaptive] [--pairs C-C,C-TS,TS-C,TS-TS] [--baseline PATH]
 *       [--idle-seconds 10] [--perf PATH] [--force]        (--perf: another build's nmif-perf as ours)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LatencyJson, Stat } from './report/shapes';
import { machine } from './lib/machine';
import { QuietGate, quietArgsOrExit, sleepMs, type QuietOptions } from './lib/quiet';
import type { RttSummary } from './lib/rtt';

const root = path.resolve(__dirname, '..');
const builtPerf = path.join(root, 'build', 'native', 'libmemif', 'tools', 'nmif-perf');
const peerTs = path.join(__dirname, 'latency-peer.ts');
const MODES = ['interrupt', 'polling', 'adaptive'] as const;
const PAIRS = ['C-C', 'C-TS', 'TS-C', 'TS-TS'] as const;
type Mode = (typeof MODES)[number];
const ECHO_CPU = 0;
const SENDER_CPU = 1;

const USAGE = `usage: node --import tsx bench/latency.ts [--runs N] [--count N] [--sizes 64,1500] [--modes ${MODES.join(',')}]
    [--pairs ${PAIRS.join(',')}] [--baseline PATH-TO-OLDER-nmif-perf] [--idle-seconds S] [--perf PATH] [--force] ...`;

interface Args {
  runs: number;
  count: number;
  sizes: number[];
  modes: Mode[];
  pairs: string[];
  baseline: string | null;
  perf: string;
  idleSeconds: number;
  quiet: QuietOptions;
}

function parse(argv: string[]): Args {
  const { quiet, rest } = quietArgsOrExit(argv, 'latency', USAGE);
  const a: Args = { runs: 5, count: 20000, sizes: [64, 1500], modes: [...MODES], pairs: [...PAIRS], baseline: null, perf: builtPerf, idleSeconds: 10, quiet };
  const bad = (m: string): never => {
    process.stderr.write(`latency: ${m}\n${USAGE}\n`);
    process.exit(2);
  };
  for (let k = 0; k < rest.length; k++) {
    const v = rest[k + 1];
    switch (rest[k]) {
      case '--runs': a.runs = Number(v); k++; break;
      case '--seconds': k++; break; // npm run bench passes it to every scenario; runs are counted here
      case '--count': a.count = Number(v); k++; break;
      case '--sizes': a.sizes = String(v).split(',').map(Number); k++; break;
      case '--modes': a.modes = String(v).split(',') as Mode[]; k++; break;
      case '--pairs': a.pairs = String(v).split(','); k++; break;
      case '--baseline': a.baseline = path.resolve(String(v)); k++; break;
      case '--idle-seconds': a.idleSeconds = Number(v); k++; break;
      case '--perf': a.perf = path.resolve(String(v)); k++; break;
      default: bad(`unknown argument ${rest[k]}`);
    }
  }
  if (!(Number.isInteger(a.runs) && a.runs >= 1)) bad('--runs wants an integer >= 1');
  if (!(Number.isInteger(a.count) && a.count >= 100)) bad('--count wants an integer >= 100');
  if (a.sizes.some((s) => !(Number.isInteger(s) && s >= 60 && s <= 2048))) bad('--sizes wants sizes in 60..2048 (one buffer)');
  if (a.modes.some((m) => !MODES.includes(m))) bad(`--modes wants some of ${MODES.join(',')}`);
  if (a.pairs.some((p) => !(PAIRS as readonly string[]).includes(p))) bad(`--pairs wants some of ${PAIRS.join(',')}`);
  if (!(a.idleSeconds >= 0)) bad('--idle-seconds wants seconds >= 0');
  if (a.baseline && !fs.existsSync(a.baseline)) bad(`--baseline ${a.baseline} does not exist`);
  return a;
}

interface Case {
  pair: string;
  mode: Mode;
  size: number;
}

interface RunResult {
  rate: number;
  rtt: RttSummary | null;
}

const cRxMode = (m: Mode) => (m === 'polling' ? 'poll' : m);

/** The command of one end: [program, args] pinned to a CPU. */
function end(kind: 'C' | 'TS' | 'base', role: 'echo' | 'roundtrip', c: Case, sock: string, count: number, extra: string[] = []): [string, string[]] {
  const cpu = String(role === 'echo' ? ECHO_CPU : SENDER_CPU);
  const r = role === 'echo' ? 'master' : 'slave';
  if (kind === 'TS') {
    return ['taskset', ['-c', cpu, process.execPath, '--import', 'tsx', peerTs, '--socket', sock, '--role', r, '--mode', role,
      '--rx-mode', c.mode, '--size', String(c.size), '--count', String(count), '--timeout', '10', ...extra]];
  }
  const bin = kind === 'base' ? (args.baseline as string) : args.perf;
  const common = ['--socket', sock, '--role', r, '--rx-mode', cRxMode(c.mode), '--size', String(c.size), '--timeout', '10'];
  const mode = role === 'echo' ? ['--mode', 'echo'] : ['--mode', 'roundtrip', '--window', '1', '--count', String(count), '--json'];
  return ['taskset', ['-c', cpu, bin, ...common, ...mode, ...extra]];
}

function ends(pair: string): ['C' | 'TS' | 'base', 'C' | 'TS' | 'base'] {
  if (pair === 'C-C@base') return ['base', 'base'];
  const [s, e] = pair.split('-') as ['C' | 'TS', 'C' | 'TS'];
  return [s, e];
}

let sockSeq = 0;
const sockName = () => `@nmemif-latency-${process.pid}-${sockSeq++}`;

function collect(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err = (err + d).slice(-4000)));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.on('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** One round trip run of a case; null (with a note on stderr) when it failed. */
async function runCase(c: Case): Promise<RunResult | null> {
  const sock = sockName();
  const [s, e] = ends(c.pair);
  // Echo ends: nmif-perf echoes until the sender disconnects (then --count 0 never ends it: kill);
  // the TS echo stops after --count frames.
  const [ecmd, eargs] = end(e, 'echo', c, sock, args.count);
  const echo = spawn(ecmd, eargs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const echoDone = collect(echo);
  sleepMs(e === 'TS' ? 600 : 100); // the master listens before the slave connects (it retries anyway)
  const [scmd, sargs] = end(s, 'roundtrip', c, sock, args.count);
  const sender = spawn(scmd, sargs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = await collect(sender);
  if (e !== 'TS') echo.kill('SIGTERM');
  await waitExit(echo, 5000);
  const er = await echoDone;
  const line = r.out.split('\n').filter((l) => l.startsWith('{')).pop();
  let j: Record<string, unknown> | null = null;
  try {
    j = line ? JSON.parse(line) : null;
  } catch {
    j = null;
  }
  const ok = j && (j.ok === true) && r.code === 0;
  if (!ok) {
    process.stderr.write(`latency: ${c.pair} ${c.mode} ${c.size} B failed (exit ${r.code}): ${r.err.trim().split('\n').slice(-3).join(' | ')}` +
      ` / echo: ${er.err.trim().split('\n').slice(-2).join(' | ')}\n`);
    return null;
  }
  const rate = s === 'TS' ? Number(j!.round_trips_per_s) : Number(j!.pps);
  return { rate, rtt: (j!.rtt_us as RttSummary | undefined) ?? null };
}

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const stat = (xs: number[]): Stat => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length });
const r2 = (x: number) => Math.round(x * 100) / 100;

/** CPU ticks (utime + stime) of a process. */
function cpuTicks(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** The echo's CPU use (% of one CPU) over idleSeconds of a link that is up but silent. */
async function idleCpu(kind: 'C' | 'TS', mode: Mode): Promise<number | null> {
  const c: Case = { pair: `x-${kind}`, mode, size: 64 };
  const sock = sockName();
  const [ecmd, eargs] = end(kind, 'echo', c, sock, 1_000_000_000);
  const echo = spawn(ecmd, eargs, { stdio: ['ignore', 'ignore', 'pipe'] });
  const echoDone = collect(echo);
  sleepMs(kind === 'TS' ? 600 : 100);
  const [scmd, sargs] = end('C', 'roundtrip', { ...c, mode: 'interrupt' }, sock, 1000, ['--hold', String(args.idleSeconds + 5)]);
  const sender = spawn(scmd, sargs, { stdio: ['ignore', 'ignore', 'pipe'] });
  const senderDone = collect(sender);
  // The sender says "done" once its frames are back; the link then stays up without traffic.
  const done = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 15000);
    let buf = '';
    sender.stderr?.on('data', (d) => {
      buf += d;
      if (buf.includes('nmif-perf: done')) {
        clearTimeout(t);
        resolve(true);
      }
    });
    sender.on('close', () => resolve(false));
  });
  let pct: number | null = null;
  // echo is taskset, which execs the program: same pid.
  if (done && echo.pid !== undefined) {
    sleepMs(500);
    const hz = 100; // USER_HZ
    const t0 = cpuTicks(echo.pid);
    const w0 = performance.now();
    sleepMs(args.idleSeconds * 1000);
    const ticks = cpuTicks(echo.pid) - t0;
    pct = r2((100 * ticks) / hz / ((performance.now() - w0) / 1000));
  }
  sender.kill('SIGTERM');
  await waitExit(sender, 5000);
  echo.kill('SIGTERM');
  await waitExit(echo, 5000);
  await Promise.all([senderDone, echoDone]);
  return pct;
}

const args = parse(process.argv.slice(2));

async function main(): Promise<void> {
  if (!fs.existsSync(args.perf)) throw new Error(`${args.perf} not found: build the tools (node scripts/build-native.js --dev)`);
  if (os.availableParallelism() < 2) process.stderr.write('latency: fewer than 2 CPUs: the ends share one and the figures say little\n');
  const quiet = QuietGate.open('latency', args.quiet);
  const cases: Case[] = [];
  for (const size of args.sizes) {
    for (const mode of args.modes) {
      for (const pair of args.pairs) cases.push({ pair, mode, size });
      if (args.baseline && mode !== 'adaptive') cases.push({ pair: 'C-C@base', mode, size });
    }
  }
  const key = (c: Case) => `${c.pair}|${c.mode}|${c.size}`;
  const results = new Map<string, Array<RunResult | null>>(cases.map((c) => [key(c), []]));
  for (let round = 0; round < args.runs; round++) {
    for (const c of cases) {
      const mark = quiet.runStart();
      const r = await runCase(c);
      quiet.runEnd(mark);
      results.get(key(c))!.push(r);
      process.stderr.write(`latency: round ${round + 1}/${args.runs} ${c.pair} ${c.mode} ${c.size} B: ${r ? `${Math.round(r.rate)} round trips/s${r.rtt ? `, p50 ${r.rtt.p50} µs` : ''}` : 'failed'}\n`);
    }
  }

  const out: LatencyJson['cases'] = [];
  for (const c of cases) {
    const runs = results.get(key(c))!.filter((r): r is RunResult => r !== null);
    if (runs.length === 0) continue;
    const withRtt = runs.filter((r) => r.rtt !== null).map((r) => r.rtt!);
    const row: LatencyJson['cases'][number] = {
      pair: c.pair, mode: c.mode, size: c.size,
      round_trips_per_s: stat(runs.map((r) => r.rate)),
      failed: args.runs - runs.length,
    };
    if (withRtt.length) {
      // Each percentile and each point of the distribution: the median over the rounds.
      row.rtt_us = { p50: median(withRtt.map((x) => x.p50)), p99: median(withRtt.map((x) => x.p99)), p999: median(withRtt.map((x) => x.p999)) };
      row.cdf = withRtt[0].cdf.map(([f], k) => [f, median(withRtt.map((x) => x.cdf[k][1]))] as [number, number]);
    }
    out.push(row);
  }

  // Ratios per round: each pair's round trips/s over C-C's in the same mode and size (C-C@base:
  // ours over the older build's; adaptive TS ends also over C-C interrupt).
  const ratios: NonNullable<LatencyJson['ratios']> = [];
  for (const c of cases) {
    const against: Array<[string, string]> = c.pair === 'C-C@base'
      ? [[`C-C|${c.mode}|${c.size}`, key(c)]]
      : c.pair === 'C-C' ? (c.mode === 'adaptive' ? [[key(c), `C-C|interrupt|${c.size}`]] : [])
        : [[key(c), `C-C|${c.mode}|${c.size}`], ...(c.mode === 'adaptive' ? [[key(c), `C-C|interrupt|${c.size}`] as [string, string]] : [])];
    for (const [n, d] of against) {
      const num = results.get(n);
      const den = results.get(d);
      if (!num || !den) continue;
      const per: number[] = [];
      for (let k = 0; k < args.runs; k++) if (num[k] && den[k]) per.push(num[k]!.rate / den[k]!.rate);
      const name = (x: string) => x.split('|').slice(0, 2).join(' ');
      if (per.length) ratios.push({ what: `${name(n)} over ${name(d)}`, mode: c.mode, size: c.size, per_round: stat(per.map(r2)) });
    }
  }

  const idle: NonNullable<LatencyJson['idle_cpu']> = [];
  if (args.idleSeconds > 0) {
    for (const [kind, mode] of [['TS', 'interrupt'], ['TS', 'adaptive'], ['TS', 'polling'], ['C', 'interrupt'], ['C', 'adaptive'], ['C', 'polling']] as const) {
      if (!args.modes.includes(mode)) continue;
      const pct = await idleCpu(kind, mode);
      idle.push({ end: `${kind} echo`, mode, seconds: args.idleSeconds, cpu_pct_of_one_cpu: pct });
      process.stderr.write(`latency: idle ${kind} echo, ${mode}: ${pct === null ? 'not measured' : `${pct} % of one CPU`} over ${args.idleSeconds} s of silence\n`);
    }
  }

  for (const r of out) {
    process.stdout.write(`${r.pair.padEnd(9)} ${r.mode.padEnd(9)} ${String(r.size).padStart(4)} B  ` +
      `${Math.round(r.round_trips_per_s!.median)} round trips/s [${Math.round(r.round_trips_per_s!.min)}..${Math.round(r.round_trips_per_s!.max)}]` +
      (r.rtt_us ? `  rtt p50 ${r.rtt_us.p50} p99 ${r.rtt_us.p99} p99.9 ${r.rtt_us.p999} µs` : '') + (r.failed ? `  (${r.failed} failed)` : '') + '\n');
  }
  for (const x of ratios) process.stdout.write(`ratio ${x.what}, ${x.size} B: per-round median ${x.per_round.median} [${x.per_round.min}..${x.per_round.max}]\n`);
  const summary: LatencyJson = { bench: 'latency', machine: machine(), cases: out, ratios, idle_cpu: idle, quiet: quiet.record() };
  process.stdout.write(`${summary.quiet!.verdict}\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (out.length === 0) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`latency: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
