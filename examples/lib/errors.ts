/**
 * How the tools fail. A user mistake (bad option, bad devargs, missing socket directory, a
 * peer that never comes) is one line on stderr and exit code 2, never a stack trace; anything
 * else is a bug and keeps its stack (exit code 1).
 */
import { NmemifError } from '../../src';

export const EXIT_USAGE = 2;

/** A problem the user can fix (link not up, missing directory...); its message says how. */
export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolError';
  }
}

/** A bad command line: also points to --help. */
export class UsageError extends ToolError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function isUserMistake(err: unknown): err is Error {
  if (err instanceof ToolError) return true;
  // Our library's errors carry messages written for users; node's parseArgs errors too.
  if (err instanceof NmemifError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('ERR_PARSE_ARGS') || ['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR'].includes(code));
}

/**
 * Whether a data-path call failed because the link is down or the peer broke the protocol
 * (the library then takes the link down and says why in 'disconnect'): the tools carry on and
 * wait for the next link, they never die from what a peer does.
 */
export function isLinkDown(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_NMEMIF_NOT_CONNECTED' || code === 'ERR_NMEMIF_PROTOCOL';
}

/** Prints `err` the way the tools do and returns the exit code. */
export function reportError(tool: string, err: unknown): number {
  if (isUserMistake(err)) {
    process.stderr.write(`${tool}: ${err.message}\n`);
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`Try '${tool} --help'.\n`);
    }
    return EXIT_USAGE;
  }
  process.stderr.write(`${tool}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

/** Runs a tool's main(); its resolved value is the exit code. */
export function runTool(tool: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = reportError(tool, err);
    },
  );
}
