/**
 * The malicious-peer suite against the tools as child processes: every nmif-hostile case, one
 * row of the attack table each (test/helpers/hostile.ts), against
 *  - nmemif-responder as server and as client (answers the peer's ICMP echo requests);
 *  - nmemif-sender as server and as client (UDP at a fixed rate; it answers nothing, so the
 *    good peer is an echo peer that must receive its frames, and the legal frames it was sent
 *    are found whole in its pcap at the end);
 *  - nmif-perf as master, --mode echo and --mode recv --serve (it keeps serving peer after peer);
 *  - nmemif-bridge memif <-> memif, its first port facing the hostile peer in either role, its
 *    second an echo peer: the good peer's frames cross the bridge twice.
 * One test per victim and role, run concurrently (they share nothing); within a test the cases
 * run one after the other against the same victim process.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HOSTILE, PERF, VIOLATION, attack, hostileFrame, attacksFor, runHostile, type Attack, type HostileResult, type Role, type Victim } from './helpers/hostile';
import { abstractName, tempDir } from './helpers/memif';
import { ToolProcess, hasStackTrace } from './helpers/tools';
import { readPcap } from '../examples/lib/pcap';

const ID = 3;
/** The frame size of nmif-hostile's legal cases (its defaults). */
const LEGAL_SIZE: Record<string, number> = { 'long-chain': 300 * 64, jumbo: 9216, 'jumbo-max': 65535 };
/** Every test ends its victims itself; this only bounds one that hangs. */
const LIMIT_MS = 600_000;

function devRole(role: Role): string {
  return role === 'master' ? 'server' : 'client';
}

/** Link-down reasons in a tool's stderr ("<tool>: link down: <reason>"). */
function downsIn(text: string, re: RegExp): string[] {
  return [...text.matchAll(re)].map((m) => m[1]);
}

function toolVictim(p: ToolProcess, role: Role, socket: string, down: RegExp, answers: boolean, extra: Partial<Victim>): Victim {
  return {
    name: p.name,
    role,
    socket,
    id: ID,
    pid: p.pid,
    answers,
    alive: () => p.exit === null,
    downs: () => downsIn(p.stderr, down),
    goodArgs: () => ['good', '--count', '32', '--duration', '15'],
    served: (r) => r.returned === 32,
    describe: () => p.describe(),
    ...extra,
  };
}

async function runAll(t: ExecutionContext, v: Victim): Promise<void> {
  t.true(fs.existsSync(HOSTILE), `${HOSTILE} is built`);
  for (const a of attacksFor(v.role === 'master' ? 'slave' : 'master')) await attack(t, v, a);
}

async function ended(t: ExecutionContext, p: ToolProcess): Promise<void> {
  p.kill('SIGTERM');
  const exit = await p.done;
  t.is(exit.code, 0, p.describe());
  t.false(hasStackTrace(exit.stderr), p.describe());
}

for (const role of ['master', 'slave'] as const) {
  test(`nmemif-responder as ${devRole(role)} against every hostile case`, async (t) => {
    const socket = abstractName('resp');
    const p = new ToolProcess(t, 'nmemif-responder', ['--memif', `role=${devRole(role)},socket=${socket},id=${ID}`, '--ip', '192.168.1.1', '--json'], LIMIT_MS);
    await p.waitFor(/waiting for the link/, 30_000);
    await runAll(t, toolVictim(p, role, socket, /^nmemif-responder: link down: (.*)$/gm, true, {}));
    await ended(t, p);
  });

  test(`nmemif-sender as ${devRole(role)} against every hostile case`, async (t) => {
    const socket = abstractName('send');
    // Every frame it receives goes to the pcap (written out at its end): the legal frames are
    // checked there, whole and byte for byte.
    const pcap = path.join(tempDir(t, 'nmemif-hostile-sender-'), 'rx.pcap');
    const p = new ToolProcess(t, 'nmemif-sender', [
      '--memif', `role=${devRole(role)},socket=${socket},id=${ID}`, '--proto', 'udp', '--rate', '200', '--dst-mac', '02:fe:00:00:00:09',
      '--link-timeout', '600', '--stall-timeout', '60', '--pcap', pcap, '--json',
    ], LIMIT_MS);
    await p.waitFor(/waiting for the link/, 30_000);
    /** Frames of each legal case's size nmif-hostile sent. */
    const legal = new Map<number, number>();
    let echoed = 0;
    const v = toolVictim(p, role, socket, /^nmemif-sender: link down: (.*)$/gm, false, {
      goodArgs: () => ['echo', '--count', '20', '--duration', '15'],
      served: (r: HostileResult) => {
        echoed += r.echoed;
        return r.received_frames >= 20;
      },
      // Checked in the pcap at the end (the sender writes it out then).
      legalCounted: async (tt: ExecutionContext, a: Attack, r: HostileResult) => {
        const size = LEGAL_SIZE[a.name];
        tt.truthy(size, `${a.name}: a frame size to look for`);
        legal.set(size, (legal.get(size) ?? 0) + r.sent_frames);
      },
    });
    await runAll(t, v);
    await ended(t, p);
    const r = p.json<{ rx_other: number; end_reason: string; link_downs: number }>();
    t.log(`nmemif-sender (${devRole(role)}): ${JSON.stringify(r)}`);
    t.is(r.end_reason, 'signal');
    const got = new Map<number, { intact: number; corrupt: number }>();
    for (const rec of readPcap(pcap).records) {
      const kind = hostileFrame(rec.data);
      if (kind === 'other' || !legal.has(rec.data.length)) continue;
      const c = got.get(rec.data.length) ?? { intact: 0, corrupt: 0 };
      if (kind === 'ours-intact') c.intact++;
      else c.corrupt++;
      got.set(rec.data.length, c);
    }
    for (const [size, n] of legal) t.deepEqual(got.get(size), { intact: n, corrupt: 0 }, `the ${n} legal ${size}-byte frames arrived, byte for byte`);
    t.true(r.rx_other >= echoed, `rx_other ${r.rx_other}: the ${echoed} frames the echo peers sent back at least`);
  });
}

/** nmif-perf as master, until SIGTERM; its stderr (events) and stdout (the result). */
function startPerf(t: ExecutionContext, mode: 'echo' | 'recv', extra: string[] = []) {
  const socket = abstractName(`perf-${mode}`);
  const args = ['--role', 'master', '--socket', socket, '--id', String(ID), '--mode', mode, '--timeout', '0', '--json', ...extra];
  const proc = spawn(PERF, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const io = { out: '', err: '' };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (io.out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (io.err += d));
  const limit = setTimeout(() => proc.kill('SIGKILL'), LIMIT_MS);
  const done = new Promise<number | null>((resolve) => proc.on('close', (c) => {
    clearTimeout(limit);
    resolve(c);
  }));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  t.log(`nmif-perf ${args.join(' ')}`);
  const result = () => JSON.parse(io.out.trim().split('\n').pop() || '{}') as { end?: string; received?: number };
  return { proc, socket, io, done, result };
}

function perfVictim(perf: ReturnType<typeof startPerf>, mode: 'echo' | 'recv', legal: { frames: number }): Victim {
  const { proc, io } = perf;
  return {
    name: `nmif-perf --mode ${mode}`,
    role: 'master',
    socket: perf.socket,
    id: ID,
    pid: proc.pid!,
    answers: mode === 'echo',
    alive: () => proc.exitCode === null && proc.signalCode === null,
    downs: () => downsIn(io.err, /^nmif-perf: disconnected: (.*)$/gm),
    // echo: our frames come back; recv: more frames than the ring holds all went in, so it read.
    goodArgs: () => (mode === 'echo' ? ['good', '--count', '32', '--duration', '15'] : ['good', '--count', '3000', '--duration', '3']),
    served: (r) => (mode === 'echo' ? r.returned === 32 : r.sent_frames === 3000),
    // recv: counted in "received" at the end.
    legalCounted: async (tt, a, r) => {
      tt.true(r.sent_frames > 0, `${a.name}: sent`);
      legal.frames += r.sent_frames;
    },
    describe: () => `nmif-perf stderr:\n${io.err.slice(-1500)}`,
  };
}

for (const mode of ['echo', 'recv'] as const) {
  test(`nmif-perf as master --mode ${mode}${mode === 'recv' ? ' --serve' : ''} keeps serving through every hostile case`, async (t) => {
    t.true(fs.existsSync(PERF), `${PERF} is built`);
    const perf = startPerf(t, mode, mode === 'recv' ? ['--serve'] : []);
    const legal = { frames: 0 };
    await runAll(t, perfVictim(perf, mode, legal));
    perf.proc.kill('SIGTERM');
    const code = await perf.done;
    const r = perf.result();
    t.log(`nmif-perf --mode ${mode}: exit ${code}, ${JSON.stringify(r)}`);
    t.is(r.end, 'interrupted', 'it ran until we stopped it');
    if (mode === 'recv') t.true((r.received ?? 0) >= legal.frames + 3000, `received ${r.received}: the ${legal.frames} legal frames and more`);
  });
}

test('nmif-perf as master --mode recv: a peer that breaks the protocol ends its link, not the run', async (t) => {
  const perf = startPerf(t, 'recv');
  const { r } = await runHostile(['--role', 'slave', '--socket', perf.socket, '--id', String(ID), '--case', 'runaway-head', '--duration', '1.5', '--timeout', '30']);
  t.regex(r.disconnect_reason ?? '', VIOLATION);
  t.true(perf.proc.exitCode === null, `still running after the violation: ${perf.io.err}`);
  const g = await runHostile(['--role', 'slave', '--socket', perf.socket, '--id', String(ID), '--case', 'good', '--count', '3000', '--duration', '3', '--timeout', '30']);
  t.is(g.r.sent_frames, 3000, 'the next peer is served');
  // Without --serve, a peer that leaves politely ends the run, as it always did.
  await perf.done;
  t.is(perf.result().end, 'peer disconnected');
  t.true((perf.result().received ?? 0) >= 3000);
});

for (const role of ['master', 'slave'] as const) {
  test(`nmemif-bridge (memif ${devRole(role)} facing the hostile peer) against every hostile case`, async (t) => {
    const facing = abstractName('bridge-a');
    const behind = abstractName('bridge-b');
    const control = path.join(tempDir(t, 'nmemif-hostile-bridge-'), 'ctl.sock');
    const p = new ToolProcess(t, 'nmemif-bridge', [
      '--memif', `role=${devRole(role)},socket=${facing},id=${ID}`, '--memif', `role=server,socket=${behind},id=1`,
      '--control', control, '--idle-sleep-us', '50', '--json',
    ], LIMIT_MS);
    await p.waitFor(/control socket /, 30_000);
    // Behind the bridge, an echo peer for the whole test (nmif-perf: its memfds are not
    // nmif-hostile's, so the fd check sees only the attacker's).
    const echo = spawn(PERF, ['--role', 'slave', '--socket', behind, '--id', '1', '--mode', 'echo', '--timeout', '0'], { stdio: 'ignore' });
    t.teardown(() => {
      if (echo.exitCode === null && echo.signalCode === null) echo.kill('SIGKILL');
    });
    await p.waitFor(/link up: memif1/, 30_000);
    await runAll(t, toolVictim(p, role, facing, /^nmemif-bridge: link down: memif0 \((.*)\)$/gm, true, {}));
    await ended(t, p);
    t.true(echo.exitCode === null, 'the echo peer behind the bridge is still there');
    echo.kill('SIGTERM');
    const out = p.json<{ ports: Record<string, Record<string, number>> }>();
    t.log(`nmemif-bridge (${devRole(role)}): ${JSON.stringify(out.ports)}`);
    t.true(out.ports.memif0.rxPackets > 0 && out.ports.memif1.txPackets > 0);
  });
}
