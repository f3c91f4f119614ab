/** Error classes: stable codes, names, instanceof through Symbol.for brands. */
import test from 'ava';
import {
  AlreadyRegisteredError,
  BridgeConfigError,
  BridgeControlError,
  BridgeDpdkError,
  ClosedError,
  InvalidArgumentError,
  InvalidStateError,
  NativeLoadError,
  NmemifError,
  NoStackError,
  NotRegisteredError,
  RulesError,
  StackError,
  WrongThreadError,
} from '../src/errors';

const cases = [
  [InvalidArgumentError, 'ERR_NMEMIF_INVALID_ARG', 'InvalidArgumentError'],
  [InvalidStateError, 'ERR_NMEMIF_INVALID_STATE', 'InvalidStateError'],
  [ClosedError, 'ERR_NMEMIF_CLOSED', 'ClosedError'],
  [AlreadyRegisteredError, 'ERR_NMEMIF_ALREADY_REGISTERED', 'AlreadyRegisteredError'],
  [NotRegisteredError, 'ERR_NMEMIF_NOT_REGISTERED', 'NotRegisteredError'],
  [NativeLoadError, 'ERR_NMEMIF_NATIVE_LOAD', 'NativeLoadError'],
  [NoStackError, 'ERR_NMEMIF_NO_STACK', 'NoStackError'],
  [WrongThreadError, 'ERR_NMEMIF_WRONG_THREAD', 'WrongThreadError'],
] as const;

for (const [Cls, code, name] of cases) {
  test(`${name}: code ${code}, an Error and an NmemifError`, (t) => {
    const cause = new Error('root');
    const err = new Cls('something went wrong', { cause });
    t.is(err.code, code);
    t.is(err.name, name);
    t.is(err.message, 'something went wrong');
    t.is(err.cause, cause);
    t.true(err instanceof Error);
    t.true(err instanceof NmemifError);
    t.true(err instanceof Cls);
    t.true(typeof err.stack === 'string' && err.stack.includes(name));
  });
}

test('instanceof tells the classes apart', (t) => {
  const err = new NotRegisteredError('x');
  t.false(err instanceof AlreadyRegisteredError);
  t.false(new NmemifError('x') instanceof NotRegisteredError);
  t.false(new Error('x') instanceof NmemifError);
  t.false((null as unknown) instanceof NmemifError);
  t.is(new AlreadyRegisteredError('x').errno, 'EEXIST');
  t.is(err.errno, 'ENOENT');
});

test('instanceof works for errors made by another copy of the module (Symbol.for brands)', (t) => {
  // What a second copy of errors.ts would produce: same registered symbols, other classes.
  const foreign = Object.assign(new Error('from another copy'), { code: 'ERR_NMEMIF_CLOSED' });
  Object.defineProperty(foreign, Symbol.for('nmemif.error'), { value: true });
  Object.defineProperty(foreign, Symbol.for('nmemif.error.ClosedError'), { value: true });
  t.true(foreign instanceof NmemifError);
  t.true(foreign instanceof ClosedError);
  t.false(foreign instanceof InvalidStateError);
});

test('bridge errors live with the others: stable codes, brands, the field named', (t) => {
  const cfg = new BridgeConfigError('ports[1].memif', 'bad role');
  t.is(cfg.code, 'ERR_NMEMIF_BRIDGE_CONFIG');
  t.is(cfg.field, 'ports[1].memif');
  t.is(cfg.message, 'ports[1].memif: bad role');
  t.true(cfg instanceof NmemifError && cfg instanceof BridgeConfigError);
  t.false(cfg instanceof BridgeDpdkError);
  t.is(new BridgeDpdkError('no DPDK').code, 'ERR_NMEMIF_BRIDGE_DPDK');
  t.is(new BridgeControlError('no directory').code, 'ERR_NMEMIF_BRIDGE_CONTROL');
  const busy = new BridgeControlError('already listening', 'ERR_NMEMIF_BRIDGE_CONTROL_BUSY');
  t.is(busy.code, 'ERR_NMEMIF_BRIDGE_CONTROL_BUSY');
  t.true(busy instanceof BridgeControlError);
});

test('RulesError names the bad field in `field` and at the start of its message', (t) => {
  const err = new RulesError('rules[2].protocol', 'must be "udp" or "tcp"');
  t.is(err.code, 'ERR_NMEMIF_BAD_RULES');
  t.is(err.field, 'rules[2].protocol');
  t.is(err.message, 'rules[2].protocol: must be "udp" or "tcp"');
  t.true(err instanceof NmemifError && err instanceof RulesError);
  t.is(new RulesError('', 'not JSON').message, 'not JSON');
});

test('StackError is a Node-style system error: errno name as code, negative errno, syscall, address', (t) => {
  const err = new StackError('ECONNREFUSED', 'connect', { address: '127.0.0.1', port: 9 });
  t.is(err.message, 'connect ECONNREFUSED 127.0.0.1:9');
  t.is(err.code, 'ECONNREFUSED');
  t.is(err.errno, -111);
  t.is(err.syscall, 'connect');
  t.is(err.address, '127.0.0.1');
  t.is(err.port, 9);
  t.true(err instanceof Error && err instanceof StackError);
  t.false(err instanceof NmemifError);
  t.is(new StackError('EAGAIN', 'recv').message, 'recv EAGAIN');
  t.is(new StackError('EWHATEVER', 'send').errno, undefined);
  const foreign = Object.assign(new Error('x'), { code: 'EPIPE' });
  Object.defineProperty(foreign, Symbol.for('nmemif.error.StackError'), { value: true });
  t.true(foreign instanceof StackError);
});
