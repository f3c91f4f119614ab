#!/usr/bin/env node
/**
 * The package as a consumer gets it: `npm pack`, publint and attw on the tarball, then an empty
 * project that installs the tarball (its install script compiles the addon) and runs a
 * CommonJS program, an ES module program with named imports and a TypeScript program compiled
 * with `tsc --init`'s defaults (strict, skipLibCheck turned off), each moving exactly FRAMES frames
 * over a memif pair; and one bin. Nothing is cached across runs: a new temporary project each
 * time. Prints TAP ("ok N - ...", "# pass N", "# fail N") and the figures (tarball size, install
 * time, node_modules size).
 *
 *   node test/package/run.js [--keep]     (--keep leaves the temporary project for inspection)
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const FRAMES = 10000;
const keep = process.argv.includes('--keep');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nmemif-package-'));
const project = path.join(work, 'consumer');
let passed = 0;
let failed = 0;

// npm exports its own settings to scripts (npm_config_*): the consumer's npm must not inherit them.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_|^INIT_CWD$/i.test(k)));

function report(ok, name, detail = '') {
  if (ok) passed++;
  else failed++;
  process.stdout.write(`${ok ? 'ok' : 'not ok'} ${passed + failed} - ${name}\n`);
  if (detail && !ok) process.stdout.write(`${detail.trim().split('\n').map((l) => `  # ${l}`).join('\n')}\n`);
  return ok;
}

function sh(cmd, args, cwd, timeoutMs = 120_000) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  const out = `${r.stdout || ''}${r.stderr || ''}${r.error ? `\n${r.error.message}` : ''}`;
  return { ok: r.status === 0, out, stdout: r.stdout || '', seconds: (Date.now() - started) / 1000 };
}

function bin(pkgDir, name) {
  const pkg = require(path.join(pkgDir, 'package.json'));
  const rel = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin[name];
  return path.join(pkgDir, rel);
}

function treeBytes(dir) {
  let total = 0;
  for (const f of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) total += fs.statSync(path.join(f.parentPath ?? f.path, f.name)).size;
  }
  return total;
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const lastJson = (text) => JSON.parse(text.trim().split('\n').pop() || 'null');

function pack() {
  const r = sh('npm', ['pack', '--json', '--pack-destination', work], root, 300_000);
  if (!report(r.ok, 'npm pack (prepare builds dist/ first)', r.ok ? '' : r.out)) return null;
  const info = JSON.parse(r.stdout.slice(r.stdout.search(/^\[$/m)))[0]; // after any output of prepare
  const files = info.files.map((f) => f.path);
  const stray = files.filter((f) => /^(test|bench|\.ci|examples|dist\/\.tsc)\//.test(f) || f.endsWith('.tsbuildinfo'));
  report(stray.length === 0, 'the tarball holds no tests, benchmarks, CI files or build state', stray.join('\n'));
  process.stdout.write(`# tarball ${info.filename}: ${(info.size / 1024).toFixed(0)} kB packed, ${(info.unpackedSize / 1024).toFixed(0)} kB unpacked, ${info.entryCount} files\n`);
  return path.join(work, info.filename);
}

function lint(tarball) {
  const publint = sh(process.execPath, [bin(path.join(root, 'node_modules', 'publint'), 'publint'), 'run', tarball, '--strict'], root);
  report(publint.ok && !/suggestion|warning|error/i.test(publint.out.replace(/All good!/, '')), 'publint --strict', publint.out);
  const attw = sh(process.execPath, [bin(path.join(root, 'node_modules', '@arethetypeswrong', 'cli'), 'attw'), tarball, '--no-definitely-typed', '--format', 'ascii'], root);
  report(attw.ok && /No problems found/.test(attw.out), 'attw (node10, node16 from CJS and ESM, bundler)', attw.out);
}

function install(tarball) {
  fs.mkdirSync(project);
  // allowScripts approves the install script as `npm install-scripts approve nmemif` would: by
  // name for a registry install, by its file: spec for a tarball.
  const allowScripts = { [`file:${tarball}`]: true };
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'nmemif-consumer', version: '1.0.0', private: true, allowScripts }, null, 2));
  const r = sh('npm', ['install', tarball, '--no-audit', '--no-fund', '--foreground-scripts'], project, 900_000);
  const progress = r.out.split('\n').filter((l) => l.startsWith('nmemif: ')).join('\n');
  const addon = path.join(project, 'node_modules', 'nmemif', 'build', 'Release', 'nmemif.node');
  if (!report(r.ok && fs.existsSync(addon) && progress !== '', 'npm install of the tarball compiles the addon, with progress', r.out)) return false;
  process.stdout.write(`${progress.replace(/^/gm, '# ')}\n`);
  const nm = path.join(project, 'node_modules');
  const unwanted = ['tsx', 'esbuild', 'typescript', 'ava'].filter((p) => fs.existsSync(path.join(nm, p)));
  report(unwanted.length === 0, 'no TypeScript tooling among the dependencies', unwanted.join(', '));
  report(!/not yet covered by allowScripts/.test(r.out), 'the approved install script ran without a policy warning', r.out);
  process.stdout.write(`# install: ${r.seconds.toFixed(1)} s; node_modules ${mb(treeBytes(nm))} (nmemif ${mb(treeBytes(path.join(nm, 'nmemif')))}, its build/ ${mb(treeBytes(path.join(nm, 'nmemif', 'build')))})\n`);
  return true;
}

function typescript() {
  // The same compiler and Node types the repository uses, as a consumer's dev dependencies.
  const versions = ['typescript', '@types/node'].map((p) => `${p}@${require(path.join(root, 'node_modules', p, 'package.json')).version}`);
  const dev = sh('npm', ['install', '--save-dev', '--prefer-offline', '--no-audit', '--no-fund', ...versions], project, 300_000);
  if (!report(dev.ok, `npm install --save-dev ${versions.join(' ')}`, dev.ok ? '' : dev.out)) return false;
  const tsc = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc');
  const init = sh(process.execPath, [tsc, '--init'], project);
  const file = path.join(project, 'tsconfig.json');
  const config = init.ok ? fs.readFileSync(file, 'utf8') : '';
  const strictNoSkip = config.replace(/"skipLibCheck":\s*true/, '"skipLibCheck": false');
  if (!report(/"strict":\s*true/.test(config) && strictNoSkip !== config, 'tsc --init: strict, skipLibCheck turned off', init.out + config)) return false;
  fs.writeFileSync(file, strictNoSkip);
  const build = sh(process.execPath, [tsc, '-p', '.'], project);
  return report(build.ok, 'tsc compiles the TypeScript consumer against the published declarations', build.out);
}

function runProgram(name, file, check) {
  const dir = fs.mkdtempSync(path.join(work, 'sock-'));
  const r = sh(process.execPath, [file, dir, String(FRAMES)], project);
  let got = null;
  try {
    got = r.ok ? lastJson(r.stdout) : null;
  } catch {
    got = null;
  }
  const ok = got !== null && got.sent === FRAMES && got.received === FRAMES && got.outOfOrder === 0 && check(got);
  report(ok, `${name}: ${FRAMES} frames over a memif pair, in order`, `${r.out}\n${JSON.stringify(got)}`);
}

function tools() {
  const loopback = path.join(project, 'node_modules', '.bin', 'nmemif-loopback');
  const r = sh(loopback, ['--duration', '1'], project);
  report(r.ok && /OK: zero loss/.test(r.stdout), 'the nmemif-loopback bin runs compiled JavaScript from the package', r.out);
  const bridge = sh(path.join(project, 'node_modules', '.bin', 'nmemif-bridge'), ['--help'], project);
  report(bridge.ok && /^Usage: nmemif-bridge/.test(bridge.stdout), 'the nmemif-bridge bin', bridge.out);
}

try {
  const tarball = pack();
  if (tarball) {
    lint(tarball);
    if (install(tarball)) {
      for (const f of ['move-frames.mts', 'ts.mts', 'esm.mjs', 'cjs.cjs']) fs.copyFileSync(path.join(__dirname, f), path.join(project, f));
      const compiled = typescript();
      if (compiled) {
        runProgram('CommonJS', 'cjs.cjs', (g) => g.sameLibrary === true && g.requireHook.length === 0);
        runProgram('ES module, named imports (every CommonJS export)', 'esm.mjs', (g) => g.subpaths.join() === 'function,function' && g.missing.length === 0);
        runProgram('TypeScript', 'ts.mjs', (g) => g.code === 'ERR_NMEMIF_SOCKET_DIR_MISSING');
      } else {
        report(false, 'consumer programs (they need the compiled helper; see the tsc failure above)');
      }
      tools();
    }
  }
} finally {
  if (keep) process.stdout.write(`# kept ${work}\n`);
  else fs.rmSync(work, { recursive: true, force: true });
}
process.stdout.write(`# pass ${passed}\n# fail ${failed}\n`);
process.exitCode = failed > 0 ? 1 : 0;
