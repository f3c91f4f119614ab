/**
 * The lwIP stack over memif between two processes against Node's dgram/net over the kernel's
 * loopback, side by side in one run (issue 9's targets: UDP one-way >= 5x dgram, UDP round
 * trip p50 <= half of the kernel's; TCP as measured).
 *
 *   node --import tsx bench/lwip-udp.ts [--runs 5] [--seconds 2] [--size 64] [--cases a,b]
 *                                       [--busy-poll-us N] [--pin] [--json FILE]
 *
 * Cases, each with two child processes of this file (a receiving end, then a sending end):
 *   udp-oneway  the sender sends SIZE-byte datagrams, 256 per turn of its loop, for S seconds;
 *               rate = datagrams the receiver got / time from its first to its last one
 *   udp-echo    one datagram in flight: the client sends, the server echoes, S seconds;
 *               round trips/s and latency p50/p99 (µs) at the client
 *   tcp-stream  one connection, the sender writes 64 KiB chunks for S seconds; rate = bytes
 *               the receiver got / its first-to-last span
 * Planes:
 *   lwip    two lwIP stacks (src/nstack/stacks/lwip.ts) on a memif pair, 10.80.0.1 <-> .2,
 *           driven through the StackModule operations (recvBatch for UDP receive)
 *   kernel  node:dgram and node:net on 127.0.0.1
 * --busy-poll-us N: the lwIP stacks' busyPollUs (default 0). --pin: the receiving end runs on
 * CPU 0 and the sending end on CPU 1 (taskset), both planes.
 * Runs interleave (lwip first on even runs, kernel first on odd ones); the summary gives the
 * median [min..max] of each, and the ratios lwip/kernel of the medians. Last stdout line: JSON.
 * Children are bounded by timeouts and ended by their pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { MemifSocket } from '../src/memif/socket';
import { machine } from './lib/machine';
import { QuietGate, QUIET_USAGE, quietArgsOrExit } from './lib/quiet';
import { createLwipStack } from '../src/nstack/stacks/lwip';

type Plane = 'lwip' | 'kernel';
const CASES = ['udp-oneway', 'udp-echo', 'tcp-stream'] as const;
type Case = (typeof CASES)[number];

function arg(argv: string[], name: string, def: string): string {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? def : argv[i + 1];
}

function emit(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

// ---- the children ---------------------------------------------------------------------------

interface End {
  /** Sends one datagram / bytes; UDP returns nothing useful, TCP the bytes taken. */
  close(): void;
}

/** An lwIP stack on one end of the memif pair; the server end is the master. The client
 * returns once its link is up. */
async function lwipEnd(sockPath: string, server: boolean) {
  const sock = new MemifSocket({ path: sockPath, reconnectMinMs: 20, reconnectMaxMs: 100 });
  const iface = sock.createInterface({ role: server ? 'master' : 'slave', id: 1 });
  const busyPollUs = Number(arg(process.argv, 'busy-poll-us', '0'));
  const stack = createLwipStack({ interfaces: [{ memif: iface, ip: server ? '10.80.0.1/24' : '10.80.0.2/24' }], busyPollUs });
  // The server's link comes up when the client arrives.
  while (!server && !stack.interfaces[0].up) await sleep(2);
  return { stack, close: () => { stack.close(); sock.close(); } };
}

const SERVER = { address: '10.80.0.1', port: 9000, family: 4 as const };
const LOOP = '127.0.0.1';

function onLine(cb: (line: string) => void): void {
  readline.createInterface({ input: process.stdin }).on('line', (l) => cb(l.trim()));
}

/** Receives datagrams until told to report: {count, spanMs}. */
async function udpSink(plane: Plane, sockPath: string, port: number): Promise<void> {
  let count = 0;
  let first = 0;
  let last = 0;
  const seen = (n: number) => {
    const now = performance.now();
    if (count === 0) first = now;
    last = now;
    count += n;
  };
  let end: End;
  if (plane === 'kernel') {
    const s = dgram.createSocket('udp4');
    s.on('message', () => seen(1));
    await new Promise<void>((r) => s.bind(port, LOOP, r));
    end = { close: () => s.close() };
  } else {
    const e = await lwipEnd(sockPath, true);
    const list = { data: new Uint8Array(256 * 2048), offsets: new Uint32Array(256), lengths: new Uint32Array(256), addresses: [], count: 0, pending: 0 };
    let scheduled = false;
    const drain = () => {
      scheduled = false;
      let n;
      while ((n = e.stack.recvBatch(u, list)) > 0) seen(n);
    };
    const u = e.stack.socket('udp', 4, { notify: () => { if (!scheduled) { scheduled = true; setImmediate(drain); } } });
    e.stack.bind(u, SERVER);
    end = e;
  }
  emit({ event: 'ready' });
  onLine((l) => {
    if (l !== 'report') return;
    emit({ event: 'result', count, spanMs: last - first });
    end.close();
    process.exit(0);
  });
}

/** Sends SIZE-byte datagrams, 256 per turn, for `seconds`. */
async function udpSource(plane: Plane, sockPath: string, port: number, seconds: number, size: number): Promise<void> {
  const data = new Uint8Array(size).fill(0x5a);
  let send: () => void;
  let end: End;
  if (plane === 'kernel') {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, LOOP, r));
    s.connect(port, LOOP);
    await new Promise((r) => s.once('connect', r));
    send = () => s.send(data);
    end = { close: () => s.close() };
  } else {
    const e = await lwipEnd(sockPath, false);
    const u = e.stack.socket('udp', 4, { notify: () => {} });
    e.stack.connect(u, SERVER);
    send = () => e.stack.send(u, data);
    end = e;
    send(); // ARP before the clock starts
    await sleep(100);
  }
  emit({ event: 'ready' });
  let sent = 0;
  const stop = performance.now() + seconds * 1000;
  while (performance.now() < stop) {
    for (let i = 0; i < 256; i++) send();
    sent += 256;
    await turn();
  }
  await sleep(200);
  emit({ event: 'result', sent });
  end.close();
  process.exit(0);
}

async function udpEcho(plane: Plane, sockPath: string, port: number): Promise<void> {
  if (plane === 'kernel') {
    const s = dgram.createSocket('udp4');
    s.on('message', (m, r) => s.send(m, r.port, r.address));
    await new Promise<void>((r) => s.bind(port, LOOP, r));
  } else {
    const e = await lwipEnd(sockPath, true);
    const list = { data: new Uint8Array(64 * 2048), offsets: new Uint32Array(64), lengths: new Uint32Array(64), addresses: [] as never[], count: 0, pending: 0 };
    // Echoed from the notify itself: the reply leaves in the same turn (flushed after it).
    const u = e.stack.socket('udp', 4, {
      notify: () => {
        while (e.stack.recvBatch(u, list) > 0) {
          for (let i = 0; i < list.count; i++) e.stack.send(u, list.data.subarray(list.offsets[i], list.offsets[i] + list.lengths[i]), list.addresses[i]);
        }
      },
    });
    e.stack.bind(u, SERVER);
  }
  emit({ event: 'ready' });
  onLine((l) => l === 'exit' && process.exit(0));
}

/** One datagram in flight for `seconds`: round trips and latency percentiles. */
async function udpPing(plane: Plane, sockPath: string, port: number, seconds: number, size: number): Promise<void> {
  const data = new Uint8Array(size).fill(0x33);
  const rtts: number[] = [];
  let sentAt = 0;
  let stopAt = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let send: () => void;
  let started = false;
  const got = () => {
    if (!started) return; // a warm-up reply
    const now = performance.now();
    rtts.push(now - sentAt);
    if (now >= stopAt) return done();
    sentAt = now;
    send();
  };
  if (plane === 'kernel') {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, LOOP, r));
    s.connect(port, LOOP);
    await new Promise((r) => s.once('connect', r));
    s.on('message', got);
    send = () => s.send(data);
  } else {
    const e = await lwipEnd(sockPath, false);
    const into = new Uint8Array(2048);
    const u = e.stack.socket('udp', 4, {
      notify: () => {
        while (e.stack.recv(u, into) !== null) got();
      },
    });
    e.stack.connect(u, SERVER);
    send = () => e.stack.send(u, data);
    // warm-up: ARP both ways
    send();
    await sleep(200);
    while (e.stack.recv(u, into) !== null);
  }
  started = true;
  stopAt = performance.now() + seconds * 1000;
  sentAt = performance.now();
  send();
  await finished;
  const sorted = Float64Array.from(rtts).sort();
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] * 1000;
  emit({ event: 'result', roundTrips: rtts.length, perSecond: rtts.length / seconds, p50us: pct(50), p99us: pct(99) });
  process.exit(0);
}

async function tcpSink(plane: Plane, sockPath: string, port: number): Promise<void> {
  let bytes = 0;
  let first = 0;
  let last = 0;
  const seen = (n: number) => {
    const now = performance.now();
    if (bytes === 0) first = now;
    last = now;
    bytes += n;
  };
  if (plane === 'kernel') {
    const server = net.createServer((c) => c.on('data', (d: Buffer) => seen(d.length)));
    await new Promise<void>((r) => server.listen(port, LOOP, r));
  } else {
    const e = await lwipEnd(sockPath, true);
    const buf = new Uint8Array(256 * 1024);
    let conn: unknown = null;
    const l = e.stack.socket('tcp', 4, {
      notify: () => {
        const a = e.stack.accept(l, {
          notify: () => {
            try {
              for (;;) {
                const r = e.stack.recv(conn, buf);
                if (r === null || r.bytes === 0) break;
                seen(r.bytes);
              }
            } catch {
              // the sender went away: what arrived is counted
            }
          },
        });
        if (a !== null) conn = a.socket;
      },
    });
    e.stack.bind(l, SERVER);
    e.stack.listen(l, 4);
  }
  emit({ event: 'ready' });
  onLine((line) => {
    if (line !== 'report') return;
    emit({ event: 'result', bytes, spanMs: last - first });
    process.exit(0);
  });
}

async function tcpSource(plane: Plane, sockPath: string, port: number, seconds: number): Promise<void> {
  const chunk = new Uint8Array(64 * 1024).fill(0x77);
  let sent = 0;
  let stopAt = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  if (plane === 'kernel') {
    const c = net.connect(port, LOOP);
    await new Promise((r) => c.once('connect', r));
    stopAt = performance.now() + seconds * 1000;
    const write = () => {
      while (performance.now() < stopAt) {
        sent += chunk.length;
        if (!c.write(chunk)) return void c.once('drain', write);
      }
      c.end(done);
    };
    write();
  } else {
    const e = await lwipEnd(sockPath, false);
    let connected = false;
    let off = 0;
    const pumpOut = () => {
      if (!connected) return;
      for (;;) {
        if (performance.now() >= stopAt) {
          e.stack.shutdown(s, 'write');
          return done();
        }
        const n = e.stack.send(s, chunk.subarray(off));
        if (n === 0) return;
        sent += n;
        off = (off + n) % chunk.length;
      }
    };
    const s = e.stack.socket('tcp', 4, {
      notify: (ev: number) => {
        if (!connected && ev & 4) {
          connected = true;
          stopAt = performance.now() + seconds * 1000;
        }
        pumpOut();
      },
    });
    e.stack.connect(s, SERVER);
  }
  await finished;
  await sleep(200);
  emit({ event: 'result', sent });
  process.exit(0);
}

async function child(argv: string[]): Promise<void> {
  const role = arg(argv, 'child', '');
  const plane = arg(argv, 'plane', 'lwip') as Plane;
  const sockPath = arg(argv, 'path', '');
  const port = Number(arg(argv, 'port', '9000'));
  const seconds = Number(arg(argv, 'seconds', '2'));
  const size = Number(arg(argv, 'size', '64'));
  const limit = setTimeout(() => process.exit(3), (seconds + 60) * 1000);
  limit.unref();
  if (role === 'udp-sink') return udpSink(plane, sockPath, port);
  if (role === 'udp-source') return udpSource(plane, sockPath, port, seconds, size);
  if (role === 'udp-echo') return udpEcho(plane, sockPath, port);
  if (role === 'udp-ping') return udpPing(plane, sockPath, port, seconds, size);
  if (role === 'tcp-sink') return tcpSink(plane, sockPath, port);
  if (role === 'tcp-source') return tcpSource(plane, sockPath, port, seconds);
  throw new Error(`unknown child role ${role}`);
}

// ---- the parent ---------------------------------------------------------------------------

class Child {
  readonly proc: ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  #waiters: Array<() => void> = [];
  err = '';

  constructor(args: string[], cpu: number | null) {
    const node = [process.execPath, '--import', 'tsx', __filename, ...args];
    const [cmd, ...rest] = cpu === null ? node : ['taskset', '-c', String(cpu), ...node];
    this.proc = spawn(cmd, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l));
      } catch {
        return;
      }
      for (const w of this.#waiters.splice(0)) w();
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    this.proc.stdin!.on('error', () => {});
    this.proc.on('exit', () => {
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  async next(event: string, ms: number): Promise<Record<string, unknown>> {
    const end = performance.now() + ms;
    for (;;) {
      const i = this.lines.findIndex((l) => l.event === event);
      if (i >= 0) return this.lines.splice(i, 1)[0];
      if (this.proc.exitCode !== null || performance.now() > end) throw new Error(`no "${event}" from child: ${this.err.slice(-800)}`);
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), sleep(Math.max(1, end - performance.now()))]);
    }
  }

  send(line: string): void {
    this.proc.stdin!.write(`${line}\n`);
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.pid !== undefined) process.kill(this.proc.pid, 'SIGKILL');
  }
}

interface Figures {
  value: number;
  p50us?: number;
  p99us?: number;
}

let portSeq = 9100 + (process.pid % 500);

interface Options {
  seconds: number;
  size: number;
  busyPollUs: number;
  pin: boolean;
}

async function runCase(c: Case, plane: Plane, o: Options, dir: string): Promise<Figures> {
  const { seconds, size } = o;
  const sockPath = path.join(dir, `m${portSeq}.sock`);
  const port = portSeq++;
  const common = ['--plane', plane, '--path', sockPath, '--port', String(port), '--seconds', String(seconds), '--size', String(size), '--busy-poll-us', String(o.busyPollUs)];
  const [rx, tx] = c === 'udp-oneway' ? ['udp-sink', 'udp-source'] : c === 'udp-echo' ? ['udp-echo', 'udp-ping'] : ['tcp-sink', 'tcp-source'];
  const a = new Child(['--child', rx, ...common], o.pin ? 0 : null);
  let b: Child | null = null;
  try {
    await a.next('ready', 30_000);
    b = new Child(['--child', tx, ...common], o.pin ? 1 : null);
    const res = await b.next('result', (seconds + 40) * 1000);
    if (c === 'udp-echo') return { value: res.perSecond as number, p50us: res.p50us as number, p99us: res.p99us as number };
    a.send('report');
    const r = await a.next('result', 10_000);
    const amount = (c === 'udp-oneway' ? r.count : r.bytes) as number;
    return { value: amount / ((r.spanMs as number) / 1000) };
  } finally {
    a.send('exit');
    a.kill();
    b?.kill();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function parent(args: string[]): Promise<void> {
  const { quiet: quietOptions, rest: argv } = quietArgsOrExit(args, 'bench/lwip-udp', `usage: node --import tsx bench/lwip-udp.ts [--runs 5] [--seconds 2] [--size 64] [--cases a,b]\n${QUIET_USAGE}`);
  const quiet = QuietGate.open('lwip', quietOptions);
  const runs = Number(arg(argv, 'runs', '5'));
  const seconds = Number(arg(argv, 'seconds', '2'));
  const size = Number(arg(argv, 'size', '64'));
  const cases = arg(argv, 'cases', CASES.join(',')).split(',') as Case[];
  const jsonFile = arg(argv, 'json', '');
  const o: Options = { seconds, size, busyPollUs: Number(arg(argv, 'busy-poll-us', '0')), pin: argv.includes('--pin') };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-bench-lwip-'));
  const all: Record<string, Record<Plane, Figures[]>> = {};
  try {
    for (let run = 0; run < runs; run++) {
      for (const c of cases) {
        const order: Plane[] = run % 2 === 0 ? ['lwip', 'kernel'] : ['kernel', 'lwip'];
        for (const plane of order) {
          const mark = quiet.runStart();
          const f = await runCase(c, plane, o, dir);
          quiet.runEnd(mark);
          ((all[c] ??= { lwip: [], kernel: [] })[plane]).push(f);
          console.log(`run ${run + 1}/${runs} ${c} ${plane}: ${fmt(c, f)}`);
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const quietRecord = quiet.record();
  console.log(quietRecord.verdict);
  const summary: Record<string, unknown> = { bench: 'lwip', machine: machine(), quiet: quietRecord, runs, seconds, size, busyPollUs: o.busyPollUs, pin: o.pin };
  console.log(`\nmedians of ${runs} interleaved runs, ${seconds} s each, ${size}-byte datagrams, busyPollUs ${o.busyPollUs}${o.pin ? ', pinned' : ''}:`);
  for (const c of cases) {
    const m = (p: Plane, k: keyof Figures = 'value') => median(all[c][p].map((f) => f[k] as number));
    const scale = c === 'tcp-stream' ? 1e-6 : 1;
    const digits = c === 'tcp-stream' ? 1 : 0;
    const range = (p: Plane) => `[${(Math.min(...all[c][p].map((f) => f.value)) * scale).toFixed(digits)}..${(Math.max(...all[c][p].map((f) => f.value)) * scale).toFixed(digits)}]`;
    const row: Record<string, unknown> = { lwip: m('lwip'), kernel: m('kernel'), ratio: m('lwip') / m('kernel') };
    let extra = '';
    if (c === 'udp-echo') {
      Object.assign(row, { lwipP50us: m('lwip', 'p50us'), kernelP50us: m('kernel', 'p50us'), lwipP99us: m('lwip', 'p99us'), kernelP99us: m('kernel', 'p99us') });
      extra = `; p50 ${m('lwip', 'p50us').toFixed(0)} vs ${m('kernel', 'p50us').toFixed(0)} µs (${(m('lwip', 'p50us') / m('kernel', 'p50us')).toFixed(2)}x), p99 ${m('lwip', 'p99us').toFixed(0)} vs ${m('kernel', 'p99us').toFixed(0)} µs`;
    }
    const unit = c === 'tcp-stream' ? 'MB/s' : c === 'udp-echo' ? 'round trips/s' : 'datagrams/s';
    console.log(`  ${c.padEnd(11)} lwip ${(m('lwip') * scale).toFixed(digits)} ${range('lwip')}  kernel ${(m('kernel') * scale).toFixed(digits)} ${range('kernel')}  ${unit}  lwip/kernel ${(m('lwip') / m('kernel')).toFixed(2)}x${extra}`);
    summary[c] = row;
  }
  const line = JSON.stringify(summary);
  if (jsonFile) fs.writeFileSync(jsonFile, `${line}\n`);
  console.log(line);
}

function fmt(c: Case, f: Figures): string {
  if (c === 'udp-echo') return `${f.value.toFixed(0)} rt/s, p50 ${f.p50us!.toFixed(0)} µs, p99 ${f.p99us!.toFixed(0)} µs`;
  if (c === 'tcp-stream') return `${(f.value / 1e6).toFixed(1)} MB/s`;
  return `${f.value.toFixed(0)} datagrams/s`;
}

const argv = process.argv.slice(2);
if (argv.includes('--child')) void child(argv);
else void parent(argv).catch((err) => {
  console.error(err);
  process.exit(1);
});
