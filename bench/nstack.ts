/**
 * nStack sockets (issue 9): the same peer code (bench/nstack-peer.ts) on Node's own
 * node:dgram/node:net, on nSockets over the kernel stack, and on nSockets over lwIP between two
 * processes linked by memif, in the same run, interleaved.
 *
 *   node --import tsx bench/nstack.ts [--runs 5] [--seconds 2] [--size 64] [--only node,kernel,lwip] [--json FILE]
 *   npm run bench -- nstack [--runs=5] [--seconds=2] ...
 *
 * Cases (each peer is its own process; kernel cases over 127.0.0.1, lwIP over 10.77.0.0/24):
 *   udp one-way   udp-blast sends --size B datagrams for --seconds (at most 256 sends waiting
 *                 for their callback); udp-sink counts. Figure: datagrams/s received (first to
 *                 last), with the share lost.
 *   udp echo      udp-ping sends one datagram, waits for its echo, sends the next (udp-echo
 *                 answers). Figure: round trips/s, p50 and p99 round trip.
 *   tcp stream    tcp-send writes 64 KiB chunks for --seconds as fast as backpressure lets it;
 *                 tcp-sink counts. Figure: MB/s received.
 * Each round runs every case for every implementation, the implementations' order rotating
 * from round to round; the table gives medians [min..max] and the ratio of medians to node's.
 * lwIP rows say "lwIP not available (why)" while the lwIP stack is not built in. Every child
 * is bounded by a timeout and ended by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lwipMissing } from '../examples/lib/lwip';
import { machine } from './lib/machine';
import { QuietGate, QUIET_USAGE, quietArgsOrExit } from './lib/quiet';

const root = path.resolve(__dirname, '..');
const peerFile = path.join(__dirname, 'nstack-peer.ts');

const USAGE = `usage: node --import tsx bench/nstack.ts [options]
  --runs N        rounds (default 5)
  --seconds S     length of each measurement (default 2)
  --size N        UDP datagram size in bytes (default 64)
  --only LIST     implementations to run, of node,kernel,lwip (default all)
  --json FILE     also write the JSON summary to FILE
  --help          this text`;

type ImplName = 'node' | 'kernel' | 'lwip';
type CaseName = 'udp one-way' | 'udp echo' | 'tcp stream';

interface Args {
  runs: number;
  seconds: number;
  size: number;
  only: ImplName[];
  json: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 5, seconds: 2, size: 64, only: ['node', 'kernel', 'lwip'], json: null };
  for (let i = 0; i < argv.length; i++) {
    // --key value, or --key=value (what `npm run bench -- nstack --runs=3` passes through)
    const eq = argv[i].indexOf('=');
    const [k, val] = eq > 0 ? [argv[i].slice(0, eq), argv[i].slice(eq + 1)] : [argv[i], argv[i + 1]];
    if (eq > 0) i--;
    if (k === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (k === '--runs') a.runs = Number(val);
    else if (k === '--seconds') a.seconds = Number(val);
    else if (k === '--size') a.size = Number(val);
    else if (k === '--only') a.only = val.split(',') as ImplName[];
    else if (k === '--json') a.json = val;
    else {
      console.error(`unknown option ${k}\n${USAGE}`);
      process.exit(2);
    }
    i++;
  }
  if (!(a.runs >= 1 && a.seconds > 0 && a.size >= 1) || a.only.some((n) => !['node', 'kernel', 'lwip'].includes(n))) {
    console.error(USAGE);
    process.exit(2);
  }
  return a;
}

/** A peer process: its stdout, waits on what it prints, a hard time limit. */
class Peer {
  out = '';
  err = '';
  readonly child: ChildProcess;
  readonly done: Promise<number | null>;

  constructor(args: string[], limitMs: number) {
    this.child = spawn(process.execPath, ['--import', 'tsx', peerFile, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    const limit = setTimeout(() => this.kill('SIGKILL'), limitMs);
    this.done = new Promise((resolve) => this.child.on('close', (code) => (clearTimeout(limit), resolve(code))));
  }

  async ready(ms: number): Promise<number> {
    const end = performance.now() + ms;
    for (;;) {
      const m = /^ready (\d+)$/m.exec(this.out);
      if (m) return Number(m[1]);
      if (this.child.exitCode !== null || performance.now() > end) throw new Error(`peer not ready: ${this.err.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  json<T>(): T {
    const line = this.out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
    if (line === undefined) throw new Error(`peer printed no result: ${this.err.slice(-500)}`);
    return JSON.parse(line) as T;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, signal);
      } catch {
        // gone already
      }
    }
  }
}

interface Impl {
  name: ImplName;
  server: string[];
  client: string[];
  dst: string;
}

function impls(dir: string): Impl[] {
  const memif = (role: string) => `role=${role},socket=${path.join(dir, 'bench.sock')},id=0`;
  return [
    { name: 'node', server: ['--api', 'node'], client: ['--api', 'node'], dst: '127.0.0.1' },
    { name: 'kernel', server: ['--api', 'nstack', '--stack', 'kernel'], client: ['--api', 'nstack', '--stack', 'kernel'], dst: '127.0.0.1' },
    {
      name: 'lwip',
      server: ['--api', 'nstack', '--stack', 'lwip', '--memif', memif('server'), '--ip', '10.77.0.1/24', '--bind', '10.77.0.1'],
      client: ['--api', 'nstack', '--stack', 'lwip', '--memif', memif('client'), '--ip', '10.77.0.2/24'],
      dst: '10.77.0.1',
    },
  ];
}

/** One measurement: a server role, a client role, figures from their JSON. */
async function measure(impl: Impl, c: CaseName, a: Args): Promise<Record<string, number>> {
  const [serverRole, clientRole] = c === 'udp one-way' ? ['udp-sink', 'udp-blast'] : c === 'udp echo' ? ['udp-echo', 'udp-ping'] : ['tcp-sink', 'tcp-send'];
  const limit = (a.seconds + 60) * 1000;
  const server = new Peer([...impl.server, '--role', serverRole, '--port', '0'], limit);
  try {
    const port = await server.ready(45_000);
    const client = new Peer([...impl.client, '--role', clientRole, '--dst', impl.dst, '--port', String(port), '--seconds', String(a.seconds), '--size', String(a.size)], limit);
    const code = await client.done;
    if (code !== 0) throw new Error(`${clientRole} exited ${code}: ${client.err.slice(-500)}`);
    const cr = client.json<Record<string, number> & { latency_us?: Record<string, number> }>();
    if (c === 'udp echo') return { value: cr.rate, p50_us: cr.latency_us!.p50, p99_us: cr.latency_us!.p99 };
    await new Promise((r) => setTimeout(r, 300)); // the last ones in flight
    server.kill('SIGTERM');
    await server.done;
    const sr = server.json<Record<string, number>>();
    if (c === 'udp one-way') return { value: sr.received / sr.seconds, loss_pct: cr.sent > 0 ? (100 * (cr.sent - sr.received)) / cr.sent : 0 };
    return { value: sr.bytes / sr.seconds / 1e6 };
  } finally {
    server.kill('SIGKILL');
    await server.done;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const { quiet: quietOptions, rest } = quietArgsOrExit(process.argv.slice(2), 'bench/nstack', `${USAGE}\n${QUIET_USAGE}`);
  const a = parseArgs(rest);
  const quiet = QuietGate.open('nstack', quietOptions);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nstack-bench-'));
  const lwipWhy = a.only.includes('lwip') ? lwipMissing() : null;
  const chosen = impls(dir).filter((i) => a.only.includes(i.name) && !(i.name === 'lwip' && lwipWhy !== null));
  const cases: CaseName[] = ['udp one-way', 'udp echo', 'tcp stream'];
  const results = new Map<string, Array<Record<string, number>>>();
  const failures = new Map<string, string[]>();
  const key = (c: CaseName, i: ImplName) => `${c}|${i}`;
  console.log(`nstack bench: ${a.runs} rounds x ${a.seconds} s, UDP ${a.size} B, implementations ${chosen.map((i) => i.name).join(', ')}`);
  try {
    for (let round = 0; round < a.runs; round++) {
      const order = chosen.map((_, k) => chosen[(k + round) % chosen.length]);
      for (const c of cases) {
        for (const impl of order) {
          try {
            const mark = quiet.runStart();
            const r = await measure(impl, c, a);
            quiet.runEnd(mark);
            (results.get(key(c, impl.name)) ?? results.set(key(c, impl.name), []).get(key(c, impl.name))!).push(r);
            process.stdout.write(`  round ${round + 1} ${c.padEnd(12)} ${impl.name.padEnd(7)} ${JSON.stringify(r)}\n`);
          } catch (err) {
            (failures.get(key(c, impl.name)) ?? failures.set(key(c, impl.name), []).get(key(c, impl.name))!).push((err as Error).message);
            process.stdout.write(`  round ${round + 1} ${c} ${impl.name}: failed: ${(err as Error).message.split('\n')[0]}\n`);
          }
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const unit: Record<CaseName, string> = { 'udp one-way': 'datagrams/s', 'udp echo': 'round trips/s', 'tcp stream': 'MB/s' };
  const quietRecord = quiet.record();
  console.log(quietRecord.verdict);
  const summary: Record<string, unknown> = { bench: 'nstack', machine: machine(), quiet: quietRecord, runs: a.runs, seconds: a.seconds, size: a.size, lwip: lwipWhy === null ? 'available' : `not available (${lwipWhy})` };
  console.log(`\nmedians [min..max] of ${a.runs} rounds; ratio = median / node's median`);
  for (const c of cases) {
    console.log(`\n${c} (${unit[c]})`);
    const nodeRuns = results.get(key(c, 'node'));
    const nodeMedian = nodeRuns ? median(nodeRuns.map((r) => r.value)) : NaN;
    for (const name of ['node', 'kernel', 'lwip'] as ImplName[]) {
      if (!a.only.includes(name)) continue;
      const label = name === 'node' ? 'node:dgram/net' : name === 'kernel' ? 'nstack kernel' : 'nstack lwIP/memif';
      if (name === 'lwip' && lwipWhy !== null) {
        console.log(`  ${label.padEnd(18)} lwIP not available (${lwipWhy})`);
        continue;
      }
      const runs = results.get(key(c, name)) ?? [];
      const failed = failures.get(key(c, name))?.length ?? 0;
      if (runs.length === 0) {
        console.log(`  ${label.padEnd(18)} no result (${failed} failed)`);
        continue;
      }
      const vals = runs.map((r) => r.value);
      const m = median(vals);
      const row: Record<string, number> = { median: m, min: Math.min(...vals), max: Math.max(...vals), runs: runs.length, failed };
      let extra = '';
      if (c === 'udp echo') {
        row.p50_us = median(runs.map((r) => r.p50_us));
        row.p99_us = median(runs.map((r) => r.p99_us));
        extra = `  p50 ${row.p50_us.toFixed(0)} us  p99 ${row.p99_us.toFixed(0)} us`;
      }
      if (c === 'udp one-way') {
        row.loss_pct = median(runs.map((r) => r.loss_pct));
        extra = `  lost ${row.loss_pct.toFixed(1)}%`;
      }
      if (name !== 'node' && Number.isFinite(nodeMedian)) row.ratio = m / nodeMedian;
      const fmt = (x: number) => (c === 'tcp stream' ? x.toFixed(0) : Math.round(x).toString());
      console.log(
        `  ${label.padEnd(18)} ${fmt(m).padStart(8)} [${fmt(row.min)}..${fmt(row.max)}]${row.ratio !== undefined ? `  ${row.ratio.toFixed(2)}x` : ''}${extra}${failed ? `  (${failed} failed)` : ''}`,
      );
      summary[key(c, name)] = row;
    }
  }
  if (a.json !== null) fs.writeFileSync(a.json, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(JSON.stringify(summary));
}

void main();
