// A TypeScript consumer (tsc --init defaults, strict, no skipLibCheck): named imports, types.
import { join } from 'node:path';
import { MemifSocket, NmemifError, PacketBatch, type InterfaceOptions } from 'nmemif';
import { moveFrames, type Moved } from './move-frames.mjs';

// Errors carry a stable code: a master's socket in a missing directory.
const options: InterfaceOptions = { role: 'master', rxMode: 'adaptive' };
const nowhere = new MemifSocket('/nonexistent-nmemif-dir/x.sock');
let code = 'none';
try {
  nowhere.createInterface(options);
} catch (err) {
  if (err instanceof NmemifError) code = err.code;
} finally {
  nowhere.close();
}

const dir = process.argv[2] ?? '.';
const moved: Moved = await moveFrames({ MemifSocket, PacketBatch }, join(dir, 'ts.sock'), Number(process.argv[3]));
console.log(JSON.stringify({ ...moved, code }));
