/**
 * What a figure was measured on: the `machine` field of every benchmark's JSON result, and the
 * machine description of the report.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';

export interface Machine {
  host: string;
  cpu: string;
  /** CPUs this process may run on. */
  cpus: number;
  kernel: string;
  node: string;
  /** DPDK's version (pkg-config libdpdk), or null when DPDK is not installed. */
  dpdk: string | null;
}

export function machine(): Machine {
  const pc = spawnSync('pkg-config', ['--modversion', 'libdpdk'], { encoding: 'utf8' });
  return {
    host: os.hostname(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cpus: os.availableParallelism(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    dpdk: pc.status === 0 ? pc.stdout.trim() : null,
  };
}
