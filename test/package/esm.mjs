// An ES module consumer with named imports; each ES entry must offer every CommonJS export.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { MemifSocket, PacketBatch } from 'nmemif';
import { Bridge } from 'nmemif/bridge';
import { EventPoll } from 'nmemif/nstack';
import { moveFrames } from './move-frames.mjs';

const require = createRequire(import.meta.url);
const missing = [];
for (const entry of ['nmemif', 'nmemif/bridge', 'nmemif/nstack']) {
  const esm = new Set(Object.keys(await import(entry)));
  for (const name of Object.keys(require(entry))) if (name !== '__esModule' && !esm.has(name)) missing.push(`${entry}:${name}`);
}
const moved = await moveFrames({ MemifSocket, PacketBatch }, join(process.argv[2], 'esm.sock'), Number(process.argv[3]));
console.log(JSON.stringify({ ...moved, subpaths: [typeof Bridge, typeof EventPoll], missing }));
