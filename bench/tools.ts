/**
 * The tools against the C core's own generator (issue 13), in the same run, interleaved.
 *
 *   node --import tsx bench/tools.ts [--runs 5] [--seconds 3] [--sizes 64,1500] [--burst 64] [--json FILE] [--force]
 *
 * Cases, for each frame size S:
 *   send  `nmemif-sender --proto udp --size S` vs `nmif-perf --mode send --size S`, each the
 *         client of the same kind of sink (`nmif-perf --mode recv`, server); rate = the
 *         sender's own frames sent / its own duration (both count what the ring took, from
 *         their first frame), checked against what the sink received.
 *   echo  `nmemif-responder` (client: zero-copy swap) vs `nmif-perf --mode echo --zero-copy`,
 *         each behind the same driver, `nmemif-sender --proto icmp --window 0 --size S` (server,
 *         as fast as it can); rate = frames that came back to the driver / the driver's
 *         duration. The responder's answers are checked by the driver (matched replies), the
 *         echoed requests of nmif-perf are not (rx_other), so the driver works harder for the
 *         responder. `answered` = frames back / frames sent: whether the echo keeps up.
 *   icmp  `nmemif-sender --proto icmp` with its default window behind `nmemif-responder`:
 *         replies per second and the share answered (every request, when it keeps up).
 * Same ring (1024 slots), buffer size (2048) and burst everywhere. Rounds alternate which side
 * goes first; medians [min..max] and ratios (of the medians, and the median of the per-round
 * ratios). Every child is bounded in time and ended by its pid. It refuses to run on a busy
 * machine unless --force (bench/lib/quiet.ts); the JSON (ToolsJson in bench/report/shapes.ts)
 * says how busy it was. Last stdout line: one JSON.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kill, lastJson, listening, sleep, start, tail, type Child } from './lib/children';
import { argParser } from './lib/args';
import { machine } from './lib/machine';
import { QuietGate, QUIET_USAGE, quietArgsOrExit, type QuietOptions } from './lib/quiet';
import type { Stat, ToolsJson } from './report/shapes';

const root = path.resolve(__dirname, '..');
const perfBin = path.join(root, 'build', 'native', 'libmemif', 'tools', 'nmif-perf');
const senderBin = path.join(root, 'bin', 'nmemif-sender.js');
const responderBin = path.join(root, 'bin', 'nmemif-responder.js');

interface Args {
  runs: number;
  seconds: number;
  sizes: number[];
  burst: number;
  json: string | null;
  quiet: QuietOptions;
}

const USAGE = `usage: node --import tsx bench/tools.ts [options]
  --runs N        rounds; each runs every case once per side (default 5)
  --seconds S     sending time per run (default 3)
  --sizes A,B     frame sizes, 60..9000 (default 64,1500)
  --burst N       burst of every tool (default 64)
  --json FILE     also write the JSON summary to FILE
${QUIET_USAGE}
  --help          this text`;

const { fail, num } = argParser('bench/tools', USAGE);

function parseArgs(args: string[]): Args {
  const { quiet, rest: argv } = quietArgsOrExit(args, 'bench/tools', USAGE);
  const o: Args = { runs: 5, seconds: 3, sizes: [64, 1500], burst: 64, json: null, quiet };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    switch (a) {
      case '--runs': o.runs = Math.round(num(a, argv[++k], 1, 100)); break;
      case '--seconds': o.seconds = num(a, argv[++k], 0.5, 600); break;
      case '--sizes': o.sizes = String(argv[++k] ?? '').split(',').map((s) => Math.round(num(a, s, 60, 9000))); break;
      case '--burst': o.burst = Math.round(num(a, argv[++k], 1, 256)); break;
      case '--json': o.json = argv[++k] ?? fail('--json wants a file'); break;
      case '--help': case '-h': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default: fail(`unknown argument '${a}'\n${USAGE}`);
    }
  }
  return o;
}

function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

type Kind = 'send' | 'echo' | 'icmp';
/** The commands as a user types them (the `tool` of ToolsJson). */
const TOOL = {
  sender: 'nmemif-sender --proto udp',
  perfSend: 'nmif-perf --mode send',
  responder: 'nmemif-responder',
  perfEcho: 'nmif-perf --mode echo --zero-copy',
  senderIcmp: 'nmemif-sender --proto icmp (window 512) + nmemif-responder',
} as const;
type Tool = (typeof TOOL)[keyof typeof TOOL];

interface RunResult {
  pps: number;
  /** echo, icmp: frames back / frames sent. */
  answered?: number;
  /** send: CPU time of the generator per frame, ns. */
  cpuNs?: number;
  othersPct?: number;
  error?: string;
}

const bad = (error: string): RunResult => ({ pps: NaN, error });
const MEMIF = 'rsize=10,bsize=2048';

async function waitListening(sock: string, who: Child, name: string): Promise<string | null> {
  const t0 = Date.now();
  while (!listening(fs, sock)) {
    if (who.exited) return `${name} exited before listening:\n${tail(who.err + who.out)}`;
    if (Date.now() - t0 > 30_000) return `${name} does not listen on ${sock} after 30 s:\n${tail(who.err + who.out)}`;
    await sleep(20);
  }
  return null;
}

/** One run of one tool; every child started here is ended here. */
async function runOne(tool: Tool, size: number, o: Args): Promise<RunResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-tbench-'));
  const sock = path.join(dir, 'memif.sock');
  const limit = o.seconds + 60;
  const kids: Child[] = [];
  const spawn = (cmd: string, args: string[]) => {
    const c = start(cmd, args, limit, root);
    kids.push(c);
    return c;
  };
  const node = (bin: string, args: string[]) => spawn(process.execPath, [bin, ...args]);
  const burst = String(o.burst);
  try {
    if (tool === TOOL.sender || tool === TOOL.perfSend) {
      const sink = spawn(perfBin, ['--role', 'master', '--socket', sock, '--rsize', '10', '--bsize', '2048', '--burst', burst, '--mode', 'recv', '--timeout', String(limit), '--json']);
      const notUp = await waitListening(sock, sink, 'the sink');
      if (notUp) return bad(notUp);
      const timeFile = path.join(dir, 'time');
      const gen = tool === TOOL.sender
        ? node(senderBin, ['--memif', `role=client,socket=${sock},id=0,${MEMIF}`, '--proto', 'udp', '--size', String(size), '--burst', burst,
          '--dst-mac', '02:00:00:00:00:02', '--duration', String(o.seconds), '--json'])
        : spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, perfBin, '--role', 'slave', '--socket', sock, '--rsize', '10', '--bsize', '2048', '--burst', burst, '--mode', 'send',
          '--size', String(size), '--duration', String(o.seconds), '--json']);
      const code = await gen.done;
      const g = lastJson(gen.out);
      if (!g || code !== 0) return bad(`${tool} exit ${code}:\n${tail(gen.err + gen.out)}`);
      await Promise.race([sink.done, sleep(10_000)]); // it ends when the generator leaves
      const s = lastJson(sink.out);
      const dur = tool === TOOL.sender ? g.duration_s : g.duration;
      if (!s || s.received !== g.sent) return bad(`the sink received ${s?.received} of ${g.sent}:\n${tail(sink.err + sink.out)}`);
      if (!(dur > 0) || !(g.sent > 0)) return bad(`${tool} sent ${g.sent} in ${dur} s`);
      // CPU time per frame: the sender's own (while sending), nmif-perf's whole life (its
      // start and connect are short next to --seconds of sending).
      const cpu = tool === TOOL.sender ? g.cpu_s : fs.readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number).reduce((a, b) => a + b, 0);
      return { pps: g.sent / dur, cpuNs: cpu > 0 ? (cpu * 1e9) / g.sent : undefined };
    }
    // echo and icmp: the driver listens, the echo connects.
    const icmp = tool === TOOL.senderIcmp;
    const driver = node(senderBin, ['--memif', `role=server,socket=${sock},id=0,${MEMIF}`, '--proto', 'icmp', '--size', String(size), '--burst', burst,
      '--window', icmp ? '512' : '0', '--src-ip', '10.9.0.2', '--dst-ip', '10.9.0.1', '--dst-mac', '02:fe:00:00:00:01',
      '--duration', String(o.seconds), '--wait', '1', '--max-loss', String(Number.MAX_SAFE_INTEGER), '--link-timeout', '30', '--json']);
    const notUp = await waitListening(sock, driver, 'the driver');
    if (notUp) return bad(notUp);
    const echo = tool === TOOL.perfEcho
      ? spawn(perfBin, ['--role', 'slave', '--socket', sock, '--rsize', '10', '--bsize', '2048', '--burst', burst, '--mode', 'echo', '--zero-copy', '--timeout', String(limit)])
      : node(responderBin, ['--memif', `role=client,socket=${sock},id=0,mac=02:fe:00:00:00:01,${MEMIF}`, '--ip', '10.9.0.1', '--json']);
    const code = await driver.done;
    const d = lastJson(driver.out);
    if (!d || code !== 0) return bad(`the driver exit ${code}:\n${tail(driver.err + driver.out)}\necho:\n${tail(echo.err + echo.out)}`);
    const back = d.replies + d.rx_other + d.bad_replies + d.duplicates;
    if (!(d.duration_s > 0) || !(d.sent > 0)) return bad(`the driver sent ${d.sent} in ${d.duration_s} s`);
    if (tool !== TOOL.perfEcho && d.bad_replies > 0) return bad(`${d.bad_replies} bad replies from the responder`);
    return { pps: back / d.duration_s, answered: back / d.sent };
  } catch (e) {
    return bad(`${tool}: ${(e as Error).message}`);
  } finally {
    for (const k of kids.reverse()) await kill(k, 3000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const stat = (xs: number[], round = (x: number) => Math.round(x)): Stat | null =>
  xs.length ? { n: xs.length, median: round(median(xs)), min: round(Math.min(...xs)), max: round(Math.max(...xs)) } : null;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const mpps = (x: number) => (x / 1e6).toFixed(2);

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(perfBin)) fail(`${perfBin} not built (npm run build:native)`, 1);
  if (!fs.existsSync(path.join(root, 'dist', 'examples', 'sender.js'))) fail('dist/ not built (npm run build)', 1);
  const env = machine();
  const quiet = QuietGate.open('tools', o.quiet);
  // Each pair: [kind, ours, the C core's (or null: ours alone)].
  const pairs: Array<[Kind, Tool, Tool | null]> = [['send', TOOL.sender, TOOL.perfSend], ['echo', TOOL.responder, TOOL.perfEcho], ['icmp', TOOL.senderIcmp, null]];
  const res = new Map<string, RunResult[]>();
  const key = (t: Tool, size: number) => `${t}|${size}`;
  log(`tools bench: ${o.runs} rounds x ${o.sizes.length} sizes x ${pairs.length} cases, ${o.seconds} s each, burst ${o.burst}`);
  for (let r = 0; r < o.runs; r++) {
    for (const size of o.sizes) {
      for (const [kind, ours, theirs] of pairs) {
        const sides = theirs ? (r % 2 === 0 ? [ours, theirs] : [theirs, ours]) : [ours];
        for (const tool of sides) {
          const mark = quiet.runStart();
          const x = await runOne(tool, size, o);
          x.othersPct = quiet.runEnd(mark);
          if (!res.has(key(tool, size))) res.set(key(tool, size), []);
          res.get(key(tool, size))!.push(x);
          if (x.error) log(`round ${r + 1}/${o.runs} ${kind} ${size} B ${tool}: FAILED: ${x.error}`);
          else log(`round ${r + 1}/${o.runs} ${kind} ${String(size).padStart(4)} B ${tool}: ${mpps(x.pps)} Mpps` +
            `${x.answered !== undefined ? `, ${(100 * x.answered).toFixed(2)} % back` : ''} (others used ${x.othersPct} % of the CPUs)`);
        }
      }
    }
  }

  const cases: ToolsJson['cases'] = [];
  for (const size of o.sizes) {
    for (const [kind, ours, theirs] of pairs) {
      for (const tool of theirs ? [ours, theirs] : [ours]) {
        const all = res.get(key(tool, size)) ?? [];
        const ok = all.filter((x) => !x.error);
        const pps = stat(ok.map((x) => x.pps));
        if (!pps) continue;
        const c: ToolsJson['cases'][number] = { tool, size, kind, pps, failed: all.length - ok.length };
        const answered = ok.filter((x) => x.answered !== undefined).map((x) => x.answered!);
        if (answered.length) c.answered = stat(answered, r3)!;
        const cpu = ok.filter((x) => x.cpuNs !== undefined).map((x) => x.cpuNs!);
        if (cpu.length) c.cpu_ns_per_frame = stat(cpu, (x) => Math.round(x * 10) / 10)!;
        if (tool === ours && theirs) {
          const base = res.get(key(theirs, size)) ?? [];
          const per = all.map((x, k) => x.pps / base[k]?.pps).filter((x) => Number.isFinite(x));
          const theirsPps = stat(base.filter((x) => !x.error).map((x) => x.pps));
          c.vs = theirs;
          if (theirsPps) c.ratio = { of_medians: r3(pps.median / theirsPps.median), per_round: stat(per, r3) };
        }
        cases.push(c);
      }
    }
  }

  const out: string[] = [`\ntools vs the C core's nmif-perf, Mpps: median [min..max] of ${o.runs} runs, ${o.seconds} s each, burst ${o.burst}`];
  out.push(`${'case'.padEnd(10)}${'tool'.padEnd(64)}${'Mpps'.padStart(22)}${'ratio (of medians)'.padStart(20)}${'per-round ratio'.padStart(24)}  back / CPU`);
  const f = (s: Stat, g: (x: number) => string) => `${g(s.median)} [${g(s.min)}..${g(s.max)}]`;
  for (const c of cases) {
    out.push(`${`${c.kind} ${c.size}`.padEnd(10)}${c.tool.padEnd(64)}${(f(c.pps, mpps) + (c.failed ? ` (${c.failed} failed)` : '')).padStart(22)}` +
      `${(c.ratio ? `${c.ratio.of_medians.toFixed(2)}x` : '').padStart(20)}${(c.ratio?.per_round ? f(c.ratio.per_round, (x) => x.toFixed(2)) : '').padStart(24)}` +
      `  ${c.answered ? f(c.answered, (x) => `${(100 * x).toFixed(1)}%`) : ''}${c.cpu_ns_per_frame ? `CPU ${f(c.cpu_ns_per_frame, (x) => x.toFixed(0))} ns/frame` : ''}`);
  }
  out.push('send: frames each generator put in the ring / its own sending time, all received by the sink; CPU = the generator\'s CPU time per frame ' +
    '(all its threads; on a machine shared with other work, the figure that depends least on it). echo: frames back at the ' +
    'nmemif-sender --proto icmp --window 0 driver / its sending time (back = share of what it sent). icmp: the sender with its ' +
    'window; back = replies matched / requests.');
  const quietRecord = quiet.record();
  out.push(quietRecord.verdict);
  process.stdout.write(`${out.join('\n')}\n`);
  const summary: ToolsJson & Record<string, unknown> = { bench: 'tools', machine: env, quiet: quietRecord, runs: o.runs, seconds: o.seconds, burst: o.burst, cases };
  const line = JSON.stringify(summary);
  if (o.json) fs.writeFileSync(o.json, `${line}\n`);
  process.stdout.write(`${line}\n`);
  if (cases.some((c) => c.failed) || cases.length === 0) process.exitCode = 1;
}

void main();
