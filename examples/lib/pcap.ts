/**
 * A classic pcap writer (the format every Wireshark and tcpdump opens): magic a1b2c3d4 in
 * little-endian order, version 2.4, microsecond timestamps, LINKTYPE_ETHERNET. Frames are
 * buffered and written synchronously in blocks, so the file is complete when close() returns,
 * even on the way out of a signal handler.
 */
import * as fs from 'node:fs';

export const PCAP_MAGIC = 0xa1b2c3d4;
export const LINKTYPE_ETHERNET = 1;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const FLUSH_AT = 1 << 20;

export class PcapWriter {
  readonly path: string;
  frames = 0;
  #fd: number;
  #buf = Buffer.allocUnsafe(FLUSH_AT + 65536 + RECORD_HEADER);
  #used = 0;

  /** Creates (or truncates) `path`; throws the fs error if it cannot be opened. */
  constructor(path: string, snaplen = 65535) {
    this.path = path;
    this.#fd = fs.openSync(path, 'w');
    const h = Buffer.alloc(GLOBAL_HEADER);
    h.writeUInt32LE(PCAP_MAGIC, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8); // thiszone
    h.writeUInt32LE(0, 12); // sigfigs
    h.writeUInt32LE(snaplen, 16);
    h.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    fs.writeSync(this.#fd, h);
  }

  /** Records one frame: `parts` are its bytes in order (a chain's buffers), `timeMs` Unix ms. */
  write(parts: Uint8Array | readonly Uint8Array[], timeMs = Date.now()): void {
    if (this.#fd < 0) return;
    const list = parts instanceof Uint8Array ? [parts] : parts;
    let len = 0;
    for (const p of list) len += p.length;
    if (this.#used + RECORD_HEADER + len > this.#buf.length) this.flush();
    if (RECORD_HEADER + len > this.#buf.length) this.#buf = Buffer.allocUnsafe(RECORD_HEADER + len);
    const sec = Math.floor(timeMs / 1000);
    const usec = Math.floor((timeMs - sec * 1000) * 1000);
    const b = this.#buf;
    b.writeUInt32LE(sec >>> 0, this.#used);
    b.writeUInt32LE(usec, this.#used + 4);
    b.writeUInt32LE(len, this.#used + 8);
    b.writeUInt32LE(len, this.#used + 12);
    this.#used += RECORD_HEADER;
    for (const p of list) {
      b.set(p, this.#used);
      this.#used += p.length;
    }
    this.frames++;
    if (this.#used >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.#fd < 0 || this.#used === 0) return;
    fs.writeSync(this.#fd, this.#buf, 0, this.#used);
    this.#used = 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    this.flush();
    fs.closeSync(this.#fd);
    this.#fd = -1;
  }
}

export interface PcapRecord {
  timeMs: number;
  data: Buffer;
}

/** Reads a classic little-endian microsecond pcap file (for tests and checks). */
export function readPcap(path: string): { linktype: number; records: PcapRecord[] } {
  const f = fs.readFileSync(path);
  if (f.length < GLOBAL_HEADER || f.readUInt32LE(0) !== PCAP_MAGIC) throw new Error(`${path}: not a pcap file`);
  const linktype = f.readUInt32LE(20);
  const records: PcapRecord[] = [];
  let at = GLOBAL_HEADER;
  while (at + RECORD_HEADER <= f.length) {
    const incl = f.readUInt32LE(at + 8);
    const timeMs = f.readUInt32LE(at) * 1000 + f.readUInt32LE(at + 4) / 1000;
    if (at + RECORD_HEADER + incl > f.length) throw new Error(`${path}: truncated record at byte ${at}`);
    records.push({ timeMs, data: f.subarray(at + RECORD_HEADER, at + RECORD_HEADER + incl) });
    at += RECORD_HEADER + incl;
  }
  if (at !== f.length) throw new Error(`${path}: ${f.length - at} trailing bytes`);
  return { linktype, records };
}
