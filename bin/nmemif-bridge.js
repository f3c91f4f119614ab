#!/usr/bin/env node
'use strict';
require('./run-tool')('nmemif-bridge', 'bridge.ts');
