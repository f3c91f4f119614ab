/** nRD rules: parsing, longest-prefix then priority choice, protocols, IPv6, default plane, and bad rules rejected with the field named. */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError, RulesError } from '../src/errors';
import { NrdRules, describeRule, type NrdRulesSpec } from '../src/nstack/nrd';
import { formatIp, parseIp, parsePrefix } from '../src/nstack/ip';

const plane = (rules: NrdRules, addr: string, proto: 'udp' | 'tcp' = 'udp') => rules.match(addr, proto)?.plane ?? null;

test('IP parsing: IPv4, compressed IPv6, embedded IPv4, zones; formatting round-trips', (t) => {
  t.deepEqual([...parseIp('10.1.2.3')!.bytes], [10, 1, 2, 3]);
  t.deepEqual([...parseIp('fd00::1')!.bytes], [0xfd, 0, ...new Array(13).fill(0), 1]);
  t.deepEqual([...parseIp('::ffff:10.0.0.1')!.bytes].slice(10), [0xff, 0xff, 10, 0, 0, 1]);
  t.deepEqual([...parseIp('fe80::1%eth0')!.bytes].slice(0, 2), [0xfe, 0x80]);
  t.is(parseIp('10.0.0'), undefined);
  t.is(parseIp('example.com'), undefined);
  for (const a of ['10.1.2.3', 'fd00::1', '2001:db8::8:800:200c:417a', '::', '1::', 'fe80::1:0:0:1']) {
    t.is(formatIp(parseIp(a)!), a);
  }
});

test('a rules object parses, and toJSON gives back an equivalent rules file', (t) => {
  const spec: NrdRulesSpec = {
    default: 'nstack-linux',
    rules: [
      { prefix: '10.0.0.0/8', plane: 'nstack-memif' },
      { prefix: 'fd00::/8', protocol: 'tcp', plane: 'nstack-memif', priority: 3 },
      { protocol: 'udp', plane: 'nstack-dpdk' },
    ],
  };
  const rules = NrdRules.parse(spec);
  t.is(rules.defaultPlane, 'nstack-linux');
  t.is(rules.rules.length, 3);
  t.deepEqual(rules.rules[1].prefix?.length, 8);
  t.deepEqual(rules.toJSON(), spec);
  t.deepEqual(NrdRules.parse(rules.toJSON()).toJSON(), spec);
  t.is(describeRule(rules.rules[1]), 'rules[1] (fd00::/8, tcp, priority 3)');
});

test('the longest matching prefix wins, whatever the file order', (t) => {
  const rules = NrdRules.parse({
    default: 'D',
    rules: [
      { prefix: '10.0.0.0/8', plane: 'A' },
      { prefix: '10.1.2.0/24', plane: 'C' },
      { prefix: '10.1.0.0/16', plane: 'B' },
      { prefix: '0.0.0.0/0', plane: 'Z' },
    ],
  });
  t.is(plane(rules, '10.1.2.3'), 'C');
  t.is(plane(rules, '10.1.3.3'), 'B');
  t.is(plane(rules, '10.2.0.1'), 'A');
  t.is(plane(rules, '192.168.0.1'), 'Z');
  t.is(rules.match('10.1.3.3', 'udp')?.rule?.index, 2);
  // An odd prefix length compares the partial byte.
  const odd = NrdRules.parse({ rules: [{ prefix: '192.168.0.0/23', plane: 'X' }] });
  t.is(plane(odd, '192.168.1.255'), 'X');
  t.is(plane(odd, '192.168.2.0'), null);
});

test('equal prefixes: the lowest priority number wins, then the first in the file', (t) => {
  const rules = NrdRules.parse({
    rules: [
      { prefix: '10.0.0.0/8', plane: 'late', priority: 5 },
      { prefix: '10.0.0.0/8', plane: 'early', priority: 1 },
      { prefix: '10.0.0.0/8', plane: 'also-1', priority: 1 },
    ],
  });
  t.is(plane(rules, '10.9.9.9'), 'early');
  // Priority never beats a longer prefix.
  const longer = NrdRules.parse({
    rules: [
      { prefix: '10.0.0.0/8', plane: 'short', priority: 0 },
      { prefix: '10.5.0.0/16', plane: 'long', priority: 9 },
    ],
  });
  t.is(plane(longer, '10.5.1.1'), 'long');
});

test('protocol rules: a rule for one protocol leaves the other alone; a protocol-only rule is the least specific', (t) => {
  const rules = NrdRules.parse({
    default: 'D',
    rules: [
      { prefix: '10.0.0.0/8', protocol: 'tcp', plane: 'T' },
      { protocol: 'udp', plane: 'U' },
      { prefix: '172.16.0.0/12', plane: 'P' },
    ],
  });
  t.is(plane(rules, '10.0.0.1', 'tcp'), 'T');
  t.is(plane(rules, '10.0.0.1', 'udp'), 'U');
  t.is(plane(rules, '8.8.8.8', 'tcp'), 'D');
  t.is(plane(rules, '172.16.5.5', 'udp'), 'P'); // any prefix beats a protocol-only rule
});

test('IPv6 prefixes match IPv6 addresses; IPv4-mapped addresses match IPv4 rules', (t) => {
  const rules = NrdRules.parse({
    rules: [
      { prefix: 'fd00::/8', plane: 'six' },
      { prefix: '10.0.0.0/8', plane: 'four' },
      { prefix: '::/0', plane: 'any6' },
    ],
  });
  t.is(plane(rules, 'fd12:3456::1'), 'six');
  t.is(plane(rules, '2001:db8::1'), 'any6');
  t.is(plane(rules, '::ffff:10.1.2.3'), 'four');
  t.is(plane(rules, '11.0.0.1'), null); // ::/0 is IPv6 only
});

test('no matching rule: the default plane, or null when the rules have none', (t) => {
  t.deepEqual(NrdRules.parse({ default: 'D', rules: [] }).match('1.2.3.4', 'tcp'), { plane: 'D', rule: null });
  t.is(NrdRules.parse({}).match('1.2.3.4', 'tcp'), null);
  t.throws(() => NrdRules.parse({}).match('example.com', 'udp'), { instanceOf: InvalidArgumentError });
});

const bad: Array<[string, unknown, string, RegExp]> = [
  ['not an object', [1, 2], '', /must be an object/],
  ['unknown top-level key', { defualt: 'x' }, 'defualt', /unknown key; known keys: default, rules/],
  ['default not a string', { default: 5 }, 'default', /plane name/],
  ['rules not an array', { rules: {} }, 'rules', /array/],
  ['a rule not an object', { rules: ['10.0.0.0/8'] }, 'rules[0]', /must be an object/],
  ['host bits set', { rules: [{ prefix: '10.0.0.0/8', plane: 'a' }, { prefix: '10.0.0.1/8', plane: 'b' }] }, 'rules[1].prefix', /host bits set; did you mean "10\.0\.0\.0\/8"/],
  ['prefix length too long', { rules: [{ prefix: '10.0.0.0/33', plane: 'a' }] }, 'rules[0].prefix', /0 to 32/],
  ['IPv6 prefix length too long', { rules: [{ prefix: 'fd00::/129', plane: 'a' }] }, 'rules[0].prefix', /0 to 128/],
  ['not an address', { rules: [{ prefix: 'banana/8', plane: 'a' }] }, 'rules[0].prefix', /not an IPv4 or IPv6 prefix/],
  ['prefix not a string', { rules: [{ prefix: 10, plane: 'a' }] }, 'rules[0].prefix', /must be a string/],
  ['unknown protocol', { rules: [{ prefix: '10.0.0.0/8', plane: 'a' }, { prefix: '10.0.0.0/8', plane: 'a' }, { protocol: 'sctp', plane: 'a' }] }, 'rules[2].protocol', /"udp" or "tcp"/],
  ['missing plane', { rules: [{ prefix: '10.0.0.0/8' }] }, 'rules[0].plane', /plane name/],
  ['empty plane', { rules: [{ prefix: '10.0.0.0/8', plane: '' }] }, 'rules[0].plane', /plane name/],
  ['negative priority', { rules: [{ prefix: '10.0.0.0/8', plane: 'a', priority: -1 }] }, 'rules[0].priority', /integer from 0/],
  ['fractional priority', { rules: [{ prefix: '10.0.0.0/8', plane: 'a', priority: 1.5 }] }, 'rules[0].priority', /integer from 0/],
  ['neither prefix nor protocol', { rules: [{ plane: 'a' }] }, 'rules[0]', /needs a prefix, a protocol or both/],
  ['misspelt rule key', { rules: [{ prefx: '10.0.0.0/8', plane: 'a' }] }, 'rules[0].prefx', /unknown key/],
];

for (const [what, spec, field, message] of bad) {
  test(`bad rules rejected with the field named: ${what}`, (t) => {
    const err = t.throws(() => NrdRules.parse(spec), { instanceOf: RulesError });
    t.is(err?.code, 'ERR_NMEMIF_BAD_RULES');
    t.is((err as RulesError).field, field);
    t.regex(err!.message, message);
    if (field !== '') t.true(err!.message.startsWith(`${field}: `), err!.message);
  });
}

test('a rules file: read and validated; bad JSON and bad fields name the file', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrd-'));
  try {
    const good = path.join(dir, 'good.json');
    fs.writeFileSync(good, JSON.stringify({ default: 'nstack-linux', rules: [{ prefix: '10.0.0.0/8', plane: 'nstack-memif' }] }));
    t.is(plane(NrdRules.readFile(good), '10.3.3.3'), 'nstack-memif');

    const notJson = path.join(dir, 'bad.json');
    fs.writeFileSync(notJson, '{ "rules": [ }');
    const e1 = t.throws(() => NrdRules.readFile(notJson), { instanceOf: RulesError });
    t.is((e1 as RulesError).field, '');
    t.true(e1!.message.includes(notJson) && e1!.message.includes('not JSON'), e1!.message);

    const badField = path.join(dir, 'field.json');
    fs.writeFileSync(badField, JSON.stringify({ rules: [{ prefix: '10.0.0.0/8', plane: 'a', priority: 'high' }] }));
    const e2 = t.throws(() => NrdRules.readFile(badField), { instanceOf: RulesError });
    t.is((e2 as RulesError).field, 'rules[0].priority');
    t.is(e2!.message, `rules[0].priority: must be an integer from 0 (highest) to 65535, got "high" (in ${badField})`);

    t.throws(() => NrdRules.readFile(path.join(dir, 'missing.json')), { code: 'ENOENT' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('prefix parsing accepts a bare address as a host prefix', (t) => {
  const p = parsePrefix('10.0.0.1');
  t.false(typeof p === 'string');
  t.is((p as { length: number }).length, 32);
  t.is((parsePrefix('fd00::1') as { length: number }).length, 128);
});
