#!/usr/bin/env node
'use strict';
require('./run-tool')('nstack-echo', 'nstack-echo.ts');
