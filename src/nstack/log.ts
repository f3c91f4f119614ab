/**
 * Run-time log levels per module ('memif', 'nstack', 'bridge', ...).
 *
 * Levels come from the NMEMIF_LOG environment variable, read once when this module loads:
 *   NMEMIF_LOG=debug                      every module at debug
 *   NMEMIF_LOG=memif=debug,nstack=warn    per module (others keep the default, warn)
 *   NMEMIF_LOG=info,bridge=trace          a default plus exceptions
 * and can be changed at any time with setLogLevel(). A disabled level costs one call to an
 * empty function: callers that build expensive messages can test `log.enabled('debug')`.
 *
 * The C core follows the level of module 'memif' (process-wide: it is one C library). Its
 * lines go to stderr in the same format, also from native threads, and never to setLogSink's
 * sink. NMIF_LOG, the C library's own variable, is for plain C programs only.
 */
import { format } from 'node:util';
import { InvalidArgumentError } from '../errors';

/** Levels from quietest to noisiest. */
export const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug', 'trace'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** A level a message can have (all but 'silent'). */
export type EmitLevel = Exclude<LogLevel, 'silent'>;

/** Level of modules not named in NMEMIF_LOG or setLogLevel(). */
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn';

/** Receives each enabled message; the default writes one line to stderr. */
export type LogSink = (module: string, level: EmitLevel, message: string) => void;

const rank = (level: LogLevel): number => LOG_LEVELS.indexOf(level);

function isLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

const defaultSink: LogSink = (module, level, message) => {
  process.stderr.write(`${new Date().toISOString()} nmemif:${module} ${level.toUpperCase()} ${message}\n`);
};

let sink: LogSink = defaultSink;
let defaultLevel: LogLevel = DEFAULT_LOG_LEVEL;
const explicitLevels = new Map<string, LogLevel>();
const loggers = new Map<string, Logger>();
const watchers = new Map<string, Set<(level: LogLevel) => void>>();

function notify(module: string): void {
  for (const fn of watchers.get(module) ?? []) fn(getLogLevel(module));
}

/** Logs `message`, formatted with `args` as util.format() does. */
export type LogFn = (message: string, ...args: unknown[]) => void;
const noop: LogFn = () => {};

/** A module's logger; get one with `logger('nstack')`. */
export class Logger {
  /** The module's name ('memif', 'nstack', 'bridge', ...). */
  readonly module: string;
  #level: LogLevel = 'silent';
  /** Logs at level error (an empty function while disabled). */
  error: LogFn = noop;
  /** Logs at level warn. */
  warn: LogFn = noop;
  /** Logs at level info. */
  info: LogFn = noop;
  /** Logs at level debug. */
  debug: LogFn = noop;
  /** Logs at level trace. */
  trace: LogFn = noop;

  constructor(module: string) {
    this.module = module;
    this.setLevel(explicitLevels.get(module) ?? defaultLevel);
  }

  /** The module's current level. */
  get level(): LogLevel {
    return this.#level;
  }

  /** Whether messages of `level` are written (to skip building expensive ones). */
  enabled(level: EmitLevel): boolean {
    return rank(level) <= rank(this.#level);
  }

  /** Rebinds the methods so that disabled levels are empty functions. */
  setLevel(level: LogLevel): void {
    this.#level = level;
    for (const name of LOG_LEVELS) {
      if (name === 'silent') continue;
      this[name] = rank(name) <= rank(level) ? this.#emitter(name) : noop;
    }
  }

  #emitter(level: EmitLevel): LogFn {
    const module = this.module;
    return (message, ...args) => sink(module, level, args.length > 0 ? format(message, ...args) : message);
  }
}

/** The logger of `module` (one instance per module and thread). */
export function logger(module: string): Logger {
  let log = loggers.get(module);
  if (log === undefined) {
    log = new Logger(module);
    loggers.set(module, log);
  }
  return log;
}

/**
 * Sets the level of one module, or of every module not set explicitly when `module` is '*'.
 * Throws InvalidArgumentError for an unknown level.
 */
export function setLogLevel(module: string, level: LogLevel): void {
  if (typeof level !== 'string' || !isLevel(level)) {
    throw new InvalidArgumentError(`unknown log level ${String(level)}; use one of ${LOG_LEVELS.join(', ')}`);
  }
  if (typeof module !== 'string' || module.length === 0) {
    throw new InvalidArgumentError('log module must be a non-empty string (or "*")');
  }
  if (module === '*') {
    defaultLevel = level;
    for (const log of loggers.values()) {
      if (!explicitLevels.has(log.module)) log.setLevel(level);
    }
    for (const name of watchers.keys()) if (!explicitLevels.has(name)) notify(name);
    return;
  }
  explicitLevels.set(module, level);
  loggers.get(module)?.setLevel(level);
  notify(module);
}

/** The level of `module` (its own, or the default). */
export function getLogLevel(module: string): LogLevel {
  return explicitLevels.get(module) ?? defaultLevel;
}

/** @internal Calls `fn` with the level of `module` now and on every change (the native
 * addon uses it to set the C core's level). */
export function watchLogLevel(module: string, fn: (level: LogLevel) => void): void {
  let set = watchers.get(module);
  if (set === undefined) watchers.set(module, (set = new Set()));
  set.add(fn);
  fn(getLogLevel(module));
}

/** Replaces where messages go; `null` restores stderr. */
export function setLogSink(fn: LogSink | null): void {
  sink = fn ?? defaultSink;
}

/**
 * Parses an NMEMIF_LOG value into a default level and per-module levels. Bad entries are
 * reported in `errors` and otherwise ignored (a typo in an env var must not stop a program).
 */
export function parseLogSpec(spec: string): {
  /** The level given without a module name, if any. */
  defaultLevel?: LogLevel;
  /** Levels by module. */
  modules: Map<string, LogLevel>;
  /** Entries that could not be read. */
  errors: string[];
} {
  const modules = new Map<string, LogLevel>();
  const errors: string[] = [];
  let dflt: LogLevel | undefined;
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const name = eq < 0 ? '' : entry.slice(0, eq).trim();
    const level = (eq < 0 ? entry : entry.slice(eq + 1)).trim().toLowerCase();
    if (!isLevel(level) || (eq >= 0 && name === '')) {
      errors.push(entry);
    } else if (eq < 0 || name === '*') {
      dflt = level;
    } else {
      modules.set(name, level);
    }
  }
  return { defaultLevel: dflt, modules, errors };
}

/** Applies an NMEMIF_LOG-style string on top of the current levels. */
export function configureLogging(spec: string): void {
  const parsed = parseLogSpec(spec);
  if (parsed.defaultLevel !== undefined) setLogLevel('*', parsed.defaultLevel);
  for (const [module, level] of parsed.modules) setLogLevel(module, level);
  if (parsed.errors.length > 0) {
    logger('nstack').warn('NMEMIF_LOG: ignored %s (expected level or module=level, levels: %s)',
      parsed.errors.join(', '), LOG_LEVELS.join('|'));
  }
}

if (process.env.NMEMIF_LOG) configureLogging(process.env.NMEMIF_LOG);
