/**
 * The benchmark report (bench/report): from benchmark JSON to an HTML page with charts, SVG and
 * PNG. The inputs here are made-up results in the benchmarks' shapes (bench/report/shapes.ts),
 * to check the rendering, not figures.
 */
import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeReport } from '../bench/report/report';
import { tempDir } from './helpers/memif';

const machine = { host: 'test-host', cpu: 'Made-up CPU 9000', cpus: 2, kernel: 'Linux 6.1', node: 'v20.0.0', dpdk: '22.11.1' };
const quiet = (busy: boolean, bench: string) => ({
  busy, forced: busy, threshold_pct: 10, cpus: 2,
  before: { others_pct: busy ? 80 : 1, ours_pct: 0, seconds: 1, waited_s: 0 },
  during: { others_pct: busy ? 70 : 2, ours_pct: 90, seconds: 30, runs: 4, run_others_pct_median: 2, run_others_pct_max: 3 },
  loadavg_start: [0.1, 0.2, 0.3], loadavg_end: [1, 1, 1],
  verdict: `${bench}: ${busy ? 'BUSY: other processes used up to 80 % of the CPUs (threshold 10 %), measured with --force: not a figure to quote' : 'quiet: other processes used at most 3 % of the CPUs (threshold 10 %)'}`,
});
const stat = (m: number) => ({ n: 3, median: m, min: m * 0.9, max: m * 1.1 });

function write(dir: string, name: string, value: unknown): void {
  fs.writeFileSync(path.join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));
}

/** Width and height from a PNG's IHDR, after checking its signature. */
function pngSize(t: ExecutionContext, file: string): [number, number] {
  const b = fs.readFileSync(file);
  t.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file} is a PNG`);
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

test('charts, tables, machine and busy flags from the JSON; "not measured" for what is missing', async (t) => {
  const dir = tempDir(t, 'nmemif-report-');
  write(dir, 'c-vs-dpdk.json', {
    bench: 'c-vs-dpdk', machine, quiet: quiet(true, 'c-vs-dpdk'), callgrind: null,
    results: [64, 1500, 9000].map((size) => ({
      size, ours: { rx_pps: stat(3e7 / Math.sqrt(size)) }, ours_rxcopy: { rx_pps: stat(2e7 / Math.sqrt(size)) }, dpdk: { rx_pps: stat(1e7 / Math.sqrt(size)) },
      ratio_ours_vs_dpdk: { of_medians: 3, paired: stat(3) },
    })),
  });
  write(dir, 'bridge.json', {
    bench: 'bridge', machine, quiet: quiet(false, 'bridge'),
    cases: [{ dir: 'memif->null', size: 64, ours: { ...stat(2e7), failed: 0 }, testpmd: { ...stat(1.8e7), failed: 0 }, ratio: { of_medians: 1.1, per_round: stat(1.1) } }],
  });
  write(dir, 'broken.json', '{"bench": "bridge", ');
  write(dir, 'other.json', { bench: 'something-else' });
  write(dir, 'runs.json', { runs: [{ scenario: 'latency', status: 'refused: the machine was busy (--force to measure anyway)' }] });

  const { files, problems } = await writeReport(dir);
  t.log(problems.join('\n'));
  t.deepEqual(files.sort(), ['bridge-vs-testpmd.png', 'bridge-vs-testpmd.svg', 'index.html', 'throughput-vs-frame-size.png', 'throughput-vs-frame-size.svg']);
  t.true(problems.some((p) => p.includes('broken.json') && p.includes('not JSON')), 'a broken file is named');
  t.true(problems.some((p) => p.includes('other.json') && p.includes('no known "bench" name')), 'an unknown benchmark is named');

  for (const png of ['throughput-vs-frame-size.png', 'bridge-vs-testpmd.png']) {
    const [w, h] = pngSize(t, path.join(dir, png));
    t.true(w > 400 && h > 250, `${png}: ${w}x${h}`);
  }
  const throughput = fs.readFileSync(path.join(dir, 'throughput-vs-frame-size.svg'), 'utf8');
  for (const label of ['C core pair', 'DPDK testpmd pair', 'frame size (bytes, log scale)', 'BUSY machine', '9000']) {
    t.true(throughput.includes(label), `the throughput SVG shows "${label}"`);
  }
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  for (const text of [
    'Made-up CPU 9000', 'Linux 6.1', 'v20.0.0', '22.11.1',
    'c-vs-dpdk: BUSY: other processes used up to 80 %', 'bridge: quiet: other processes used at most 3 %',
    'latency: not measured (refused: the machine was busy', 'tools: not measured', 'bridge-callgrind: not measured', 'startup: not measured',
    '<a href="throughput-vs-frame-size.png">PNG</a>', '3.00 [2.70..3.30]',
  ]) t.true(html.includes(text), `the page says "${text}"`);
  t.is(html.match(/<svg/g)?.length, 2, 'two charts inline');
});

test('latency CDFs per rx mode from a latency result (the shape the latency benchmark is to print)', async (t) => {
  const dir = tempDir(t, 'nmemif-report-');
  const cdf = (p50: number): Array<[number, number]> => [[0.01, p50 * 0.6], [0.5, p50], [0.9, p50 * 1.5], [0.99, p50 * 3], [0.999, p50 * 5], [1, p50 * 9]];
  write(dir, 'latency.json', {
    bench: 'latency', machine, quiet: quiet(false, 'latency'),
    cases: ['interrupt', 'polling', 'adaptive'].flatMap((mode, k) => ['C-C', 'TS-TS'].map((pair, p) => ({
      pair, mode, size: 64, round_trips_per_s: stat(30000), rtt_us: { p50: 20 + k + p, p99: 60, p999: 100 }, cdf: cdf(20 + 10 * k + 5 * p),
    }))),
  });
  const { files } = await writeReport(dir);
  t.true(files.includes('latency-cdf.png'));
  const svg = fs.readFileSync(path.join(dir, 'latency-cdf.svg'), 'utf8');
  for (const label of ['interrupt', 'polling', 'adaptive', 'C-C, 64 B', 'TS-TS, 64 B', 'round-trip time (µs, log scale)']) {
    t.true(svg.includes(label), `the latency SVG shows "${label}"`);
  }
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  t.true(html.includes('throughput') && html.includes('c-vs-dpdk: not measured'), 'the missing throughput results are named');
});

test('tools vs nmif-perf from a tools result: send, echo and icmp cases, ratios and the share answered', async (t) => {
  const dir = tempDir(t, 'nmemif-report-');
  write(dir, 'tools.json', {
    bench: 'tools', machine, quiet: quiet(true, 'tools'),
    cases: [
      { tool: 'nmemif-sender --proto udp', size: 64, kind: 'send', pps: stat(9e6), failed: 0, vs: 'nmif-perf --mode send', ratio: { of_medians: 0.6, per_round: stat(0.6) } },
      { tool: 'nmif-perf --mode send', size: 64, kind: 'send', pps: stat(1.5e7), failed: 0 },
      { tool: 'nmemif-responder', size: 1500, kind: 'echo', pps: stat(2e6), failed: 0, vs: 'nmif-perf --mode echo --zero-copy', ratio: { of_medians: 0.9, per_round: null }, answered: stat(1) },
      { tool: 'nmif-perf --mode echo --zero-copy', size: 1500, kind: 'echo', pps: stat(2.2e6), failed: 0, answered: stat(1) },
      { tool: 'nmif-perf --mode send', size: 128, pps: stat(1e7) }, // an older result without kind: a send
    ],
  });
  const { files, problems } = await writeReport(dir);
  t.deepEqual(problems, []);
  t.true(files.includes('tools-vs-nmif-perf.png'));
  const [w, h] = pngSize(t, path.join(dir, 'tools-vs-nmif-perf.png'));
  t.true(w > 400 && h > 200, `${w}x${h}`);
  const svg = fs.readFileSync(path.join(dir, 'tools-vs-nmif-perf.svg'), 'utf8');
  for (const label of ['send, 64 B', 'echo, 1500 B', 'send, 128 B', 'nmemif-sender --proto udp', 'nmif-perf --mode echo --zero-copy', 'BUSY machine']) {
    t.true(svg.includes(label), `the tools SVG shows "${label}"`);
  }
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  for (const text of ['9.00 [8.10..9.90]', '0.60 (per round 0.60 [0.54..0.66])', '0.90', '1.00 [0.90..1.10]', 'tools: BUSY']) {
    t.true(html.includes(text), `the page says "${text}"`);
  }
});
