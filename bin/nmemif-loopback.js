#!/usr/bin/env node
'use strict';
require('./run-tool')('nmemif-loopback', 'examples/loopback.js');
