/**
 * Bridge with DPDK (skipped when this build has no DPDK): a pcap of N ICMP echo requests enters
 * a net_pcap port, crosses to memif, is answered, and the port's tx pcap holds exactly N
 * replies. Runs in a child process because EAL is once per process. The bridge never flushes
 * rx at start (the equivalent of testpmd's --no-flush-rx), so no request is eaten.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dpdkBuilt } from '../src/bridge';
import { tempDir } from './helpers/memif';

function writePcap(file: string, frames: Uint8Array[]): void {
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(1, 20);
  const parts = [hdr];
  frames.forEach((f, k) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1700000000 + k, 0);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    parts.push(r, Buffer.from(f));
  });
  fs.writeFileSync(file, Buffer.concat(parts));
}

function readPcap(file: string): Buffer[] {
  const b = fs.readFileSync(file);
  const out: Buffer[] = [];
  for (let off = 24; off + 16 <= b.length; ) {
    const len = b.readUInt32LE(off + 8);
    out.push(b.subarray(off + 16, off + 16 + len));
    off += 16 + len;
  }
  return out;
}

function echoRequest(seq: number): Uint8Array {
  const p = Buffer.alloc(98);
  Buffer.from([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]).copy(p, 0);
  p.writeUInt16BE(0x0800, 12);
  p[14] = 0x45;
  p.writeUInt16BE(84, 16);
  p[22] = 64;
  p[23] = 1;
  Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(p, 26);
  p[34] = 8;
  p.writeUInt16BE(0x1234, 38);
  p.writeUInt16BE(seq, 40);
  for (let k = 42; k < 98; k++) p[k] = k & 0xff;
  return p;
}

const maybe = dpdkBuilt() ? test : test.skip;
if (!dpdkBuilt()) test('DPDK tests skipped: this build has no DPDK (libdpdk not found or WITH_DPDK=OFF)', (t) => t.pass());

maybe('net_pcap: N ICMP echo requests in, exactly N replies out through memif and back', (t) => {
  const dir = tempDir(t, 'nmemif-bridge-dpdk-');
  const rx = path.join(dir, 'rx.pcap');
  const tx = path.join(dir, 'tx.pcap');
  const N = 200;
  writePcap(rx, Array.from({ length: N }, (_, k) => echoRequest(k)));
  const r = spawnSync(process.execPath, ['--import=tsx', path.join(__dirname, 'fixtures', 'bridge-pcap.ts'), rx, tx, path.join(dir, 'm.sock'), String(N)], {
    encoding: 'utf8',
    timeout: 60000,
  });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  const replies = readPcap(tx);
  const seqs = replies.filter((p) => p[23] === 1 && p[34] === 0).map((p) => p.readUInt16BE(40));
  t.is(replies.length, N, JSON.stringify(out.stats));
  t.deepEqual(seqs, Array.from({ length: N }, (_, k) => k));
  t.is(out.stats.ports.d.rxPackets, N);
  t.is(out.stats.ports.d.txPackets, N);
});
