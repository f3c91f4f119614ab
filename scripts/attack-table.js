#!/usr/bin/env node
// Prints the attack table of the malicious-peer suite (case x hostile role x victim: result):
// runs test/33.hostile.library.test.ts and test/34.hostile.tools.test.ts with ava and collects
// the "attack-table | ..." line each row logs. Exits with ava's status.
//   node scripts/attack-table.js            a Markdown table
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const r = spawnSync(process.execPath, [path.join(root, 'node_modules/ava/entrypoints/cli.mjs'), '--verbose',
  'test/33.hostile.library.test.ts', 'test/34.hostile.tools.test.ts'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const rows = (r.stdout || '').split('\n')
  .map((l) => /attack-table \| (.*)$/.exec(l))
  .filter(Boolean)
  .map((m) => m[1].split(' | '))
  .sort((a, b) => a[2].localeCompare(b[2]) || a[1].localeCompare(b[1]));
process.stdout.write('| case | nmif-hostile as | victim | result |\n|---|---|---|---|\n');
for (const [kase, role, victim, result] of rows) process.stdout.write(`| ${kase} | ${role.replace('hostile ', '')} | ${victim} | ${result} |\n`);
const summary = (r.stdout || '').split('\n').filter((l) => /tests? (passed|failed)|✘/.test(l));
process.stdout.write(`\n${rows.length} rows; ${summary.join('; ').trim() || 'ava printed no summary'}\n`);
if (r.status !== 0) process.stderr.write(r.stderr || '');
process.exitCode = r.status ?? 1;
