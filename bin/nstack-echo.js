#!/usr/bin/env node
'use strict';
require('./run-tool')('nstack-echo', 'examples/nstack-echo.js');
