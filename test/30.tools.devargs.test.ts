/**
 * --memif devargs (src/memif/devargs.ts): DPDK net_memif keys, VPP's role synonyms, defaults
 * that reach a stock VPP, and errors that name the bad key and the accepted values.
 */
import test from 'ava';
import { InvalidArgumentError } from '../src/errors';
import { parseDevargs } from '../src/memif/devargs';

test('defaults reach a stock VPP: client, /run/vpp/memif.sock (filesystem), id 0, ethernet', (t) => {
  const d = parseDevargs('');
  t.deepEqual(d.socket, { path: '/run/vpp/memif.sock' });
  t.deepEqual(d.interface, { role: 'slave', id: 0, mode: 'ethernet' });
  t.is(d.mac, undefined);
});

test('every key', (t) => {
  const d = parseDevargs('role=server,id=7,socket=/tmp/x.sock,socket-abstract=no,secret=s3cret,rsize=12,bsize=4096,mac=02:FE:00:00:00:01,mode=ip,queues=4');
  t.deepEqual(d.socket, { path: '/tmp/x.sock' });
  t.deepEqual(d.interface, { role: 'master', id: 7, mode: 'ip', secret: 's3cret', log2RingSize: 12, bufferSize: 4096, rxQueues: 4, txQueues: 4 });
  t.is(d.mac, '02:fe:00:00:00:01');
});

test("VPP's master/slave and DPDK's server/client", (t) => {
  t.is(parseDevargs('role=master').interface.role, 'master');
  t.is(parseDevargs('role=server').interface.role, 'master');
  t.is(parseDevargs('role=slave').interface.role, 'slave');
  t.is(parseDevargs('role=client').interface.role, 'slave');
});

test('socket-abstract=yes makes socket=name the abstract name @name; a pasted vdev name is ignored', (t) => {
  t.is(parseDevargs('socket=memif.sock,socket-abstract=yes').socket.path, '@memif.sock');
  t.is(parseDevargs('socket=@already').socket.path, '@already');
  t.is(parseDevargs('net_memif0,role=server,socket=/run/memif.sock,socket-abstract=yes').socket.path, '@/run/memif.sock');
});

const BAD: [string, RegExp][] = [
  ['role=boss', /role=.*server, client, master or slave/],
  ['id=-1', /id=.*0 to 4294967295/],
  ['id=abc', /id=/],
  ['rsize=15', /rsize=.*1 to 14/],
  ['bsize=70000', /bsize=.*64 to 65535/],
  ['socket-abstract=maybe', /socket-abstract=.*yes or no/],
  ['mac=01:02', /mac=.*xx:xx:xx:xx:xx:xx/],
  ['mode=punt', /mode=.*ethernet or ip/],
  ['queues=0', /queues=.*1 to 255/],
  ['secret=123456789012345678901234', /secret=.*23 bytes/],
  ['zero-copy=yes', /unknown key "zero-copy".*role, id, socket/],
  ['role', /not key=value/],
  ['id=1,id=2', /id= given twice/],
  ['socket=@x,socket-abstract=no', /socket=.*drop the "@"/],
];
for (const [text, re] of BAD) {
  test(`rejects ${text}`, (t) => {
    const err = t.throws(() => parseDevargs(text), { instanceOf: InvalidArgumentError });
    t.is(err?.code, 'ERR_NMEMIF_INVALID_ARG');
    t.regex(err!.message, re);
  });
}
