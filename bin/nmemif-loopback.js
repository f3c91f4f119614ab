#!/usr/bin/env node
'use strict';
// nmemif-loopback: runs examples/loopback.ts without a build step (tsx compiles it on the fly).
require('tsx/cjs');
let tool;
try {
  tool = require('../examples/loopback.ts');
} catch (err) {
  if (err && err.code === 'ERR_NMEMIF_NATIVE_LOAD') {
    process.stderr.write(`nmemif-loopback: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
tool.cli();
