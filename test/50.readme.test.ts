/**
 * The README's TypeScript and JavaScript code blocks, type-checked and run, so they stay true.
 *
 * Each block becomes a file, with two rewrites: the package's import specifiers ('nmemif',
 * 'nmemif/bridge', 'nmemif/nstack') point at the sources, and every string literal ending in
 * '.sock' becomes a socket in a fresh temporary directory. An HTML comment on the line before
 * a block says how it runs:
 *   (none)                         it must exit with status 0
 *   <!-- readme-test: expect "TEXT" -->   ... and print TEXT on stdout
 *   <!-- readme-test: echo-peer ... -->   it runs until SIGTERM while a master on its socket
 *                                  sends frames and expects each one back, in order
 * Shell, C and output blocks are documentation of commands and are not run here. A block that
 * starts worker threads runs under tsx's require hook, which its workers inherit (tsx's loader
 * for --import does not reach worker threads on Node 20).
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MemifSocket } from '../src/memif/socket';
import { PacketBatch } from '../src/memif/batch';
import { connected, nextEvent, tempDir, waitUntil } from './helpers/memif';

const root = path.resolve(__dirname, '..');

interface Block {
  line: number;
  marker: string;
  code: string;
}

function readmeBlocks(): Block[] {
  const lines = fs.readFileSync(path.join(root, 'README.md'), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let k = 0; k < lines.length; k++) {
    const open = /^```(ts|typescript|js|javascript)\s*$/.exec(lines[k]);
    if (!open) continue;
    const end = lines.indexOf('```', k + 1);
    const marker = /^<!-- readme-test: (.*) -->$/.exec(lines[k - 1] ?? '')?.[1] ?? '';
    blocks.push({ line: k + 1, marker, code: lines.slice(k + 1, end).join('\n') });
    k = end;
  }
  return blocks;
}

/** The block with the package pointed at the sources and its sockets in `dir`. */
function rewrite(code: string, dir: string): { code: string; sockets: string[] } {
  const sockets: string[] = [];
  const out = code
    .replace(/(from |require\()'nmemif(\/bridge|\/nstack)?'/g, (_, pre: string, sub = '') => `${pre}'${path.join(root, 'src', sub, 'index')}'`)
    .replace(/'([^'\s]*\.sock)'/g, (_, p: string) => {
      sockets.push(path.join(dir, path.basename(p)));
      return `'${sockets[sockets.length - 1]}'`;
    });
  return { code: out, sockets };
}

const blocks = readmeBlocks();

test('the README has code blocks to check, each with a known marker', (t) => {
  t.true(blocks.length >= 2, `found ${blocks.length} blocks`);
  for (const b of blocks) t.regex(b.marker, /^$|^expect ".+"$|^echo-peer\b/, `README.md:${b.line}`);
});

test('every README code block type-checks against the sources', (t) => {
  const dir = tempDir(t, 'nmemif-readme-tsc-');
  const files = blocks.map((b, k) => {
    const file = path.join(dir, `block${k}.ts`);
    fs.writeFileSync(file, rewrite(b.code, dir).code);
    return file;
  });
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    extends: path.join(root, 'tsconfig.json'),
    compilerOptions: { noEmit: true, typeRoots: [path.join(root, 'node_modules', '@types')] },
    files,
    include: [],
  }));
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8', timeout: 120_000 });
  t.is(r.status, 0, `${r.stdout}${r.stderr}`);
});

/** Runs a block under tsx; resolves when it exits. Killed at the end of the test in any case. */
function runBlock(t: ExecutionContext, file: string) {
  const loader = /\bnew Worker\(/.test(fs.readFileSync(file, 'utf8')) ? ['--require', 'tsx/cjs'] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...loader, file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const limit = setTimeout(() => child.kill('SIGKILL'), 90_000);
  t.teardown(() => {
    clearTimeout(limit);
    child.kill('SIGKILL');
  });
  return { child, out, exit };
}

/** A master on the block's socket sends FRAMES frames and checks each comes back in order. */
async function echoPeer(t: ExecutionContext, file: string, socket: string): Promise<void> {
  const FRAMES = 512;
  const peer = new MemifSocket(socket);
  t.teardown(() => peer.close());
  const master = peer.createInterface({ role: 'master', id: 0 });
  const batch = new PacketBatch(64);
  let echoed = 0;
  let wrong = 0;
  master.on('rx', (q) => {
    for (let n = master.rx(q, batch); n > 0; n = master.rx(q, batch)) {
      for (let i = 0; i < n; i++) {
        const v = batch.view(i);
        if (v.length !== 64 || v[0] !== (echoed & 0xff) || v[63] !== 0xa5) wrong++;
        echoed++;
      }
      master.refill(q, n);
    }
  });
  const run = runBlock(t, file);
  await connected(master, 60_000, 'the README block to connect to the peer');
  for (let sent = 0; sent < FRAMES; sent += 32) {
    const frames = Array.from({ length: 32 }, (_, k) => {
      const f = new Uint8Array(64);
      f[0] = (sent + k) & 0xff;
      f[63] = 0xa5;
      return f;
    });
    // A master's tx ring fills the slave's posted buffers: right after connect there may be none yet.
    let taken = 0;
    await waitUntil(() => (taken += master.send(0, frames.slice(taken))) === frames.length, 20_000, 'room in the tx ring');
    await waitUntil(() => echoed >= sent + 32, 20_000, () => `echoes of frames ${sent}..${sent + 31} (got ${echoed}); block stderr: ${run.out.stderr}`);
  }
  t.is(echoed, FRAMES);
  t.is(wrong, 0, 'every frame came back unchanged and in order');
  t.regex(run.out.stdout, /link up to/);
  const down = nextEvent(master, 'disconnect', 20_000, 'a DISCONNECT when the block is terminated');
  run.child.kill('SIGTERM');
  const [reason] = await down;
  t.log(`peer saw the block go: ${String(reason)}`);
  t.is((await run.exit).signal, 'SIGTERM');
}

for (const [k, b] of blocks.entries()) {
  test(`README.md:${b.line} runs${b.marker ? ` (${b.marker})` : ''}`, async (t) => {
    const dir = tempDir(t, 'nmemif-readme-run-');
    const { code, sockets } = rewrite(b.code, dir);
    const file = path.join(dir, `block${k}.ts`);
    fs.writeFileSync(file, code);
    if (b.marker.startsWith('echo-peer')) {
      t.is(sockets.length, 1, 'an echo-peer block names one socket');
      await echoPeer(t, file, sockets[0]);
      return;
    }
    const run = runBlock(t, file);
    const { code: status } = await run.exit;
    t.is(status, 0, `${run.out.stdout}${run.out.stderr}`);
    const expected = /^expect "(.+)"$/.exec(b.marker)?.[1];
    if (expected !== undefined) t.true(run.out.stdout.includes(expected), `stdout: ${run.out.stdout}`);
  });
}
