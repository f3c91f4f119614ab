/**
 * Bridge without DPDK: memif <-> memif cross-connect on a native worker (exact counts, byte
 * for byte, both directions), config validation naming the bad field, and a peer that goes
 * away mid-traffic (link-down drops counted, traffic resumes when it returns).
 */
import test from 'ava';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Bridge, BridgeConfigError, parseConfig } from '../src/bridge';
import { parsePort } from '../src/bridge/config';
import * as fs from 'node:fs';
import { MemifSocket } from '../src/memif/socket';
import type { MemifInterface } from '../src/memif/interface';
import { PacketBatch } from '../src/memif/batch';
import { tempDir } from './helpers/memif';
import { until } from './helpers/until';

function pkt(seq: number, dir: number): Uint8Array {
  const len = [60, 64, 1500, 2049, 4000, 9000, 333][seq % 7];
  const p = new Uint8Array(len);
  for (let k = 0; k < len; k++) p[k] = (seq * 31 + k * 7 + dir) & 0xff;
  new DataView(p.buffer).setUint32(0, seq, true);
  return p;
}

/** Drains a peer's rx queue, checking sequence and content. */
function receiver(iface: MemifInterface, dir: number) {
  const batch = new PacketBatch(256);
  const st = { next: 0, bytes: 0, gaps: 0 };
  const poll = (allowGaps = false) => {
    if (!iface.connected) return;
    const n = iface.rx(0, batch);
    if (n <= 0) return;
    const buf = new Uint8Array(9216);
    for (let i = 0; i < n; i = batch.packetEnd(i)) {
      const p = buf.subarray(0, batch.copyPacket(i, buf));
      const seq = new DataView(p.buffer, p.byteOffset).getUint32(0, true);
      if (seq !== st.next) {
        if (!allowGaps || seq < st.next) throw new Error(`dir ${dir}: got seq ${seq}, expected ${st.next}`);
        st.gaps++;
      }
      const want = pkt(seq, dir);
      if (Buffer.compare(Buffer.from(p), Buffer.from(want)) !== 0) throw new Error(`dir ${dir}: seq ${seq} differs`);
      st.next = seq + 1;
      st.bytes += p.length;
    }
    iface.refill(0, batch);
  };
  return { st, poll };
}

function setup(t: import('ava').ExecutionContext) {
  const dir = tempDir(t, 'nmemif-bridge-');
  const pa = path.join(dir, 'a.sock');
  const pb = path.join(dir, 'b.sock');
  const config = parseConfig({
    burst: 64,
    idleSleepUs: 20,
    ports: [
      { name: 'a', memif: `role=server,socket=${pa},id=1` },
      { name: 'b', memif: `role=server,socket=${pb},id=2` },
    ],
    links: [{ a: 'a', b: 'b' }],
  });
  const bridge = new Bridge(config);
  const sa = new MemifSocket({ path: pa, reconnectMinMs: 20, reconnectMaxMs: 50 });
  const sb = new MemifSocket({ path: pb, reconnectMinMs: 20, reconnectMaxMs: 50 });
  t.teardown(() => {
    bridge.stop();
    sa.close();
    sb.close();
  });
  return { bridge, sa, sb };
}

test('config errors name the bad field', (t) => {
  const e1 = t.throws(() => parseConfig({ ports: [{ name: 'a', memif: 'role=bogus' }] }), { instanceOf: BridgeConfigError });
  t.is(e1.field, 'ports[0].memif');
  const e2 = t.throws(() => parseConfig({ ports: [{ name: 'a', dpdk: 'eth0' }] }), { instanceOf: BridgeConfigError });
  t.is(e2.field, 'ports[0].dpdk');
  const e3 = t.throws(() => parseConfig({ burst: 1000, ports: [{ name: 'a', dpdk: 'net_null0' }] }), { instanceOf: BridgeConfigError });
  t.is(e3.field, 'burst');
  const e4 = t.throws(() => parseConfig({ ports: [{ name: 'a', dpdk: 'net_null0' }], links: [{ a: 'a', b: 'x' }] }), { instanceOf: BridgeConfigError });
  t.is(e4.field, 'links[0].b');
  const e5 = t.throws(() => parseConfig({ ports: [{ name: 'a', dpdk: 'net_null0', colour: 1 }] }), { instanceOf: BridgeConfigError });
  t.is(e5.field, 'ports[0].colour');
  t.is(e5.code, 'ERR_NMEMIF_BRIDGE_CONFIG');
});

test('memif <-> memif cross-connect: exact counts, byte for byte, both ways', async (t) => {
  const { bridge, sa, sb } = setup(t);
  await bridge.start();
  const ia = sa.createInterface({ role: 'slave', id: 1, rxMode: 'polling' });
  const ib = sb.createInterface({ role: 'slave', id: 2, rxMode: 'polling' });
  t.true(await until(() => ia.connected && ib.connected, 5000), 'links up');
  const N = 5000;
  const ra = receiver(ia, 1);
  const rb = receiver(ib, 0);
  let sentA = 0;
  let sentB = 0;
  const deadline = Date.now() + 30000;
  while ((rb.st.next < N || ra.st.next < N) && Date.now() < deadline) {
    // a window of 64 in flight per direction: the bridge never meets a full ring
    if (sentA < N && sentA - rb.st.next < 64) {
      const burst = [];
      for (let k = 0; k < 16 && sentA + k < N; k++) burst.push(pkt(sentA + k, 0));
      sentA += ia.send(0, burst);
    }
    if (sentB < N && sentB - ra.st.next < 64) {
      const burst = [];
      for (let k = 0; k < 16 && sentB + k < N; k++) burst.push(pkt(sentB + k, 1));
      sentB += ib.send(0, burst);
    }
    rb.poll();
    ra.poll();
    await new Promise((r) => setImmediate(r));
  }
  t.is(rb.st.next, N);
  t.is(ra.st.next, N);
  const s = bridge.stats().ports;
  t.is(s.a.rxPackets, N);
  t.is(s.b.txPackets, N);
  t.is(s.b.rxPackets, N);
  t.is(s.a.txPackets, N);
  t.is(s.b.txBytes, rb.st.bytes);
  t.is(s.a.txBytes, ra.st.bytes);
  t.is(s.a.dropTxFull + s.b.dropTxFull + s.a.dropLinkDown + s.b.dropLinkDown, 0);
  const ports = bridge.ports();
  t.deepEqual(ports.map((p) => [p.name, p.kind, p.up]), [['a', 'memif', true], ['b', 'memif', true]]);
});

test('memif peer goes away mid-traffic: drops counted, no crash, traffic resumes', async (t) => {
  const { bridge, sa, sb } = setup(t);
  const events: string[] = [];
  bridge.on('link', (name, up) => events.push(`${name}:${up ? 'up' : 'down'}`));
  await bridge.start();
  const ia = sa.createInterface({ role: 'slave', id: 1, rxMode: 'polling' });
  let ib = sb.createInterface({ role: 'slave', id: 2, rxMode: 'polling' });
  t.true(await until(() => ia.connected && ib.connected, 5000));
  let seq = 0;
  const sendSome = (n: number) => {
    const burst = [];
    for (let k = 0; k < n; k++) burst.push(pkt(seq + k, 0));
    seq += ia.send(0, burst);
  };
  // traffic flows
  let rb = receiver(ib, 0);
  for (let k = 0; k < 20; k++) {
    sendSome(8);
    await until(() => (rb.poll(), rb.st.next === seq), 2000);
  }
  t.is(rb.st.next, seq);
  // the peer disappears (interface deleted) while A keeps sending
  ib.close();
  t.true(await until(() => !bridge.ports()[1].up, 2000), 'bridge sees b down');
  const before = bridge.stats().ports.b.dropLinkDown;
  for (let k = 0; k < 20; k++) {
    sendSome(10);
    await sleep(2);
  }
  t.true(await until(() => bridge.stats().ports.b.dropLinkDown - before === 200, 3000), `drops ${bridge.stats().ports.b.dropLinkDown - before}`);
  // the peer comes back: traffic resumes
  ib = sb.createInterface({ role: 'slave', id: 2, rxMode: 'polling' });
  t.true(await until(() => ib.connected && bridge.ports()[1].up, 5000), 'b back up');
  rb = receiver(ib, 0);
  rb.st.next = seq;
  const from = seq;
  for (let k = 0; k < 20; k++) {
    sendSome(8);
    await until(() => (rb.poll(), rb.st.next === seq), 2000);
  }
  t.is(rb.st.next, seq);
  t.is(seq - from, 160);
  t.true(events.includes('b:down') && events.lastIndexOf('b:up') > events.indexOf('b:down'), events.join(','));
});

test('a failed add leaves no half-open port behind; the same name works afterwards', async (t) => {
  const { bridge } = setup(t);
  await bridge.start();
  const dir = tempDir(t, 'nmemif-bridge-add-');
  const names = () => bridge.ports().map((p) => p.name);
  // 1. the port itself cannot open: its socket directory does not exist
  const missing = parsePort('c', { name: 'c', memif: `role=server,socket=${path.join(dir, 'nope', 'c.sock')},id=3` });
  const e1 = t.throws(() => bridge.addPort(missing));
  t.truthy(e1?.message);
  t.deepEqual(names(), ['a', 'b']);
  // 2. the port opens but its link cannot start (port a already belongs to a link's worker)
  const good = path.join(dir, 'c.sock');
  const pc = parsePort('c', { name: 'c', memif: `role=server,socket=${good},id=3` });
  const e2 = t.throws(() => bridge.addPort(pc, 'a'));
  t.regex(e2?.message ?? '', /EBUSY|busy|already/i);
  t.deepEqual(names(), ['a', 'b'], 'the port was closed again');
  t.false(fs.existsSync(good), 'and its listening socket removed');
  // 3. nothing stuck: the same name and socket open now
  bridge.addPort(pc);
  t.deepEqual(names(), ['a', 'b', 'c']);
  t.true(fs.existsSync(good));
});

test('link cpu: validated against the CPUs this process may use', (t) => {
  const base = { ports: [{ name: 'a', dpdk: 'net_null0' }, { name: 'b', dpdk: 'net_null1' }] };
  t.is(parseConfig({ ...base, links: [{ a: 'a', b: 'b', cpu: 0 }] }).links[0].cpu, 0);
  t.is(parseConfig({ ...base, links: [{ a: 'a', b: 'b' }] }).links[0].cpu, null);
  const e1 = t.throws(() => parseConfig({ ...base, links: [{ a: 'a', b: 'b', cpu: 1023 }] }), { instanceOf: BridgeConfigError });
  t.is(e1.field, 'links[0].cpu');
  t.regex(e1.message, /not one this process may run on/);
  const e2 = t.throws(() => parseConfig({ ...base, links: [{ a: 'a', b: 'b', cpu: -1 }] }), { instanceOf: BridgeConfigError });
  t.is(e2.field, 'links[0].cpu');
  const e3 = t.throws(() => parseConfig({ ...base, links: [{ a: 'a', b: 'b', lcore: 1 }] }), { instanceOf: BridgeConfigError });
  t.is(e3.field, 'links[0].lcore');
});

test('link cpu: the link worker thread runs pinned to it, Node threads are left alone', async (t) => {
  const dir = tempDir(t, 'nmemif-bridge-cpu-');
  const config = parseConfig({
    ports: [
      { name: 'pa', memif: `role=server,socket=${path.join(dir, 'a.sock')},id=1` },
      { name: 'pb', memif: `role=server,socket=${path.join(dir, 'b.sock')},id=2` },
    ],
    links: [{ a: 'pa', b: 'pb', cpu: 0 }],
  });
  const bridge = new Bridge(config);
  t.teardown(() => bridge.stop());
  const before = fs.readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1];
  await bridge.start();
  const affinity = (tid: string) => fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8').match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1];
  const worker = fs.readdirSync('/proc/self/task').find((tid) => fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'nhal-pa');
  t.truthy(worker, 'a thread named nhal-pa');
  t.is(affinity(worker!), '0');
  t.is(affinity(String(process.pid)), before, 'the main thread keeps its affinity');
});
