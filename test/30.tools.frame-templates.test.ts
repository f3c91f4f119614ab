/**
 * The sender's prebuilt frames (examples/lib/frame-templates.ts) are byte for byte the frames
 * buildIcmpEcho/buildUdp build, for sequence numbers across every template, the 16- and 32-bit
 * wraps and beyond, and for every size class (odd and even, one pattern period and many).
 */
import test from 'ava';
import fc from 'fast-check';
import { FrameTemplates } from '../examples/lib/frame-templates';
import { MAX_FRAME, MIN_FRAME, buildIcmpEcho, buildUdp, parseIPv4, parseMac, type FlowAddresses } from '../examples/lib/packets';

const ADDRS: FlowAddresses = {
  srcMac: parseMac('02:fe:00:00:00:02')!,
  dstMac: parseMac('02:fe:00:00:00:01')!,
  srcIp: parseIPv4('10.1.0.2')!,
  dstIp: parseIPv4('10.1.0.1')!,
};
const IDENT = 0xbeef;
const TOKEN = 0xdeadbeef;
const SRC_PORT = 40123;

function reference(proto: 'icmp' | 'udp', seq: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  if (proto === 'icmp') buildIcmpEcho(b, size, ADDRS, IDENT, seq, TOKEN);
  else buildUdp(b, size, ADDRS, SRC_PORT, 9, seq, TOKEN);
  return b;
}

for (const proto of ['icmp', 'udp'] as const) {
  test(`${proto}: a template-written frame equals the built one (fixed and mixed sizes, any seq)`, (t) => {
    const fixed = new FrameTemplates(proto, 64, ADDRS, IDENT, TOKEN, SRC_PORT);
    const mixed = new FrameTemplates(proto, MAX_FRAME, ADDRS, IDENT, TOKEN, SRC_PORT);
    const dst = new Uint8Array(MAX_FRAME + 100);
    const seqs = [0, 1, 255, 256, 0xffff, 0x10000, 0x1ffff, 0xffffffff, 0x100000000, 2 ** 40 + 77];
    for (let s = 0; s < 600; s++) seqs.push(s * 131);
    for (const seq of seqs) {
      fixed.write(dst, 3, seq, 64);
      t.deepEqual(dst.subarray(3, 3 + 64), reference(proto, seq, 64), `seq ${seq}, 64 B`);
    }
    for (const size of [MIN_FRAME, 61, 64, 305, 306, 1500, 1501, 2048, MAX_FRAME - 1, MAX_FRAME]) {
      for (const seq of [0, 7, 254, 0x12345, 0xfffffffe]) {
        mixed.write(dst, 0, seq, size);
        t.deepEqual(dst.subarray(0, size), reference(proto, seq, size), `seq ${seq}, ${size} B`);
      }
    }
    // (Up to 2^52: the reference's pattern counter stops counting past 2^53.)
    fc.assert(
      fc.property(fc.integer({ min: MIN_FRAME, max: MAX_FRAME }), fc.nat({ max: 2 ** 52 }), fc.nat({ max: 99 }), (size, seq, off) => {
        mixed.write(dst, off, seq, size);
        return Buffer.compare(dst.subarray(off, off + size), reference(proto, seq, size)) === 0;
      }),
      { numRuns: 300 },
    );
  });
}
