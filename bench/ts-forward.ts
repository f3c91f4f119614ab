/**
 * TypeScript zero-copy forward vs the C core's own forward loop, same setup, same run.
 *
 * The peer is `nmif-perf --mode send --drain` (master, C): it transmits as fast as the ring
 * allows and counts what comes back, so every forwarder is measured by the same instrument
 * (frames returned per second over the peer's fixed duration). The forwarders are slaves:
 *   ts-swap      this process: rx -> swap (descriptor swap, no bytes moved) -> tx -> refill
 *   ts-macswap   the same, and swaps the MAC addresses of each frame in JS (touches each packet)
 *   c-swap       `nmif-perf --mode echo --zero-copy` (the C core's own loop, nmif_tx_swap)
 * Runs are interleaved (A B C A B C ...), 5 each by default, medians with min/max reported.
 * Frames up to 9216 B: every side gets the buffer size that holds one frame (bench/lib/sizes.ts).
 * Then a 10-million-packet TS run samples heap and RSS growth (the hot path must allocate
 * nothing per packet). It refuses to run on a busy machine unless --force (bench/lib/quiet.ts);
 * the last stdout line is one JSON object (shape: TsForwardJson in bench/report/shapes.ts).
 *
 *   node --import tsx bench/ts-forward.ts [--runs 5] [--seconds 3] [--sizes 64,1500] [--mem-packets 10000000] [--force]
 *   node --import tsx bench/ts-forward.ts --only ts-swap --seconds 10      (e.g. under clinic flame)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemifSocket, PacketBatch } from '../src';
import { machine } from './lib/machine';
import { QuietGate, takeQuietArgs, type QuietOptions } from './lib/quiet';
import { MAX_FRAME, bufferSizeFor } from './lib/sizes';

const root = path.resolve(__dirname, '..');
const perfBin = path.join(root, 'build', 'native', 'libmemif', 'tools', 'nmif-perf');

interface Args {
  runs: number;
  seconds: number;
  sizes: number[];
  memPackets: number;
  only: string | null;
  json: boolean;
  quiet: QuietOptions;
}

function parseArgs(args: string[]): Args {
  const { quiet, rest: argv } = takeQuietArgs(args);
  const a: Args = { runs: 5, seconds: 3, sizes: [64, 1500], memPackets: 10_000_000, only: null, json: false, quiet };
  for (let k = 0; k < argv.length; k++) {
    const v = argv[k + 1];
    switch (argv[k]) {
      case '--runs': a.runs = Number(v); k++; break;
      case '--seconds': a.seconds = Number(v); k++; break;
      case '--sizes': a.sizes = v.split(',').map(Number); k++; break;
      case '--mem-packets': a.memPackets = Number(v); k++; break;
      case '--only': a.only = v; k++; break;
      case '--json': a.json = true; break;
      default: throw new Error(`unknown argument ${argv[k]}`);
    }
  }
  if (a.sizes.some((s) => !(s >= 60 && s <= MAX_FRAME))) throw new Error(`--sizes wants sizes in 60..${MAX_FRAME}`);
  return a;
}

interface PeerResult {
  received: number;
  duration: number;
  pps: number;
}

/** Starts the measuring peer (master) and resolves with its JSON result when it ends. */
function startPeer(sock: string, size: number, seconds: number, count = 0): { done: Promise<PeerResult>; child: ChildProcess } {
  const args = ['--role', 'master', '--socket', sock, '--mode', 'send', '--drain', '--size', String(size), '--bsize', String(bufferSizeFor(size)),
    '--json', '--timeout', '10'];
  if (count) args.push('--count', String(count), '--hold', '2');
  else args.push('--duration', String(seconds));
  const child = spawn(perfBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<PeerResult>((resolve, reject) => {
    child.on('exit', () => {
      try {
        const j = JSON.parse(out.trim().split('\n').pop() ?? '');
        resolve({ received: j.received, duration: j.duration, pps: j.duration > 0 ? j.received / j.duration : 0 });
      } catch {
        reject(new Error(`peer failed: ${err.trim() || out.trim()}`));
      }
    });
  });
  return { done, child };
}

function waitForSocket(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + 5000;
    const poll = (): void => {
      if (fs.existsSync(file)) return resolve();
      if (Date.now() > end) return reject(new Error(`peer socket ${file} never appeared`));
      setTimeout(poll, 5);
    };
    poll();
  });
}

/** Runs a TS forwarder on `sock` until the peer goes away. Returns packets forwarded. */
async function tsForward(sock: string, size: number, touch: boolean, onProgress?: (forwarded: number) => void): Promise<number> {
  const socket = new MemifSocket({ path: sock, reconnectMinMs: 10 });
  const s = socket.createInterface({ role: 'slave', id: 0, rxMode: 'polling', bufferSize: bufferSizeFor(size) });
  const batch = new PacketBatch(256);
  let forwarded = 0;
  let running = true;
  s.removeAllListeners('rx'); // polling mode emits 'rx' each loop turn; we spin on our own
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  const spin = (): void => {
    if (!running || !s.connected) return;
    // A slice of bursts, then back to the event loop for control events.
    for (let k = 0; k < 4096; k++) {
      const n = s.rx(0, batch);
      if (n === 0) continue;
      if (touch) macswapAll(batch, n);
      const m = s.swap(0, 0, batch, n);
      if (m > 0) forwarded += s.tx(0, batch, m);
      s.refill(0, n); // unmoved buffers (tx ring full) are dropped here
    }
    onProgress?.(forwarded);
    setImmediate(spin);
  };
  setImmediate(spin);
  await new Promise<void>((resolve) => s.once('disconnect', () => resolve()));
  running = false;
  socket.close();
  return forwarded;
}

/** Swaps destination and source MAC of every frame in place: per-packet work in JS. */
function macswapAll(batch: PacketBatch, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = batch.regionBytes(i);
    const o = batch.offset(i);
    for (let k = 0; k < 6; k++) {
      const t = r[o + k];
      r[o + k] = r[o + 6 + k];
      r[o + 6 + k] = t;
    }
  }
}

async function cForward(sock: string, size: number): Promise<void> {
  const child = spawn(perfBin, ['--role', 'slave', '--socket', sock, '--mode', 'echo', '--zero-copy', '--bsize', String(bufferSizeFor(size)), '--timeout', '3'],
    { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
}

async function runOnce(kind: string, size: number, seconds: number, dir: string, n: number): Promise<number> {
  const sock = path.join(dir, `${kind}-${size}-${n}.sock`);
  const peer = startPeer(sock, size, seconds);
  await waitForSocket(sock);
  const fwd = kind === 'c-swap' ? cForward(sock, size) : tsForward(sock, size, kind === 'ts-macswap');
  const [res] = await Promise.all([peer.done, fwd]);
  return res.pps;
}

function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const fmt = (pps: number): string => `${(pps / 1e6).toFixed(2)} Mpps`;

async function memoryRun(dir: string, packets: number): Promise<Record<string, number>> {
  const sock = path.join(dir, 'mem.sock');
  const peer = startPeer(sock, 64, 0, packets);
  await waitForSocket(sock);
  let base: NodeJS.MemoryUsage | null = null;
  let baseAt = 0;
  const sample = (fwd: number): void => {
    if (base === null && fwd >= Math.min(1_000_000, packets / 10)) {
      global.gc?.();
      base = process.memoryUsage();
      baseAt = fwd;
    }
  };
  const forwarded = await tsForward(sock, 64, false, sample);
  await peer.done;
  global.gc?.();
  const end = process.memoryUsage();
  const b = base ?? end;
  return {
    forwarded,
    measuredPackets: forwarded - baseAt,
    heapUsedGrowthBytes: end.heapUsed - b.heapUsed,
    rssGrowthBytes: end.rss - b.rss,
    heapUsedEnd: end.heapUsed,
    rssEnd: end.rss,
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(perfBin)) throw new Error(`${perfBin} not found: run npm install (it builds the tools)`);
  const env = machine();
  const quiet = QuietGate.open('ts-forward', args.quiet);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-bench-'));
  const kinds = args.only ? [args.only] : ['ts-swap', 'ts-macswap', 'c-swap'];
  const results: Record<string, Record<string, number[]>> = {};
  try {
    for (const size of args.sizes) {
      results[size] = Object.fromEntries(kinds.map((k) => [k, []]));
      for (let r = 0; r < args.runs; r++) {
        for (const kind of kinds) {
          const mark = quiet.runStart();
          const pps = await runOnce(kind, size, args.seconds, dir, r);
          const others = quiet.runEnd(mark);
          results[size][kind].push(pps);
          if (!args.json) process.stdout.write(`  ${size} B run ${r + 1} ${kind}: ${fmt(pps)} (others used ${others} % of the CPUs)\n`);
        }
      }
    }
    const summary: Record<string, unknown> = { bench: 'ts-forward', machine: env, quiet: null, cpus: os.cpus().length, runs: args.runs, seconds: args.seconds, sizes: {} };
    console.log('\nframe  forwarder    median      min       max     vs c-swap (of medians; per round: median [min..max])');
    for (const size of args.sizes) {
      const row: Record<string, unknown> = {};
      const c = results[size]['c-swap'] ? median(results[size]['c-swap']) : NaN;
      for (const kind of kinds) {
        const v = results[size][kind];
        const m = median(v);
        // Runs of one round are back to back (A B C), so their ratio is the least drifted one.
        const cs = results[size]['c-swap'];
        const perRound = cs ? v.map((x, r) => x / cs[r]) : [];
        const pr = perRound.length ? { median: median(perRound), min: Math.min(...perRound), max: Math.max(...perRound) } : null;
        row[kind] = { median: m, min: Math.min(...v), max: Math.max(...v), ratioToC: m / c, ratioToCPerRound: pr, bufferSize: bufferSizeFor(size) };
        const ratio = Number.isNaN(c) ? '-' : `${(m / c).toFixed(2)}x (${pr!.median.toFixed(2)} [${pr!.min.toFixed(2)}..${pr!.max.toFixed(2)}])`;
        console.log(`${String(size).padStart(5)}  ${kind.padEnd(11)} ${fmt(m).padStart(10)} ${fmt(Math.min(...v)).padStart(10)} ${fmt(Math.max(...v)).padStart(10)}   ${ratio}`);
      }
      (summary.sizes as Record<string, unknown>)[size] = row;
    }
    if (!args.only && args.memPackets > 0) {
      const mem = await memoryRun(dir, args.memPackets);
      summary.memory = mem;
      console.log(
        `\nmemory over ${(mem.measuredPackets / 1e6).toFixed(1)}M forwarded packets (TS swap): ` +
          `heap ${(mem.heapUsedGrowthBytes / 1024).toFixed(0)} KiB, RSS ${(mem.rssGrowthBytes / 1024).toFixed(0)} KiB growth ` +
          `(${((mem.heapUsedGrowthBytes / mem.measuredPackets) || 0).toFixed(4)} heap bytes per packet)`,
      );
    }
    summary.quiet = quiet.record();
    console.log(`\n${(summary.quiet as { verdict: string }).verdict}`);
    console.log(`\n${JSON.stringify(summary)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
