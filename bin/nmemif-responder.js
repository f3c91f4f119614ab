#!/usr/bin/env node
'use strict';
require('./run-tool')('nmemif-responder', 'examples/responder.js');
