/**
 * The lwIP stack's API: options checked at the edge with the field named (in this process: no
 * stack is created), and in a child process (lwIP is per process; the runner's threads share
 * one) what every socket call returns or throws, readiness, loopback delivery woken from
 * lwIP's thread, batch receive, one stack per process, close and reopen, a stack in a worker
 * thread released when the worker is terminated.
 */
import test from 'ava';
import * as path from 'node:path';
import { InvalidArgumentError, InvalidStateError } from '../src/errors';
import { MemifSocket } from '../src/memif/socket';
import { EPOLLOUT } from '../src/nstack/constants';
import { createLwipStack, lwipAvailable, lwipUnavailableReason } from '../src/nstack/stacks/lwip';
import { lastJson, runFixture } from './helpers/fixture';
import { tempDir } from './helpers/memif';
import { lwipSkipReason } from './helpers/lwip';

test('availability is a boolean with a reason when false', (t) => {
  t.is(typeof lwipAvailable(), 'boolean');
  t.is(lwipUnavailableReason() === '', lwipAvailable());
  if (!lwipAvailable()) t.throws(() => createLwipStack(), { instanceOf: InvalidStateError, message: /not available/ });
});

const BAD: Array<[string, Record<string, unknown>, RegExp]> = [
  ['no memif', {}, /interfaces\[0\]\.memif: expected a MemifInterface or devargs/],
  ['bad devargs key', { memif: 'role=client,colour=red' }, /unknown key "colour"/],
  ['ip mode', { memif: 'role=client,mode=ip' }, /interfaces\[0\]\.memif: lwIP needs mode=ethernet/],
  ['no prefix', { memif: 'role=client', ip: '10.0.0.1' }, /interfaces\[0\]\.ip: expected an IPv4 address with a prefix length/],
  ['prefix 33', { memif: 'role=client', ip: '10.0.0.1/33' }, /interfaces\[0\]\.ip:/],
  ['gateway without ip', { memif: 'role=client', gateway: '10.0.0.254' }, /interfaces\[0\]\.gateway: needs ip/],
  ['bad gateway', { memif: 'role=client', ip: '10.0.0.1/24', gateway: 'fd00::1' }, /interfaces\[0\]\.gateway: expected an IPv4 address/],
  ['ip6 /48', { memif: 'role=client', ip6: 'fd00::1/48' }, /interfaces\[0\]\.ip6: the prefix must be \/64/],
  ['ip6 link-local', { memif: 'role=client', ip6: 'fe80::1/64' }, /interfaces\[0\]\.ip6: .* is not a unicast global or unique-local/],
  ['multicast mac', { memif: 'role=client', mac: '01:00:5e:00:00:01' }, /interfaces\[0\]\.mac: .* is a multicast address/],
  ['bad mac', { memif: 'role=client', mac: '02:00:00' }, /interfaces\[0\]\.mac: expected a MAC address/],
  ['queue past the end', { memif: 'role=client,queues=2', queue: 2 }, /interfaces\[0\]\.queue: expected an integer from 0 to 1/],
  ['mtu', { memif: 'role=client', mtu: 100 }, /interfaces\[0\]\.mtu: expected an integer from 576 to 9000/],
  ['unknown option', { memif: 'role=client', colour: 'red' }, /interfaces\[0\]\.colour: unknown option/],
];

for (const [what, options, message] of BAD) {
  test(`bad interface options are refused before lwIP starts: ${what}`, (t) => {
    const make = () => createLwipStack({ interfaces: [options as never] });
    if (lwipAvailable()) t.throws(make, { instanceOf: InvalidArgumentError, message });
    else t.throws(make, { instanceOf: InvalidStateError, message: /not available/ });
  });
}

test('an interface of another mode is refused', (t) => {
  const sock = new MemifSocket(path.join(tempDir(t), 'm.sock'));
  t.teardown(() => sock.close());
  const iface = sock.createInterface({ role: 'master', mode: 'ip' });
  t.throws(() => createLwipStack({ interfaces: [{ memif: iface }] }), { message: lwipAvailable() ? /lwIP needs an ethernet-mode interface/ : /not available/ });
});

const apiTest = lwipSkipReason === null ? test : test.skip;

apiTest('socket calls, readiness, loopback wake-up, batch receive, one stack per process, close and reopen, a worker\'s stack', async (t) => {
  const r = await runFixture('lwip-api.ts', { args: ['--path', path.join(tempDir(t), 'm.sock')], timeoutMs: 240_000 });
  t.is(r.code, 0, `${r.timedOut ? 'killed after 240 s; ' : ''}${r.stderr}`);
  const got = lastJson<{ results: Record<string, unknown> }>(r).results;
  t.like(got, {
    secondStack: 'InvalidStateError:ERR_NMEMIF_INVALID_STATE',
    netif: { name: 'mf0', mac: '02:fe:00:64:00:01', ip: '10.64.0.1/24', ip6: ['fe80::fe:ff:fe64:1', 'fd00:64::1'] },
    up: true,
    udpReady: EPOLLOUT,
    bindElsewhere: 'StackError:EADDRNOTAVAIL',
    bind: 'ok',
    ephemeralPort: true,
    sendToV6FromV4: 'StackError:EAFNOSUPPORT',
    sendNoDestination: 'StackError:EDESTADDRREQ',
    peerOfUnconnected: 'StackError:ENOTCONN',
    listenUdp: 'StackError:EOPNOTSUPP',
    recvBuffer: 100_000,
    ttl: 33,
    unknownOption: 'InvalidArgumentError:ERR_NMEMIF_INVALID_ARG',
    noErrorPending: 0,
    loopNotified: true,
    batch1: [2, 1, [10, 20], true],
    batch2: [1, 0, 30, 30],
    recvNothing: null,
    recvTruncated: [8, true],
    tcpFresh: 0,
    tcpRecvUnconnected: 'StackError:ENOTCONN',
    tcpListen: 'ok',
    acceptNone: null,
    bindInUse: 'StackError:EADDRINUSE',
    noDelay: true,
    tcpRecvBuffer: 'StackError:ENOPROTOOPT',
    recvBatchTcp: 'StackError:EOPNOTSUPP',
    connectSelf: 'ok',
    acceptedPeerPort: true,
    connectedWritable: true,
    sendTcp: 1000,
    recvTcp: 1000,
    shutdownWrite: 'ok',
    eof: 0,
    sendAfterShutdown: 'StackError:EPIPE',
    closeUdp: 'ok',
    closeAgain: 'StackError:EBADF',
    foreignHandle: 'InvalidArgumentError:ERR_NMEMIF_INVALID_ARG',
    badShutdown: 'InvalidArgumentError:ERR_NMEMIF_INVALID_ARG',
    afterClose: 'InvalidStateError:ERR_NMEMIF_INVALID_STATE',
    socketAfterClose: 'StackError:EBADF',
    reopen: 'reopened',
    workerStack: ['open', 'ERR_NMEMIF_INVALID_STATE'],
    afterWorker: 'reopened',
  });
});
