/** Commands of the system the kernel tests need: whether one exists, and running one. */
import { spawnSync } from 'node:child_process';

export function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8', timeout: 5000 }).status === 0;
}

/** Runs a command with a time limit; throws with its output when it fails. */
export function sh(cmd: string, args: string[], timeout = 10_000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: status ${r.status} ${r.signal ?? ''} ${r.error?.message ?? ''}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}
