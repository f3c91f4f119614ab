// A CommonJS consumer: require() the package, move the frames, and check that require() and
// import() hand out the same library (one copy of its state) and that no require hook came with it.
'use strict';
const path = require('node:path');
const nmemif = require('nmemif');

async function main() {
  const { moveFrames } = await import('./move-frames.mjs');
  const moved = await moveFrames(nmemif, path.join(process.argv[2], 'cjs.sock'), Number(process.argv[3]));
  const esm = await import('nmemif');
  const sameLibrary = esm.MemifSocket === nmemif.MemifSocket && esm.default === nmemif;
  const requireHook = Object.keys(require.extensions).filter((ext) => !['.js', '.json', '.node'].includes(ext));
  console.log(JSON.stringify({ ...moved, sameLibrary, requireHook }));
}
main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
