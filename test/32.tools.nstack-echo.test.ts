/**
 * nstack-echo as child processes: UDP and TCP echo over the kernel plane, event style and
 * --epoll, JSON checked; --explain with nRD rules; bad rules and bad flags as one-line errors;
 * the lwIP plane (memif between two processes, nRD rules choosing it), skipped with the reason
 * while the lwIP stack is not available.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lwipMissing } from '../examples/lib/lwip';
import { ToolProcess, hasStackTrace, runTool } from './helpers/tools';

const TOOL = 'nstack-echo';

interface ClientJson {
  proto: string;
  plane: string;
  stack: string;
  sent: number;
  received: number;
  lost: number;
  bad: number;
  bytes: number;
  rate: number;
  latency_us: { p50: number; p99: number };
}

function tmpdir(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nstack-echo-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts a server and resolves with it and the port it listens on. */
async function startServer(t: Parameters<typeof runTool>[0], args: string[]): Promise<{ server: ToolProcess; port: number }> {
  const server = new ToolProcess(t, TOOL, ['server', '--port', '0', '--json', ...args], 90_000);
  await server.waitFor(/echo listening on \S+:(\d+)/, 60_000);
  const port = Number(/echo listening on \S+:(\d+)/.exec(server.stderr)![1]);
  return { server, port };
}

async function stopServer(server: ToolProcess): Promise<Record<string, number | string>> {
  server.kill('SIGTERM');
  const exit = await server.done;
  if (exit.code !== 0) throw new Error(`server exited ${exit.code}: ${server.describe()}`);
  return server.json();
}

for (const proto of ['udp', 'tcp'] as const) {
  for (const epoll of [false, true]) {
    const style = epoll ? 'an EventPoll loop (--epoll)' : 'events';
    test(`${proto} echo on the kernel plane, server as ${style}: every message back intact, JSON result`, async (t) => {
      const { server, port } = await startServer(t, ['--proto', proto, '--bind', '127.0.0.1', ...(epoll ? ['--epoll'] : [])]);
      const count = proto === 'udp' ? 3000 : 5000;
      const size = proto === 'udp' ? 512 : 1000;
      const client = await runTool(t, TOOL, ['client', '--proto', proto, '--dst', '127.0.0.1', '--port', String(port), '--count', String(count), '--size', String(size), '--window', '8', '--json'], 90_000);
      t.is(client.code, 0, client.stderr);
      const r = JSON.parse(client.stdout.trim().split('\n').pop()!) as ClientJson;
      t.is(r.proto, proto);
      t.is(r.plane, 'nstack-linux');
      t.is(r.stack, 'kernel');
      t.is(r.sent, count);
      t.is(r.received, count);
      t.is(r.lost, 0);
      t.is(r.bad, 0);
      t.is(r.bytes, count * size);
      t.true(r.rate > 0);
      t.true(r.latency_us.p50 > 0 && r.latency_us.p99 >= r.latency_us.p50, JSON.stringify(r.latency_us));
      const s = await stopServer(server);
      t.is(s.plane, 'nstack-linux');
      t.is(s.bytes, count * size);
      if (proto === 'udp') t.is(s.received, count);
      else t.is(s.connections, 1);
    });
  }
}

test('--explain prints the nRD choice: the rule that matched, or the default plane', async (t) => {
  const dir = tmpdir(t);
  const rules = path.join(dir, 'rules.json');
  fs.writeFileSync(rules, JSON.stringify({ default: 'nstack-linux', rules: [{ prefix: '10.0.0.0/8', plane: 'nstack-memif' }, { prefix: '192.168.0.0/16', protocol: 'tcp', plane: 'nstack-linux', priority: 2 }] }));
  const a = await runTool(t, TOOL, ['client', '--dst', '10.1.2.3', '--port', '7', '--rules', rules, '--explain'], 60_000);
  t.is(a.code, 0, a.stderr);
  t.is(a.stdout.trim(), 'udp 10.1.2.3: plane nstack-memif, stack none registered (rules[0] (10.0.0.0/8))');
  const b = await runTool(t, TOOL, ['client', '--proto', 'tcp', '--dst', '192.168.7.7', '--port', '7', '--rules', rules, '--explain'], 60_000);
  t.is(b.stdout.trim(), 'tcp 192.168.7.7: plane nstack-linux, stack kernel (rules[1] (192.168.0.0/16, tcp, priority 2))');
  const c = await runTool(t, TOOL, ['server', '--port', '7', '--bind', '127.0.0.1', '--rules', rules, '--explain'], 60_000);
  t.is(c.stdout.trim(), 'udp 127.0.0.1: plane nstack-linux, stack kernel (default plane of the rules)');
  const d = await runTool(t, TOOL, ['client', '--dst', '127.0.0.1', '--port', '7', '--stack', 'kernel', '--explain'], 60_000);
  t.is(d.stdout.trim(), 'udp 127.0.0.1: plane nstack-linux, stack kernel (pinned by --stack or --memif)');
});

test('bad input is one line on stderr and exit 2: rules naming the field, flags, a missing lwIP', async (t) => {
  const dir = tmpdir(t);
  const rules = path.join(dir, 'bad.json');
  fs.writeFileSync(rules, JSON.stringify({ rules: [{ prefix: '10.0.0.0/8', plane: 'a' }, { prefix: '10.0.0.1/8', plane: 'b' }] }));
  const cases: Array<[string[], RegExp]> = [
    [['client', '--dst', '10.0.0.1', '--port', '7', '--rules', rules], /rules\[1\]\.prefix: "10\.0\.0\.1\/8" has host bits set; did you mean "10\.0\.0\.0\/8"\? \(in .*bad\.json\)/],
    [['client', '--dst', 'example', '--port', '7'], /--dst takes an IP address/],
    [['client', '--dst', '127.0.0.1'], /--port is required/],
    [['server', '--port', '7', '--proto', 'sctp'], /--proto takes one of udp, tcp/],
    [['server', '--port', '7', '--ip', '10.0.0.1/24'], /give --memif too/],
    [['server', '--port', '7', '--stack', 'lwip'], /--stack lwip needs an interface/],
    [['bogus'], /server or client/],
  ];
  const missing = lwipMissing();
  if (missing !== null) {
    cases.push([['client', '--dst', '10.0.0.1', '--port', '7', '--memif', `role=client,socket=${dir}/m.sock`, '--ip', '10.0.0.2/24'], /lwIP stack not available: /]);
  }
  for (const [args, message] of cases) {
    const r = await runTool(t, TOOL, args, 60_000);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message);
    t.false(hasStackTrace(r.stderr), r.stderr);
  }
});

const noLwip = lwipMissing();
(noLwip === null ? test : test.skip)(
  `the same app on both planes: rules send 10.0.0.0/8 to lwIP over memif, the rest to the kernel${noLwip === null ? '' : ` (skipped: lwIP stack not available: ${noLwip})`}`,
  async (t) => {
    const dir = tmpdir(t);
    const rules = path.join(dir, 'rules.json');
    fs.writeFileSync(rules, JSON.stringify({ default: 'nstack-linux', rules: [{ prefix: '10.0.0.0/8', plane: 'nstack-memif' }] }));
    const sock = path.join(dir, 'memif.sock');
    for (const proto of ['udp', 'tcp'] as const) {
      const { server, port } = await startServer(t, ['--proto', proto, '--memif', `role=server,socket=${sock},id=0`, '--ip', '10.0.0.1/24', '--rules', rules]);
      const lwip = await runTool(t, TOOL, ['client', '--proto', proto, '--dst', '10.0.0.1', '--port', String(port), '--memif', `role=client,socket=${sock},id=0`, '--ip', '10.0.0.2/24', '--rules', rules, '--count', '2000', '--size', '256', '--json'], 90_000);
      t.is(lwip.code, 0, lwip.stderr);
      const r = JSON.parse(lwip.stdout.trim().split('\n').pop()!) as ClientJson;
      t.is(r.plane, 'nstack-memif');
      t.is(r.stack, 'lwip');
      t.is(r.received, 2000);
      t.is(r.bad, 0);
      const s = await stopServer(server);
      t.is(s.plane, 'nstack-memif');
    }
  },
);
