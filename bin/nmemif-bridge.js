#!/usr/bin/env node
'use strict';
require('./run-tool')('nmemif-bridge', 'src/bridge/cli.js');
