/**
 * The one testpmd launcher (test/helpers/testpmd.ts) as the benchmarks use it: a second port
 * (net_null as a sink), the burst and lcores given, "show port stats" with testpmd's counters,
 * one port's forward statistics after "stop", the DPDK version, and its runtime directory
 * removed at the end. nmif-perf (slave) sends N frames through testpmd io into net_null.
 * Skipped (with the reason in the title) when dpdk-testpmd is not installed.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers/memif';
import { Testpmd, dpdkRuntimeDir, testpmdSkipReason, waitListening } from './helpers/testpmd';

const PERF = path.join(__dirname, '..', 'build', 'native', 'libmemif', 'tools', 'nmif-perf');
const N = 20_000;
const title = `testpmd io memif -> net_null: show port stats, "stop" per port and in total count exactly ${N}; runtime dir removed`;

if (testpmdSkipReason === null) test.serial(title, run);
else test.skip(`${title} [skipped: ${testpmdSkipReason}]`, run);

async function run(t: import('ava').ExecutionContext): Promise<void> {
  const sock = path.join(tempDir(t), 'memif.sock');
  const tp = await Testpmd.start(t, {
    role: 'server', socket: sock, forwardMode: 'io', vdevs: ['net_null0,no-rx=1'], burst: 64, lcores: [0, 1], tag: 'launcher', lifetimeMs: 90_000,
  });
  t.regex(tp.version ?? '', /^DPDK \d+\.\d+/, 'EAL printed its version');
  t.true(fs.existsSync(path.join(dpdkRuntimeDir(), tp.filePrefix)), 'EAL runtime dir while it runs');
  await waitListening(sock, 10_000, tp.name);
  tp.forward();
  // The sender holds the link until testpmd quits, so the memif counters are read while it is up.
  const perf = spawn(PERF, ['--role', 'slave', '--socket', sock, '--mode', 'send', '--size', '64', '--count', String(N), '--timeout', '30', '--hold', '60', '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let perfErr = '';
  perf.stderr.setEncoding('utf8').on('data', (d: string) => (perfErr += d));
  const perfExit = new Promise<number | null>((resolve) => perf.on('close', resolve));
  t.teardown(() => {
    if (perf.exitCode === null && perf.pid !== undefined) process.kill(perf.pid, 'SIGKILL');
  });

  let seen = 0;
  const deadline = performance.now() + 60_000;
  while (seen < N && performance.now() < deadline) {
    seen = (await tp.portStats(0)).rxPackets;
    if (seen < N) await new Promise((r) => setTimeout(r, 100));
  }
  t.is(seen, N, `show port stats 0: RX-packets; nmif-perf: ${perfErr}`);
  const sink = await tp.portStats(1);
  t.is(sink.txPackets, N, 'show port stats 1: TX-packets into net_null');

  const total = await tp.stop();
  t.is(total.rxPackets, N, 'accumulated RX-packets');
  t.is(total.txPackets, N, 'accumulated TX-packets');
  t.is(tp.portForwardStats(0).rxPackets, N, 'port 0 (memif) RX-packets');
  t.is(tp.portForwardStats(1).txPackets, N, 'port 1 (net_null) TX-packets');
  t.is(tp.portForwardStats(1).txDropped, 0, 'port 1 TX-dropped');
  await tp.quit();
  t.is(await perfExit, 0, perfErr);
  await tp.dispose();
  t.false(fs.existsSync(path.join(dpdkRuntimeDir(), tp.filePrefix)), 'EAL runtime dir removed');
}
