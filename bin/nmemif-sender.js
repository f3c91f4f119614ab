#!/usr/bin/env node
'use strict';
require('./run-tool')('nmemif-sender', 'examples/sender.js');
