/**
 * The TypeScript end of `npm run bench -- latency`: one memif interface through the library's
 * public API, either answering every frame (echo: rx -> send a copy -> refill, as
 * `nmif-perf --mode echo` does with nmif_tx_copy) or sending one frame at a time and timing
 * its way back (roundtrip, window 1, as `nmif-perf --mode roundtrip --window 1`). Frames carry
 * a sequence number where nmif-perf puts it, so either end pairs with either nmif-perf mode.
 * Prints one JSON object on stdout when done (roundtrip: the round-trip times).
 *
 *   node --import tsx bench/latency-peer.ts --socket @s --role master --mode echo --rx-mode adaptive --count 20000
 *   node --import tsx bench/latency-peer.ts --socket @s --role slave --mode roundtrip --rx-mode interrupt --size 64 --count 20000
 */
import { parseArgs } from 'node:util';
import { MemifSocket, PacketBatch, type RxMode } from '../src';
import { rttSummary } from './lib/rtt';

const SEQ_OFF = 48; // where nmif-perf keeps the sequence number (big-endian u64)

function fail(msg: string): never {
  process.stderr.write(`latency-peer: ${msg}\n`);
  process.exit(2);
}

const { values: v } = parseArgs({
  options: {
    socket: { type: 'string' },
    role: { type: 'string', default: 'master' },
    mode: { type: 'string', default: 'echo' },
    'rx-mode': { type: 'string', default: 'interrupt' },
    size: { type: 'string', default: '64' },
    count: { type: 'string', default: '20000' },
    timeout: { type: 'string', default: '10' },
  },
});
if (!v.socket) fail('--socket is required');
const role = v.role === 'master' || v.role === 'slave' ? v.role : fail(`--role: master or slave, got ${v.role}`);
const mode = v.mode === 'echo' || v.mode === 'roundtrip' ? v.mode : fail(`--mode: echo or roundtrip, got ${v.mode}`);
const rxMode = (['interrupt', 'polling', 'adaptive'] as const).find((m) => m === v['rx-mode']) ?? fail(`--rx-mode: interrupt, polling or adaptive, got ${v['rx-mode']}`);
const size = Number(v.size);
const count = Number(v.count);
const timeoutMs = Number(v.timeout) * 1000;
if (!(Number.isInteger(size) && size >= 60 && size <= 2048)) fail('--size wants 60..2048');
if (!(Number.isInteger(count) && count > 0)) fail('--count wants a positive integer');
if (!(timeoutMs > 0)) fail('--timeout wants seconds > 0');

const socket = new MemifSocket({ path: v.socket, appName: 'latency-peer' });
const iface = socket.createInterface({ role, id: 0, rxMode: rxMode as RxMode, bufferSize: 2048, name: 'latency-peer' });
const batch = new PacketBatch(64);
const frame = new Uint8Array(size);
const frameView = new DataView(frame.buffer);
for (let k = 0; k < size; k++) frame[k] = k & 0xff;
frame.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0]); // Ethernet header, IPv4

let done = 0; // echo: frames answered; roundtrip: frames back
let sentAt = 0;
let seq = 0;
let mismatched = 0;
let startedAt = 0;
const rtts = new Float64Array(count);
let lastProgress = performance.now();

function finish(ok: boolean, why: string): void {
  clearInterval(watchdog);
  const seconds = (performance.now() - startedAt) / 1000;
  const out: Record<string, unknown> = { mode, rx_mode: rxMode, size, count, done, mismatched, ok, why, seconds };
  if (mode === 'roundtrip') Object.assign(out, { round_trips_per_s: Math.round(done / seconds), rtt_us: rttSummary(rtts.subarray(0, done)) });
  process.stdout.write(`${JSON.stringify(out)}\n`);
  // Let the DISCONNECT reach the peer before exiting.
  socket.close();
  process.exitCode = ok ? 0 : 1;
}

function sendNext(): void {
  frameView.setBigUint64(SEQ_OFF, BigInt(seq));
  sentAt = performance.now();
  if (iface.send(0, frame) !== 1) fail('the tx ring had no room for one frame');
}

iface.on('connect', () => {
  startedAt = performance.now();
  lastProgress = startedAt;
  if (mode === 'roundtrip') sendNext();
});
iface.on('disconnect', (reason: string) => {
  if (done < count) finish(false, `link down: ${reason}`);
});
iface.on('rx', (q: number) => {
  if (q !== 0 || !iface.connected) return;
  const n = iface.rx(0, batch);
  if (n === 0) return;
  lastProgress = performance.now();
  if (mode === 'echo') {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < n; i++) frames.push(batch.view(i));
    const sent = iface.send(0, frames);
    iface.refill(0, batch);
    done += sent;
    if (done >= count) finish(true, 'done');
    return;
  }
  const now = performance.now();
  for (let i = 0; i < n; i++) {
    const b = batch.view(i);
    const back = b.length === size ? new DataView(b.buffer, b.byteOffset, b.length).getBigUint64(SEQ_OFF) : -1n;
    if (back !== BigInt(seq)) {
      mismatched++;
      continue;
    }
    rtts[done++] = (now - sentAt) * 1000;
    seq++;
  }
  iface.refill(0, batch);
  if (mismatched) finish(false, 'a frame came back changed or out of order');
  else if (done >= count) finish(true, 'done');
  else sendNext();
});

const watchdog = setInterval(() => {
  if (performance.now() - lastProgress > timeoutMs) {
    process.stderr.write(`latency-peer: no progress for ${timeoutMs / 1000} s\n`);
    finish(false, 'timeout');
  }
}, 200);
