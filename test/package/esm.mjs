// An ES module consumer with named imports.
import { join } from 'node:path';
import { MemifSocket, PacketBatch } from 'nmemif';
import { Bridge } from 'nmemif/bridge';
import { EventPoll } from 'nmemif/nstack';
import { moveFrames } from './move-frames.mjs';

const moved = await moveFrames({ MemifSocket, PacketBatch }, join(process.argv[2], 'esm.sock'), Number(process.argv[3]));
console.log(JSON.stringify({ ...moved, subpaths: [typeof Bridge, typeof EventPoll] }));
