/**
 * The responder's answers, in process (examples/lib/packets.ts): ARP, ICMPv4 echo, IPv6
 * neighbour solicitation → advertisement and ICMPv6 echo, each rewritten in place with valid
 * checksums; requests for other addresses or with bad checksums are left alone.
 */
import test from 'ava';
import {
  ETH_HLEN,
  IPV6_HLEN,
  answerInPlace,
  buildArpRequest,
  buildIcmp6Echo,
  buildIcmpEcho,
  buildNeighborSolicitation,
  checksumOk,
  parseEchoReply,
  parseIPv4,
  parseIPv6,
  parseMac,
  sum16,
} from '../examples/lib/packets';

const ME = { mac: parseMac('02:fe:00:00:00:01')!, ip: parseIPv4('10.0.0.1')!, ip6: parseIPv6('2001:db8::1')! };
const PEER_MAC = parseMac('02:fe:00:00:00:02')!;

function icmp6ChecksumOk(b: Uint8Array): boolean {
  const plen = (b[ETH_HLEN + 4] << 8) | b[ETH_HLEN + 5];
  const pseudo = sum16(b, ETH_HLEN + 8, 32) + plen + 58;
  return checksumOk(b, ETH_HLEN + IPV6_HLEN, plen, pseudo);
}

test('address parsers', (t) => {
  t.deepEqual([...parseIPv6('::1')!], [...new Array(15).fill(0), 1]);
  t.deepEqual([...parseIPv6('fe80::2:3')!.subarray(0, 2)], [0xfe, 0x80]);
  t.is(parseIPv6('1:2:3'), undefined);
  t.is(parseIPv6('1::2::3'), undefined);
  t.is(parseIPv4('256.1.1.1'), undefined);
  t.is(parseMac('02:fe:00:00:00'), undefined);
});

test('ARP request for us → reply in place; for someone else → untouched', (t) => {
  const req = buildArpRequest(PEER_MAC, parseIPv4('10.0.0.2')!, ME.ip);
  t.is(answerInPlace(req, req.length, ME), 'arp');
  t.deepEqual([...req.subarray(0, 6)], [...PEER_MAC], 'to the asker');
  t.is(req[ETH_HLEN + 7], 2, 'op reply');
  t.deepEqual([...req.subarray(ETH_HLEN + 8, ETH_HLEN + 14)], [...ME.mac], 'sender hw = us');
  t.deepEqual([...req.subarray(ETH_HLEN + 24, ETH_HLEN + 28)], [10, 0, 0, 2], 'target ip = asker');
  const other = buildArpRequest(PEER_MAC, parseIPv4('10.0.0.2')!, parseIPv4('10.0.0.9')!);
  const copy = other.slice();
  t.is(answerInPlace(other, other.length, ME), undefined);
  t.deepEqual(other, copy);
});

test('ICMPv4 echo → reply with valid checksums that the sender matches', (t) => {
  const addrs = { srcMac: PEER_MAC, dstMac: ME.mac, srcIp: parseIPv4('10.0.0.2')!, dstIp: ME.ip };
  for (const size of [60, 98, 1500, 9000]) {
    const f = new Uint8Array(size);
    buildIcmpEcho(f, size, addrs, 0x1234, 70000 + size, 0xdeadbeef);
    t.is(answerInPlace(f, size, ME), 'icmp');
    const r = parseEchoReply(f, size, addrs);
    t.deepEqual(r, { ident: 0x1234, seq16: (70000 + size) & 0xffff, seq: 70000 + size, token: 0xdeadbeef });
  }
  const bad = new Uint8Array(64);
  buildIcmpEcho(bad, 64, addrs, 1, 1, 1);
  bad[50] ^= 0xff; // corrupt the payload: the ICMP checksum no longer holds
  t.is(answerInPlace(bad, 64, ME), undefined);
});

test('IPv6 neighbour solicitation → advertisement; ICMPv6 echo → reply (checksums valid)', (t) => {
  const peer6 = parseIPv6('2001:db8::2')!;
  const ns = buildNeighborSolicitation(PEER_MAC, peer6, ME.ip6);
  t.true(icmp6ChecksumOk(ns));
  t.is(answerInPlace(ns, ns.length, ME), 'nd');
  const l4 = ETH_HLEN + IPV6_HLEN;
  t.is(ns[l4], 136, 'neighbour advertisement');
  t.is(ns[l4 + 4], 0x60, 'solicited + override');
  t.deepEqual([...ns.subarray(l4 + 8, l4 + 24)], [...ME.ip6], 'target');
  t.is(ns[l4 + 24], 2, 'target link-layer address option');
  t.deepEqual([...ns.subarray(l4 + 26, l4 + 32)], [...ME.mac]);
  t.deepEqual([...ns.subarray(ETH_HLEN + 24, ETH_HLEN + 40)], [...peer6], 'to the solicitor');
  t.true(icmp6ChecksumOk(ns));

  const echo = buildIcmp6Echo({ srcMac: PEER_MAC, dstMac: ME.mac, srcIp: peer6, dstIp: ME.ip6 }, 7, 9, 56);
  t.is(answerInPlace(echo, echo.length, ME), 'icmp6');
  t.is(echo[l4], 129);
  t.deepEqual([...echo.subarray(ETH_HLEN + 8, ETH_HLEN + 24)], [...ME.ip6]);
  t.true(icmp6ChecksumOk(echo));
  const notMe = buildIcmp6Echo({ srcMac: PEER_MAC, dstMac: ME.mac, srcIp: peer6, dstIp: parseIPv6('2001:db8::3')! }, 7, 9);
  t.is(answerInPlace(notMe, notMe.length, ME), undefined);
});
