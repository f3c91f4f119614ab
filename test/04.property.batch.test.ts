/**
 * Property tests (fast-check) for PacketBatch, the zero-copy view of burst descriptors:
 * whatever descriptors a burst writes (offsets, lengths, regions, chain flags), views show
 * exactly the region bytes they describe — also after the descriptors change under a cached
 * view — and the packet walkers (packetEnd, packetLength, copyPacket, packetCount) agree with
 * a plain model of the chains.
 */
import test from 'ava';
import fc from 'fast-check';
import { PacketBatch, WORDS_PER_BUFFER } from '../src/memif/batch';

const W_LEN = 2;
const W_OFFSET = 3;
const W_REGION_FLAGS = 4;
const NEXT = 1;

interface Desc {
  region: number;
  offset: number;
  len: number;
  next: boolean;
}

const REGION_SIZES = [4096, 1024];
/** A descriptor inside one of the regions. */
const desc = fc
  .record({ region: fc.integer({ min: 0, max: REGION_SIZES.length - 1 }), a: fc.nat(), b: fc.nat(), next: fc.boolean() })
  .map(({ region, a, b, next }): Desc => {
    const size = REGION_SIZES[region];
    const offset = a % size;
    return { region, offset, len: b % (size - offset + 1), next };
  });

function regions(seed: number): Uint8Array[] {
  return REGION_SIZES.map((size, r) => Uint8Array.from({ length: size }, (_, i) => (i * 31 + r * 7 + seed) & 0xff));
}

function write(batch: PacketBatch, descs: Desc[]): void {
  descs.forEach((d, i) => {
    const w = i * WORDS_PER_BUFFER;
    batch.words[w + W_LEN] = d.len;
    batch.words[w + W_OFFSET] = d.offset;
    batch.words[w + W_REGION_FLAGS] = d.region | ((d.next ? NEXT : 0) << 16);
  });
  batch.count = descs.length;
}

/** The packets a burst of these descriptors holds: [first, end) buffer ranges. */
function model(descs: Desc[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  descs.forEach((d, i) => {
    if (!d.next || i === descs.length - 1) {
      out.push([start, i + 1]);
      start = i + 1;
    }
  });
  return out;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

test('views, chains and copies agree with the region bytes and a model of the chains', (t) => {
  fc.assert(
    fc.property(fc.array(desc, { minLength: 1, maxLength: 64 }), fc.array(desc, { minLength: 1, maxLength: 64 }), fc.nat(255), (first, second, seed) => {
      const mem = regions(seed);
      const batch = new PacketBatch(64);
      batch.bindRegions(mem);
      for (const descs of [first, second]) {
        // The second round rewrites descriptors under views cached by the first.
        write(batch, descs);
        descs.forEach((d, i) => {
          const v = batch.view(i);
          if (!equal(v, mem[d.region].subarray(d.offset, d.offset + d.len))) throw new Error(`view ${i} shows other bytes`);
          if (batch.len(i) !== d.len || batch.offset(i) !== d.offset || batch.region(i) !== d.region || batch.hasNext(i) !== d.next) {
            throw new Error(`accessors of ${i}`);
          }
        });
        const packets = model(descs);
        if (batch.packetCount() !== packets.length - (descs[descs.length - 1].next ? 1 : 0)) throw new Error('packetCount');
        for (const [start, end] of packets) {
          if (batch.packetEnd(start) !== end) throw new Error(`packetEnd(${start}) = ${batch.packetEnd(start)}, want ${end}`);
          const parts = descs.slice(start, end).map((d) => mem[d.region].subarray(d.offset, d.offset + d.len));
          const whole = Buffer.concat(parts);
          if (batch.packetLength(start) !== whole.length) throw new Error('packetLength');
          const dst = new Uint8Array(whole.length + 3);
          if (batch.copyPacket(start, dst, 3) !== whole.length || !equal(dst.subarray(3), whole)) throw new Error('copyPacket');
        }
      }
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('a rebound mapping never shows bytes of the old one', (t) => {
  fc.assert(
    fc.property(fc.array(desc, { minLength: 1, maxLength: 16 }), (descs) => {
      const batch = new PacketBatch(16);
      batch.bindRegions(regions(1));
      write(batch, descs);
      descs.forEach((_, i) => batch.view(i));
      const fresh = regions(2); // a new connection: same offsets, other memory
      batch.bindRegions(fresh);
      descs.forEach((d, i) => {
        if (!equal(batch.view(i), fresh[d.region].subarray(d.offset, d.offset + d.len))) throw new Error(`view ${i} is stale`);
      });
    }),
    { numRuns: 300 },
  );
  t.pass();
});
