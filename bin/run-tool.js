'use strict';
// Shared by the bin entries: runs examples/<file>.ts without a build step (tsx compiles it on
// the fly). A missing native build is a user-facing error, not a stack trace.
module.exports = function runTool(name, file) {
  require('tsx/cjs');
  let tool;
  try {
    tool = require(`../examples/${file}`);
  } catch (err) {
    if (err && err.code === 'ERR_NMEMIF_NATIVE_LOAD') {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  tool.cli();
};
