// A TypeScript consumer (tsc --init defaults, strict, no skipLibCheck): named imports, types.
import { join } from 'node:path';
import { MemifSocket, NmemifError, PacketBatch, type InterfaceOptions } from 'nmemif';
import { moveFrames, type Moved } from './move-frames.mjs';

// Errors carry a stable code: a socket in a missing directory.
const options: InterfaceOptions = { role: 'master', rxMode: 'adaptive' };
let code = 'none';
try {
  new MemifSocket('/nonexistent-nmemif-dir/x.sock').createInterface(options).close();
} catch (err) {
  if (err instanceof NmemifError) code = err.code;
}

const dir = process.argv[2] ?? '.';
const moved: Moved = await moveFrames({ MemifSocket, PacketBatch }, join(dir, 'ts.sock'), Number(process.argv[3]));
console.log(JSON.stringify({ ...moved, code }));
