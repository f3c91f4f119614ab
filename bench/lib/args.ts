/** Command-line helpers the benchmarks share: a bad argument ends the run with usage. */

export interface ArgParser {
  /** Prints "<who>: msg" and exits (status 2 unless told). */
  fail(msg: string, code?: number): never;
  /** The number in v, or fail with the option's name, its range and usage. */
  num(name: string, v: string | undefined, lo: number, hi: number): number;
}

export function argParser(who: string, usage: string): ArgParser {
  const fail = (msg: string, code = 2): never => {
    process.stderr.write(`${who}: ${msg}\n`);
    process.exit(code);
  };
  const num = (name: string, v: string | undefined, lo: number, hi: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < lo || n > hi) fail(`${name} wants ${lo}..${hi}, got '${v}'\n${usage}`);
    return n;
  };
  return { fail, num };
}
