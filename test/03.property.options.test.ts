/**
 * Property tests (fast-check) for what users type: interface/socket options and DPDK-style
 * devargs. Whatever the input, the result is either a fully valid resolved value or an
 * InvalidArgumentError with its stable code — never another error, never a half-valid value.
 */
import test from 'ava';
import fc from 'fast-check';
import { InvalidArgumentError } from '../src/errors';
import { parseDevargs } from '../src/memif/devargs';
import { MODES, resolveInterfaceOptions, resolveSocketOptions, type ResolvedInterfaceOptions } from '../src/memif/options';

const RUNS = { numRuns: 2000 };

/** Throws unless `fn` returns, or throws InvalidArgumentError with its code. */
function okOrInvalid<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof InvalidArgumentError) || err.code !== 'ERR_NMEMIF_INVALID_ARG') throw err;
    return undefined;
  }
}

function assertValidInterface(o: ResolvedInterfaceOptions): void {
  const int = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
  if (o.role !== 'master' && o.role !== 'slave') throw new Error(`role ${String(o.role)}`);
  if (!int(o.id, 0, 0xffffffff)) throw new Error(`id ${o.id}`);
  if (!Object.hasOwn(MODES, o.mode)) throw new Error(`mode ${String(o.mode)}`);
  if (!int(o.rxQueues, 1, 255) || !int(o.txQueues, 1, 255)) throw new Error('queues');
  if (!int(o.log2RingSize, 1, 14)) throw new Error('log2RingSize');
  if (!int(o.bufferSize, 64, 65535)) throw new Error('bufferSize');
  if (typeof o.name !== 'string' || Buffer.byteLength(o.name) > 31) throw new Error('name');
  if (typeof o.secret !== 'string' || Buffer.byteLength(o.secret) > 23) throw new Error('secret');
  if (!['interrupt', 'polling', 'adaptive'].includes(o.rxMode)) throw new Error(`rxMode ${String(o.rxMode)}`);
  if (o.rxTrigger !== 'level' && o.rxTrigger !== 'edge') throw new Error(`rxTrigger ${String(o.rxTrigger)}`);
  if (typeof o.errorOnViolation !== 'boolean') throw new Error('errorOnViolation');
}

const KEYS = ['role', 'id', 'name', 'secret', 'mode', 'rxQueues', 'txQueues', 'log2RingSize', 'bufferSize', 'rxMode', 'rxTrigger', 'errorOnViolation'];
/** Keys a user might type, real ones and traps (inherited names, typos). */
const anyKey = fc.oneof(fc.constantFrom(...KEYS, 'toString', 'constructor', 'hasOwnProperty', 'valueOf', 'queues', 'ring'), fc.string());
const anyValue = fc.oneof(
  fc.anything(),
  fc.constantFrom('master', 'slave', 'server', 'client', 'ethernet', 'ip', 'punt-inject', 'toString', 'constructor', 'polling', 'adaptive', 'level', 'edge'),
  fc.integer({ min: -5, max: 70000 }),
);

const validInterfaceOptions = fc.record(
  {
    role: fc.constantFrom('master', 'slave', 'server', 'client'),
    id: fc.integer({ min: 0, max: 0xffffffff }),
    name: fc.string({ maxLength: 31 }).filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= 31),
    secret: fc.string({ maxLength: 23 }).filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= 23),
    mode: fc.constantFrom('ethernet', 'ip', 'punt-inject'),
    rxQueues: fc.integer({ min: 1, max: 255 }),
    txQueues: fc.integer({ min: 1, max: 255 }),
    log2RingSize: fc.integer({ min: 1, max: 14 }),
    bufferSize: fc.integer({ min: 64, max: 65535 }),
    rxMode: fc.constantFrom('interrupt', 'polling', 'adaptive'),
  },
  { requiredKeys: [] },
);

/** Valid options with one key set to anything (traps included): reaches every check. */
const anyInterfaceOptions = fc
  .tuple(validInterfaceOptions, anyKey, anyValue)
  .map(([valid, key, value]) => ({ ...valid, [key]: value }));

test('interface options: any object resolves to valid options or fails with InvalidArgumentError', (t) => {
  fc.assert(
    fc.property(anyInterfaceOptions, (opts) => {
      const o = okOrInvalid(() => resolveInterfaceOptions(opts as never));
      if (o === undefined) return;
      assertValidInterface(o);
      for (const k of Object.keys(o)) if (!KEYS.includes(k)) throw new Error(`unknown key ${k} accepted`);
    }),
    RUNS,
  );
  t.pass();
});

test('interface options: every valid combination resolves to exactly what was asked', (t) => {
  fc.assert(
    fc.property(validInterfaceOptions, (opts) => {
      const o = resolveInterfaceOptions(opts as never);
      assertValidInterface(o);
      for (const [k, v] of Object.entries(opts)) {
        const want = k === 'role' ? (v === 'server' || v === 'master' ? 'master' : 'slave') : v;
        if ((o as unknown as Record<string, unknown>)[k] !== want) throw new Error(`${k}: ${String((o as unknown as Record<string, unknown>)[k])} != ${String(want)}`);
      }
    }),
    RUNS,
  );
  t.pass();
});

test('socket options: any object or string resolves to valid options or fails with InvalidArgumentError', (t) => {
  const keys = fc.oneof(fc.constantFrom('path', 'appName', 'reconnectMinMs', 'reconnectMaxMs', 'handshakeTimeoutMs', 'allowUnsealedRegions', 'handleSignals', 'toString'), fc.string());
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.dictionary(keys, anyValue, { maxKeys: 5 })), (opts) => {
      const o = okOrInvalid(() => resolveSocketOptions(opts as never));
      if (o === undefined) return;
      if (typeof o.path !== 'string' || o.path === '' || Buffer.byteLength(o.path) > 107) throw new Error(`path ${o.path}`);
      if (!(o.reconnectMinMs >= 1 && o.reconnectMaxMs >= o.reconnectMinMs)) throw new Error('backoff');
      if (typeof o.allowUnsealedRegions !== 'boolean') throw new Error('allowUnsealedRegions');
      if (typeof o.handleSignals !== 'boolean') throw new Error('handleSignals');
    }),
    RUNS,
  );
  t.pass();
});

/** devargs text from parts, as users write it (any order, optional vdev name in front). */
const devargsModel = fc.record(
  {
    role: fc.constantFrom('server', 'client', 'master', 'slave'),
    id: fc.integer({ min: 0, max: 0xffffffff }),
    socket: fc.stringMatching(/^\/tmp\/[a-z0-9._-]{1,40}$/),
    rsize: fc.integer({ min: 1, max: 14 }),
    bsize: fc.integer({ min: 64, max: 65535 }),
    mac: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':')),
    mode: fc.constantFrom('ethernet', 'ip'),
    queues: fc.integer({ min: 1, max: 255 }),
  },
  { requiredKeys: [] },
);

test('devargs: what a user writes is parsed back exactly, in any key order', (t) => {
  fc.assert(
    fc.property(devargsModel, fc.boolean(), fc.infiniteStream(fc.nat()), (m, vdev, order) => {
      const parts = Object.entries(m).map(([k, v]) => `${k}=${v}`);
      const it = order[Symbol.iterator]();
      parts.sort(() => (it.next().value % 3) - 1);
      const d = parseDevargs([...(vdev ? ['net_memif0'] : []), ...parts].join(','));
      const i = d.interface;
      if (m.role !== undefined && i.role !== (m.role === 'server' || m.role === 'master' ? 'master' : 'slave')) throw new Error('role');
      if (m.id !== undefined && i.id !== m.id) throw new Error('id');
      if (m.socket !== undefined && d.socket.path !== m.socket) throw new Error('socket');
      if (m.rsize !== undefined && i.log2RingSize !== m.rsize) throw new Error('rsize');
      if (m.bsize !== undefined && i.bufferSize !== m.bsize) throw new Error('bsize');
      if (m.mac !== undefined && d.mac !== m.mac) throw new Error('mac');
      if (m.mode !== undefined && i.mode !== m.mode) throw new Error('mode');
      if (m.queues !== undefined && (i.rxQueues !== m.queues || i.txQueues !== m.queues)) throw new Error('queues');
      // What devargs produce is always accepted by the interface options.
      assertValidInterface(resolveInterfaceOptions(i));
    }),
    RUNS,
  );
  t.pass();
});

test('devargs: any text parses to options the interface accepts, or fails with InvalidArgumentError', (t) => {
  const piece = fc.oneof(
    fc.string(),
    fc.tuple(fc.constantFrom('role', 'id', 'socket', 'socket-abstract', 'secret', 'rsize', 'bsize', 'mac', 'mode', 'queues', 'toString', '__proto__'), fc.string()).map(([k, v]) => `${k}=${v}`),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 6 }), (pieces) => {
      const d = okOrInvalid(() => parseDevargs(pieces.join(',')));
      if (d !== undefined) assertValidInterface(resolveInterfaceOptions(d.interface));
    }),
    RUNS,
  );
  t.pass();
});
