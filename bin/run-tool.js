'use strict';
// Shared by the bin entries: runs a compiled tool from dist/ (`npm run build` in a clone of
// the repository; the published package ships dist/). A missing native build or a missing
// dist/ is a user-facing error, not a stack trace.
const path = require('node:path');

module.exports = function runTool(name, file) {
  const target = path.join(__dirname, '..', 'dist', file);
  let tool;
  try {
    tool = require(target);
  } catch (err) {
    if (err && err.code === 'ERR_NMEMIF_NATIVE_LOAD') {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(target)) {
      process.stderr.write(`${name}: ${target} is missing: run "npm run build" in the nmemif repository\n`);
      process.exit(2);
    }
    throw err;
  }
  tool.cli();
};
