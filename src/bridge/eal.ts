/**
 * EAL arguments for the bridge: the user's, completed with what running inside Node needs
 * (see /work/shared/eal-in-node.md): no pinning of our threads (init runs on a dedicated native
 * thread, and the main lcore floats over every CPU), no hugepages when the machine has none,
 * no shared config, no telemetry, a unique file prefix, and one --vdev / -a per DPDK port.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { BridgeConfigError } from '../errors';
import type { DpdkPortConfig } from './config';

const FORBIDDEN = new Set(['-h', '--help']); // rte_eal_init exits the process on these

function has(args: string[], ...names: string[]): boolean {
  return args.some((a) => names.some((n) => a === n || a.startsWith(`${n}=`) || (n.length === 2 && a.startsWith(n) && a.length > 2)));
}

function hugepagesAvailable(): boolean {
  try {
    const m = /HugePages_Free:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    return m !== null && Number(m[1]) > 0;
  } catch {
    return false;
  }
}

export function isPci(devargs: string): boolean {
  return !devargs.startsWith('net_');
}

/** What {@link buildEalArgs} returns. */
export interface EalArgs {
  /** The full argument vector for rte_eal_init. */
  args: string[];
  /** The unique --file-prefix chosen (DPDK's run-time files live under it). */
  filePrefix: string;
}

/** EAL arguments for the bridge: no hugepages by default, never pinning Node's thread, the DPDK
 * ports as vdevs or allowed PCI devices, then the user's own (some are refused: they would
 * make EAL exit the process). */
export function buildEalArgs(user: string[], ports: DpdkPortConfig[]): EalArgs {
  user.forEach((a, k) => {
    if (FORBIDDEN.has(a)) throw new BridgeConfigError(`eal[${k}]`, `${a} would make EAL exit the process`);
    if (a === '--in-memory' && (user.includes('--no-huge') || !hugepagesAvailable())) {
      throw new BridgeConfigError(`eal[${k}]`, '--in-memory is rejected together with --no-huge by DPDK 22.11; use --no-shconf');
    }
  });
  const args = [...user];
  if (!has(args, '-l', '-c', '--lcores')) args.push(`--lcores=0@(0-${Math.max(0, os.cpus().length - 1)})`);
  if (!has(args, '--main-lcore')) args.push('--main-lcore', '0');
  if (!has(args, '--no-huge', '-m', '--socket-mem') && !hugepagesAvailable()) args.push('--no-huge', '-m', '512');
  if (!has(args, '--no-shconf', '--in-memory')) args.push('--no-shconf');
  if (!has(args, '--no-telemetry', '--telemetry')) args.push('--no-telemetry');
  let filePrefix = `nmemif-bridge-${process.pid}`;
  const fp = args.find((a) => a.startsWith('--file-prefix='));
  if (fp) filePrefix = fp.slice('--file-prefix='.length);
  else args.push(`--file-prefix=${filePrefix}`);
  if (!has(args, '--log-level')) args.push('--log-level=lib.eal:notice');
  const pci = ports.filter((p) => isPci(p.devargs));
  if (pci.length === 0 && !has(args, '--no-pci', '-a', '--allow', '-b', '--block')) args.push('--no-pci');
  for (const p of ports) args.push(isPci(p.devargs) ? `-a${p.devargs}` : `--vdev=${p.devargs}`);
  return { args, filePrefix };
}

/** The ethdev name of a port's devargs: up to the first comma. */
export function devName(devargs: string): string {
  const c = devargs.indexOf(',');
  return c < 0 ? devargs : devargs.slice(0, c);
}
