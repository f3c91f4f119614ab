/**
 * The tools' failures a user meets first: bad --memif devargs, bad options, a socket path whose
 * directory is missing, a peer that never comes. Each: one clear line on stderr naming the
 * problem, a non-zero exit, no stack trace.
 */
import test from 'ava';
import * as path from 'node:path';
import { tempDir } from './helpers/memif';
import { hasStackTrace, runTool } from './helpers/tools';

const TOOLS = ['nmemif-sender', 'nmemif-responder'] as const;

for (const tool of TOOLS) {
  test(`${tool}: bad devargs name the key and the accepted values`, async (t) => {
    const r = await runTool(t, tool, ['--memif', 'role=boss,socket=/tmp/x.sock']);
    t.is(r.code, 2);
    t.regex(r.stderr, /role=.*server, client, master or slave/);
    t.false(hasStackTrace(r.stderr), r.stderr);
    const k = await runTool(t, tool, ['--memif', 'rsize=20']);
    t.is(k.code, 2);
    t.regex(k.stderr, /rsize=.*1 to 14/);
    const u = await runTool(t, tool, ['--memif', 'colour=blue']);
    t.is(u.code, 2);
    t.regex(u.stderr, /unknown key "colour"; accepted keys: role, id, socket, socket-abstract, secret, rsize, bsize, mac, mode, queues/);
    t.false(hasStackTrace(k.stderr + u.stderr));
  });

  test(`${tool}: a socket directory that does not exist (client and server)`, async (t) => {
    const dir = path.join(tempDir(t), 'no-such-dir');
    for (const role of ['client', 'server']) {
      const r = await runTool(t, tool, ['--memif', `role=${role},socket=${dir}/memif.sock`, '--link-timeout', '1']);
      t.is(r.code, 2, r.stderr);
      t.regex(r.stderr, new RegExp(`socket directory ${dir} does not exist`));
      t.false(hasStackTrace(r.stderr), r.stderr);
    }
  });

  test(`${tool}: a peer that never comes (client and server)`, async (t) => {
    const dir = tempDir(t);
    for (const role of ['client', 'server']) {
      const start = performance.now();
      const r = await runTool(t, tool, ['--memif', `role=${role},socket=${dir}/memif.sock`, '--link-timeout', '1']);
      t.is(r.code, 2, r.stderr);
      t.regex(r.stderr, role === 'client' ? /link not up after 1 s: no server answered on .*memif\.sock with id 0/ : /link not up after 1 s: no client connected to/);
      t.false(hasStackTrace(r.stderr), r.stderr);
      t.true(performance.now() - start < 60_000, 'it gave up by itself');
    }
  });

  test(`${tool}: unknown options and bad values point to --help`, async (t) => {
    const r = await runTool(t, tool, ['--frobnicate']);
    t.is(r.code, 2);
    t.regex(r.stderr, /frobnicate/);
    t.regex(r.stderr, /--help/);
    const q = await runTool(t, tool, ['--queues', '0']);
    t.is(q.code, 2);
    t.regex(q.stderr, /--queues takes an integer from 1 to 255, got "0"/);
    t.false(hasStackTrace(r.stderr + q.stderr));
  });

  test(`${tool}: --help lists every option, one per line`, async (t) => {
    const r = await runTool(t, tool, ['--help']);
    t.is(r.code, 0);
    for (const opt of ['--memif', '--json', '--pcap', '--duration', '--queues', 'role=server|client']) t.regex(r.stdout, new RegExp(`^\\s+${opt.replace('|', '\\|')}`, 'm'));
  });
}

test('nmemif-sender: --size and --proto are checked', async (t) => {
  const r = await runTool(t, 'nmemif-sender', ['--size', '10-20000']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--size takes N or MIN-MAX with 60 <= MIN <= MAX <= 9000/);
  const p = await runTool(t, 'nmemif-sender', ['--proto', 'tcp']);
  t.is(p.code, 2);
  t.regex(p.stderr, /--proto takes one of icmp, udp/);
});
