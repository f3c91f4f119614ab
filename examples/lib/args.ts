/**
 * Command-line parsing for the tools: node:util parseArgs (strict: unknown options are errors)
 * plus value checks that throw UsageError with a message naming the option and what it takes.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parse(argv: string[], options: OptionSpec): Record<string, string | boolean | undefined> {
  const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  return values as Record<string, string | boolean | undefined>;
}

/** A number within [min, max] (integers unless `real`); undefined stays undefined. */
export function num(name: string, v: string | boolean | undefined, min: number, max: number, real = false): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^[0-9]+(\.[0-9]+)?$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < min || n > max || (!real && !Number.isInteger(n))) {
    throw new UsageError(`--${name} takes ${real ? 'a number' : 'an integer'} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** `N` or `MIN-MAX` within [min, max]. */
export function range(name: string, v: string | undefined, min: number, max: number): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(v);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(lo >= min && hi <= max && lo <= hi)) {
    throw new UsageError(`--${name} takes N or MIN-MAX with ${min} <= MIN <= MAX <= ${max}, got ${JSON.stringify(v)}`);
  }
  return [lo, hi];
}

/** One of `choices`. */
export function choice<T extends string>(name: string, v: string | undefined, choices: readonly T[], def: T): T {
  if (v === undefined) return def;
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} takes one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** A value parsed by `parser` (address parsers return undefined when malformed). */
export function addr<T>(name: string, v: string | undefined, parser: (s: string) => T | undefined, what: string): T | undefined {
  if (v === undefined) return undefined;
  const r = parser(v);
  if (r === undefined) throw new UsageError(`--${name} takes ${what}, got ${JSON.stringify(v)}`);
  return r;
}

/** Seconds (real) → ms. */
export function seconds(name: string, v: string | undefined, max = 86400): number | undefined {
  const s = num(name, v, 0, max, true);
  return s === undefined ? undefined : s * 1000;
}
