#!/usr/bin/env node
/**
 * What loading nmemif adds to a process start: `node -e 0` against `require('nmemif')`, the ESM
 * named import, and a first MemifSocket (which loads the native addon and the event engine),
 * each a fresh process, interleaved round by round, as a consumer resolves the package (a
 * temporary project whose node_modules/nmemif links to the package directory).
 *
 *   node --import tsx bench/startup.js [--rounds 21] [--package DIR]... [--force]
 *
 * --package measures other checkouts (e.g. an older commit, for a before/after figure), each in
 * its own temporary project, all interleaved in the same rounds; the default is this one.
 * Prints the median wall time of each case and what it adds over `node -e 0` (the median of the
 * per-round differences), with min/max, in wall time and in CPU time (user + system of the
 * child, reported by a preloaded hook in every case alike): on a shared machine the wall time
 * swings with the load, the CPU time much less. It refuses to run on a busy machine unless --force
 * (bench/lib/quiet.ts); the last stdout line is one JSON object (shape: StartupJson in
 * bench/report/shapes.ts).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { machine } = require('./lib/machine');
const { QuietGate, QUIET_USAGE, quietArgsOrExit } = require('./lib/quiet');

const USAGE = `usage: node --import tsx bench/startup.js [--rounds 21] [--package DIR]...\n${QUIET_USAGE}`;
const { quiet: quietOptions, rest } = quietArgsOrExit(process.argv.slice(2), 'startup', USAGE);
const { values } = parseArgs({ args: rest, options: { rounds: { type: 'string', default: '21' }, package: { type: 'string', multiple: true } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 5) {
  console.error('--rounds takes an integer >= 5 (medians of at least 5)');
  process.exit(2);
}
const packages = (values.package ?? [path.join(__dirname, '..')]).map((p) => path.resolve(p));
for (const pkg of packages) {
  if (!fs.existsSync(path.join(pkg, 'package.json'))) {
    console.error(`${pkg} has no package.json`);
    process.exit(2);
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-startup-'));
const hook = path.join(work, 'cpu-at-exit.js');
fs.writeFileSync(hook, "process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write(`\\ncpu-us ${u.user + u.system}\\n`); });\n");

/** [label, node arguments, cwd]: the baseline, then three cases per package. */
const cases = [['node -e 0', ['-e', '0'], work]];
packages.forEach((pkg, k) => {
  const project = path.join(work, `project${k}`);
  fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  fs.symlinkSync(pkg, path.join(project, 'node_modules', 'nmemif'), 'dir');
  const sock = JSON.stringify(path.join(project, 'm.sock'));
  const tag = packages.length > 1 ? `[${k}] ` : '';
  cases.push(
    [`${tag}require('nmemif')`, ['-e', "require('nmemif')"], project],
    [`${tag}import { MemifSocket } from 'nmemif'`, ['--input-type=module', '-e', "import { MemifSocket } from 'nmemif'; void MemifSocket;"], project],
    [`${tag}require + first MemifSocket`, ['-e', `const { MemifSocket } = require('nmemif'); new MemifSocket(${sock}).close();`], project],
  );
});

/** [wall ms, cpu ms] of one fresh process, or the error it printed. */
function once([, args, cwd]) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['-r', hook, ...args], { cwd, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = /^cpu-us (\d+)$/m.exec(r.stderr);
  if (r.status !== 0 || !cpu) return new Error(r.stderr.split('\n').find((l) => /Error/.test(l)) ?? `exit ${r.status}`);
  return [wall, Number(cpu[1]) / 1000];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const quiet = QuietGate.open('startup', quietOptions);
try {
  // Warm the file cache; a case that fails (e.g. the named import of an older build) is reported, not timed.
  const failed = cases.map((c) => once(c)).map((r) => (r instanceof Error ? r.message : null));
  const wall = cases.map(() => []);
  const cpu = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so no case always runs right after another.
    const mark = quiet.runStart();
    for (let k = 0; k < cases.length; k++) {
      const c = (k + r) % cases.length;
      if (failed[c]) continue;
      const t = once(cases[c]);
      if (t instanceof Error) throw new Error(`${cases[c][0]}: ${t.message}`);
      wall[c].push(t[0]);
      cpu[c].push(t[1]);
    }
    quiet.runEnd(mark);
  }
  packages.forEach((pkg, k) => console.log(`${packages.length > 1 ? `[${k}] ` : ''}package ${pkg}`));
  console.log(`node ${process.version}, ${rounds} interleaved rounds, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
  const fmt = (x) => x.toFixed(1).padStart(6);
  const cell = (xs, c) => {
    if (c === 0) return `${fmt(median(xs[c]))} ms${' '.repeat(33)}`;
    const added = xs[c].map((t, r) => t - xs[0][r]);
    return `${fmt(median(xs[c]))} ms, adds ${fmt(median(added))} (${fmt(Math.min(...added))} to ${fmt(Math.max(...added))})`;
  };
  console.log(`${'case'.padEnd(42)} ${'wall: median, added over node -e 0'.padEnd(42)}  cpu (user+sys): median, added`);
  for (let c = 0; c < cases.length; c++) {
    console.log(`${cases[c][0].padEnd(42)} ${failed[c] ? `fails: ${failed[c]}` : `${cell(wall, c)}  ${cell(cpu, c)}`}`);
  }
  const stat = (xs) => (xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) } : null);
  const added = (xs, c) => stat(xs[c].map((t, r) => t - xs[0][r]));
  const record = quiet.record();
  console.log(record.verdict);
  console.log(JSON.stringify({
    bench: 'startup', machine: machine(), quiet: record, rounds, packages,
    cases: cases.map(([label], c) => (failed[c] ? { label, error: failed[c] }
      : { label, wall_ms: stat(wall[c]), cpu_ms: stat(cpu[c]), added_wall_ms: c ? added(wall, c) : null, added_cpu_ms: c ? added(cpu, c) : null })),
  }));
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
