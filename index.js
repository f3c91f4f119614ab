'use strict';
// Package entry: loads the TypeScript sources through tsx's CommonJS hook (no build step).
require('tsx/cjs');
module.exports = require('./src/index.ts');
