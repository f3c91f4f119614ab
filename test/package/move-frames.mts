/**
 * Opens a memif pair (a master and a slave interface on one socket) and moves `count` frames
 * from the slave to the master, each carrying its sequence number; resolves with what arrived.
 * Written against the published types only; the consumer programs pass in the classes they got
 * from require() or import.
 */
import type { MemifSocket, PacketBatch } from 'nmemif';

export interface Library {
  MemifSocket: typeof MemifSocket;
  PacketBatch: typeof PacketBatch;
}

export interface Moved {
  sent: number;
  received: number;
  outOfOrder: number;
}

const FRAME_BYTES = 64;

export function moveFrames(lib: Library, socketPath: string, count: number, timeoutMs = 60_000): Promise<Moved> {
  const socket = new lib.MemifSocket(socketPath);
  const master = socket.createInterface({ role: 'master', id: 7 });
  const slave = socket.createInterface({ role: 'slave', id: 7 });
  const batch = new lib.PacketBatch(64);
  const moved: Moved = { sent: 0, received: 0, outOfOrder: 0 };

  return new Promise<Moved>((resolve, reject) => {
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(moved);
    };
    const timer = setTimeout(() => finish(new Error(`timed out: ${JSON.stringify(moved)}`)), timeoutMs);

    master.on('rx', (queue) => {
      for (let n = master.rx(queue, batch); n > 0; n = master.rx(queue, batch)) {
        for (let i = 0; i < n; i++) {
          const frame = batch.view(i);
          const seq = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
          if (seq !== moved.received || frame.byteLength !== FRAME_BYTES) moved.outOfOrder++;
          moved.received++;
        }
        master.refill(queue, n);
      }
      if (moved.received >= count) finish();
    });

    const frames = Array.from({ length: 32 }, () => new Uint8Array(FRAME_BYTES));
    const pump = (): void => {
      if (!slave.connected || socket.closed) return;
      while (moved.sent < count) {
        const burst = frames.slice(0, Math.min(frames.length, count - moved.sent));
        burst.forEach((f, k) => new DataView(f.buffer).setUint32(0, moved.sent + k, true));
        const n = slave.send(0, burst);
        moved.sent += n;
        if (n < burst.length) break; // the ring is full: try again once the loop has turned
      }
      if (moved.sent < count) setImmediate(pump);
    };
    slave.on('connect', pump);
    master.on('error', finish);
    slave.on('error', finish);
  });
}
