/**
 * nmemif-bridge as a child process (bin/nmemif-bridge.js), without DPDK: a memif <-> memif
 * bridge with its control socket in a temp dir; `show` and `stats` against it; nmemif-sender
 * → bridge → nmemif-responder with exact counts; SIGTERM prints the counters, exit 0, socket
 * removed; a second bridge on the same control socket is refused; bad flags exit 2.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers/memif';
import { ToolProcess, hasStackTrace, runTool } from './helpers/tools';

type Counters = Record<string, number>;

test('memif <-> memif bridge: show, stats, sender → bridge → responder exact, SIGTERM counters', async (t) => {
  const dir = tempDir(t, 'nmemif-bridge-cli-');
  const a = path.join(dir, 'a.sock');
  const b = path.join(dir, 'b.sock');
  const ctl = path.join(dir, 'ctl.sock');
  const bridge = new ToolProcess(t, 'nmemif-bridge', ['--memif', `role=server,socket=${a},id=1`, '--memif', `role=server,socket=${b},id=2`, '--control', ctl, '--idle-sleep-us', '20', '--json'], 40_000);
  await bridge.waitFor(/control socket /, 10_000);
  t.true(fs.existsSync(ctl));

  // a second bridge on the same control socket is refused (and leaves it alone)
  const dup = await runTool(t, 'nmemif-bridge', ['--memif', `role=server,socket=${path.join(dir, 'c.sock')},id=1`, '--memif', `role=server,socket=${path.join(dir, 'd.sock')},id=2`, '--control', ctl], 10_000);
  t.is(dup.code, 2, dup.stderr);
  t.regex(dup.stderr, /already listening on/);
  t.false(hasStackTrace(dup.stderr));

  const show0 = await runTool(t, 'nmemif-bridge', ['show', '--control', ctl, '--json'], 10_000);
  t.is(show0.code, 0, show0.stderr);
  const s0 = JSON.parse(show0.stdout) as { ok: boolean; ports: { name: string; kind: string; up: boolean }[] };
  t.true(s0.ok);
  t.deepEqual(s0.ports.map((p) => [p.name, p.kind]), [['memif0', 'memif'], ['memif1', 'memif']]);

  const responder = new ToolProcess(t, 'nmemif-responder', ['--memif', `role=client,socket=${b},id=2,mac=02:fe:00:00:00:01`, '--ip', '10.2.0.1', '--json', '--link-timeout', '10'], 40_000);
  await bridge.waitFor(/link up: memif1/, 10_000);
  const N = 2000;
  const sender = await runTool(t, 'nmemif-sender', [
    '--memif', `role=client,socket=${a},id=1,mac=02:fe:00:00:00:02`,
    '--src-ip', '10.2.0.2', '--dst-ip', '10.2.0.1', '--count', String(N), '--size', '60-1500', '--wait', '3', '--json',
  ], 20_000);
  t.is(sender.code, 0, `${sender.stderr}\n${bridge.describe()}`);
  const s = JSON.parse(sender.stdout.trim().split('\n').pop()!) as { sent: number; replies: number; lost: number; bad_replies: number; duplicates: number };
  t.is(s.sent, N);
  t.is(s.replies, N, 'every echo request answered across the bridge');
  t.is(s.lost, 0);
  t.is(s.bad_replies, 0);
  t.is(s.duplicates, 0);

  // readable show, then stats: the counters of what crossed
  const show1 = await runTool(t, 'nmemif-bridge', ['show', '--control', ctl], 10_000);
  t.is(show1.code, 0, show1.stderr);
  t.regex(show1.stdout, /^memif0 +memif +down/m, 'the sender has gone');
  t.regex(show1.stdout, /^memif1 +memif +up/m);
  t.regex(show1.stdout, /peer=nmemif-responder/);
  const stats = await runTool(t, 'nmemif-bridge', ['stats', '--control', ctl, '--json'], 10_000);
  t.is(stats.code, 0, stats.stderr);
  const st = JSON.parse(stats.stdout) as { ok: boolean; ports: Record<string, Counters>; workers: Record<string, Counters> };
  t.true(st.ok);
  t.truthy(st.workers['memif0<->memif1']);
  const statsText = await runTool(t, 'nmemif-bridge', ['stats', '--control', ctl], 10_000);
  t.regex(statsText.stdout, /^memif0: rx \d+ pkts/m);

  // add a port at run time, see it in show, delete it
  const c = path.join(dir, 'c.sock');
  const add = await runTool(t, 'nmemif-bridge', ['add', '--name', 'extra', '--memif', `role=server,socket=${c},id=3`, '--control', ctl, '--json'], 10_000);
  t.is(add.code, 0, add.stderr);
  t.like(JSON.parse(add.stdout), { ok: true, port: { name: 'extra', kind: 'memif', up: false } });
  t.true(fs.existsSync(c), 'the new port listens');
  const dupAdd = await runTool(t, 'nmemif-bridge', ['add', '--name', 'extra', '--memif', `role=server,socket=${c},id=4`, '--control', ctl], 10_000);
  t.is(dupAdd.code, 1);
  t.regex(dupAdd.stderr, /the bridge refused: .*exists/);
  const del = await runTool(t, 'nmemif-bridge', ['del', 'extra', '--control', ctl], 10_000);
  t.is(del.code, 0, del.stderr);
  t.regex(del.stdout, /deleted extra/);
  const show2 = await runTool(t, 'nmemif-bridge', ['show', '--control', ctl, '--json'], 10_000);
  t.deepEqual((JSON.parse(show2.stdout) as { ports: { name: string }[] }).ports.map((p) => p.name), ['memif0', 'memif1']);

  responder.kill('SIGTERM');
  const rexit = await responder.done;
  t.is(rexit.code, 0, responder.describe());
  const r = responder.json<{ rx: number; tx: number; arp: number; icmp: number }>();
  t.is(r.icmp, N);
  // everything the sender sent crossed a → b, everything the responder sent crossed b → a
  t.is(st.ports.memif0.rxPackets, r.rx);
  t.is(st.ports.memif1.txPackets, r.rx);
  t.is(st.ports.memif1.rxPackets, r.tx);
  t.is(st.ports.memif0.txPackets, r.tx);
  t.is(st.ports.memif0.rxBytes, st.ports.memif1.txBytes);
  t.is(st.ports.memif0.dropTxFull + st.ports.memif1.dropTxFull + st.ports.memif0.dropLinkDown + st.ports.memif1.dropLinkDown, 0);

  bridge.kill('SIGTERM');
  const bexit = await bridge.done;
  t.is(bexit.code, 0, bridge.describe());
  t.false(hasStackTrace(bexit.stderr), bexit.stderr);
  const out = bridge.json<{ uptime_s: number; ports: Record<string, Counters> }>();
  t.is(out.ports.memif0.rxPackets, r.rx);
  t.is(out.ports.memif0.txPackets, r.tx);
  t.true(out.ports.memif1.dropLinkDown >= 0);
  t.false(fs.existsSync(ctl), 'control socket removed');

  // nobody there now: a clear error, exit 2
  const gone = await runTool(t, 'nmemif-bridge', ['show', '--control', ctl], 10_000);
  t.is(gone.code, 2);
  t.regex(gone.stderr, /cannot reach a bridge on .*no such socket/);
});

test('a stale control socket file is replaced; --duration ends the bridge with readable counters', async (t) => {
  const dir = tempDir(t, 'nmemif-bridge-cli-');
  const ctl = path.join(dir, 'ctl.sock');
  // a socket file nobody listens on (its bridge died)
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(ctl, resolve));
  // close it but keep the file (node unlinks it on close): move it away and back
  fs.renameSync(ctl, `${ctl}.keep`);
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  fs.renameSync(`${ctl}.keep`, ctl);
  t.true(fs.lstatSync(ctl).isSocket());
  const run = await runTool(t, 'nmemif-bridge', ['--memif', `role=server,socket=${path.join(dir, 'a.sock')},id=1`, '--memif', `role=server,socket=${path.join(dir, 'b.sock')},id=2`, '--control', ctl, '--duration', '0.5'], 15_000);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stderr, /control socket /);
  t.regex(run.stdout, /^memif0 \(memif, down\): rx 0 pkts/m);
  t.false(fs.existsSync(ctl));
});

test('bad flags: exit 2, one clear message, no stack trace', async (t) => {
  const dir = tempDir(t, 'nmemif-bridge-cli-');
  const m = (id: number) => `role=server,socket=${path.join(dir, `${id}.sock`)},id=${id}`;
  const cases: [string[], RegExp][] = [
    [['--bogus'], /Unknown option '--bogus'/],
    [['--memif', m(1)], /give two ports to cross-connect/],
    [['--memif', m(1), '--memif', m(2), '--burst', '999'], /--burst takes an integer from 1 to 256/],
    [['--memif', 'role=bogus', '--memif', m(2)], /ports\[0\]\.memif/],
    [['--memif', m(1), '--memif', m(2), '--control', path.join(dir, 'nodir', 'ctl.sock')], /control socket directory .*nodir does not exist/],
    [['--config', path.join(dir, 'missing.json')], /--config: cannot read/],
    [['frobnicate'], /unknown subcommand "frobnicate"/],
    [['del', '--control', path.join(dir, 'x.sock')], /del needs a port name/],
    [['show', '--memif', m(1)], /--memif does not apply to "show"/],
  ];
  for (const [args, re] of cases) {
    const r = await runTool(t, 'nmemif-bridge', args, 10_000);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, re, args.join(' '));
    t.regex(r.stderr, /^nmemif-bridge: /);
    t.false(hasStackTrace(r.stderr), r.stderr);
  }
  const help = await runTool(t, 'nmemif-bridge', ['--help'], 10_000);
  t.is(help.code, 0);
  for (const o of ['--memif', '--dpdk', '--eal', '--config', '--control', '--burst', '--idle-sleep-us', '--duration', '--json', '--name', '--queues', '--link', '--help']) {
    t.regex(help.stdout, new RegExp(`^  (-h, )?${o} `, 'm'), o);
  }
});
