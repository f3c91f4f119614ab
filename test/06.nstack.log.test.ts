/** Logging: NMEMIF_LOG parsing, per-module levels at run time, cheap disabled levels. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import {
  DEFAULT_LOG_LEVEL,
  getLogLevel,
  logger,
  parseLogSpec,
  setLogLevel,
  setLogSink,
} from '../src/nstack/log';
import { InvalidArgumentError } from '../src/errors';

test.serial('parseLogSpec: a default, per-module levels, and bad entries', (t) => {
  const p = parseLogSpec(' info , memif=debug,bridge=TRACE,nstack=loud,=warn,x ');
  t.is(p.defaultLevel, 'info');
  t.deepEqual([...p.modules], [
    ['memif', 'debug'],
    ['bridge', 'trace'],
  ]);
  t.deepEqual(p.errors, ['nstack=loud', '=warn', 'x']);
  t.is(parseLogSpec('*=error').defaultLevel, 'error');
  t.is(parseLogSpec('').defaultLevel, undefined);
});

test.serial('setLogLevel: per module and for all; messages reach the sink only when enabled', (t) => {
  const lines: string[] = [];
  setLogSink((module, level, message) => lines.push(`${module}:${level}:${message}`));
  try {
    const log = logger('test-a');
    t.is(log, logger('test-a')); // one instance per module
    t.is(log.level, getLogLevel('test-a'));
    setLogLevel('test-a', 'info');
    log.debug('hidden');
    log.info('shown %d', 42);
    log.error('also shown');
    t.deepEqual(lines, ['test-a:info:shown 42', 'test-a:error:also shown']);
    t.true(log.enabled('info'));
    t.false(log.enabled('debug'));

    const other = logger('test-b');
    setLogLevel('*', 'trace');
    t.is(other.level, 'trace');
    t.is(log.level, 'info'); // set explicitly: '*' does not override it
    other.trace('deep');
    t.is(lines.at(-1), 'test-b:trace:deep');
    setLogLevel('test-b', 'silent');
    other.error('nothing');
    t.is(lines.length, 3);
    t.throws(() => setLogLevel('test-a', 'loud' as never), { instanceOf: InvalidArgumentError });
    t.throws(() => setLogLevel('', 'info'), { instanceOf: InvalidArgumentError });
  } finally {
    setLogLevel('*', DEFAULT_LOG_LEVEL);
    setLogSink(null);
  }
});

test.serial('a disabled level neither formats its arguments nor calls the sink', (t) => {
  let formatted = 0;
  let sunk = 0;
  const costly = { toString: () => String(++formatted) };
  setLogSink(() => sunk++);
  try {
    const log = logger('test-c');
    setLogLevel('test-c', 'warn');
    for (let i = 0; i < 1000; i++) log.debug('value %s', costly);
    t.is(formatted, 0);
    t.is(sunk, 0);
    setLogLevel('test-c', 'debug');
    log.debug('value %s', costly);
    t.is(formatted, 1);
    t.is(sunk, 1);
  } finally {
    setLogSink(null);
  }
});

test('NMEMIF_LOG sets the levels at start-up; the default sink writes to stderr', (t) => {
  const root = path.resolve(__dirname, '..');
  const script = `
    const { logger } = require('./src/nstack/log.ts');
    logger('memif').debug('memif debug');
    logger('nstack').warn('nstack warn');
    logger('nstack').error('nstack error');
    logger('bridge').info('bridge info');
    console.log(JSON.stringify([logger('memif').level, logger('nstack').level, logger('bridge').level]));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: root,
    env: { ...process.env, NMEMIF_LOG: 'info,memif=debug,nstack=error' },
    encoding: 'utf8',
    timeout: 8000,
  });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout.trim()), ['debug', 'error', 'info']);
  t.regex(r.stderr, /nmemif:memif DEBUG memif debug/);
  t.regex(r.stderr, /nmemif:nstack ERROR nstack error/);
  t.regex(r.stderr, /nmemif:bridge INFO bridge info/);
  t.notRegex(r.stderr, /nstack warn/);
});

/** Runs `script` (CommonJS, from the repo root) under tsx with NMEMIF_LOG / NMIF_LOG set. */
function runWithLogEnv(script: string, env: Record<string, string>): { status: number | null; stderr: string; stdout: string } {
  const clean = { ...process.env };
  delete clean.NMEMIF_LOG;
  delete clean.NMIF_LOG;
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: path.resolve(__dirname, '..'),
    env: { ...clean, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

// A socket in a missing directory: the C core logs why at debug level, synchronously.
const C_DEBUG_LINE = /^\S+Z nmemif:memif DEBUG socket directory of \/nonexistent-nmemif-(\w+)\/m\.sock: No such file or directory$/gm;
const TRY_MASTER = `
  const { MemifSocket, setLogLevel } = require('./src/index.ts');
  const tryMaster = (dir) => {
    try { new MemifSocket('/nonexistent-nmemif-' + dir + '/m.sock'); } catch (e) { if (e.code === 'ERR_NMEMIF_SOCKET_DIR_MISSING') return; throw e; }
    throw new Error('the socket was created');
  };
`;

function cDebugDirs(stderr: string): string[] {
  return [...stderr.matchAll(C_DEBUG_LINE)].map((m) => m[1]);
}

test('the C core follows the level of module memif (NMEMIF_LOG, then setLogLevel), in the same line format', (t) => {
  const script = `${TRY_MASTER}
    tryMaster('first');
    setLogLevel('memif', 'warn');
    tryMaster('quiet');
    setLogLevel('*', 'debug'); // memif was set explicitly: '*' does not change it
    tryMaster('star');
    setLogLevel('memif', 'debug');
    tryMaster('again');
  `;
  const r = runWithLogEnv(script, { NMEMIF_LOG: 'memif=debug' });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(cDebugDirs(r.stderr), ['first', 'again'], r.stderr);
});

test('by default the C core is quiet below warn; NMIF_LOG is not read in Node and says what to use', (t) => {
  const r = runWithLogEnv(`${TRY_MASTER} tryMaster('default'); require('./src/index.ts').setLogLevel('*', 'debug'); tryMaster('star');`, {
    NMIF_LOG: 'debug',
  });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(cDebugDirs(r.stderr), ['star'], r.stderr);
  t.regex(r.stderr, /nmemif:memif WARN NMIF_LOG is not read in Node: NMEMIF_LOG=memif=<level> sets the C core's level/);
});
