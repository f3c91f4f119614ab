/**
 * lwip-hop: build/bench/lwip_hop (frames into lwIP under its lock on the polling thread vs
 * through lwIP's own thread, interleaved rounds, medians) behind the busy-machine gate, its
 * last line extended with the machine and how busy it was.
 *
 *   node --import tsx bench/lwip-hop.ts [--datagrams N] [--runs R] [--force ...]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { machine } from './lib/machine';
import { QuietGate, QUIET_USAGE, quietArgsOrExit } from './lib/quiet';

const USAGE = `usage: node --import tsx bench/lwip-hop.ts [--datagrams N] [--runs R]\n${QUIET_USAGE}`;
const HOP = path.join(__dirname, '..', 'build', 'bench', 'lwip_hop');

function main(): void {
  const { quiet: quietOptions, rest } = quietArgsOrExit(process.argv.slice(2), 'lwip-hop', USAGE);
  const o = { datagrams: 200000, runs: 5 };
  for (let k = 0; k < rest.length; k++) {
    if (rest[k] === '--datagrams') o.datagrams = Number(rest[++k]);
    else if (rest[k] === '--runs') o.runs = Number(rest[++k]);
    else {
      console.error(`lwip-hop: unknown argument '${rest[k]}'\n${USAGE}`);
      process.exit(2);
    }
  }
  if (!fs.existsSync(HOP)) {
    console.error(`lwip-hop: ${HOP} is missing (built with the tree when lwIP is found)`);
    process.exit(1);
  }
  const quiet = QuietGate.open('lwip-hop', quietOptions);
  const mark = quiet.runStart();
  const r = spawnSync(HOP, [String(o.datagrams), String(o.runs)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  quiet.runEnd(mark);
  const lines = r.stdout.trim().split('\n');
  const last = lines.pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) {
    console.error(`lwip-hop: ${HOP} ended with status ${r.status}`);
    process.exit(1);
  }
  console.log(lines.join('\n'));
  const quietRecord = quiet.record();
  console.log(quietRecord.verdict);
  console.log(JSON.stringify({ bench: 'lwip-hop', machine: machine(), quiet: quietRecord, ...JSON.parse(last) }));
}

main();
