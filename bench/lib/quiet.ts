/**
 * Is the machine quiet enough to measure? Every benchmark asks this module, and every JSON
 * result carries its answer (the `quiet` field), because a figure measured beside other work is
 * not a figure.
 *
 * "Others" is CPU time that neither this benchmark process nor any of its descendants used:
 * the busy ticks of /proc/stat (user, nice, system, and steal, which the hypervisor gave to
 * someone else) minus the CPU time of our own process tree from /proc/<pid>/stat (utime,
 * stime, and cutime/cstime of children already reaped). Interrupt time is left out: the
 * kernel does not charge it to a process, and our own traffic causes most of it. Shares are
 * in % of all CPUs (100 % = every CPU busy).
 *
 *   const quiet = QuietGate.open('c-vs-dpdk', opts);   // refuses (exit 3) when busy, unless --force
 *   const mark = quiet.runStart(); ...one run...; const others = quiet.runEnd(mark);
 *   summary.quiet = quiet.record();
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

/** Exit status of a benchmark that refused to run on a busy machine. */
export const EXIT_BUSY = 3;

export interface QuietOptions {
  /** Measure even when busy; every result is then flagged busy. */
  force: boolean;
  /** Busy when other processes use more than this share of all CPUs, in %. */
  thresholdPct: number;
  /** Before refusing, wait up to this many seconds for a quiet second. */
  waitS: number;
}

export const QUIET_DEFAULTS: Readonly<QuietOptions> = { force: false, thresholdPct: 10, waitS: 0 };

export const QUIET_USAGE = `  --force              measure even when other processes keep the machine busy (results flagged busy)
  --busy-threshold P   busy above P % of all CPUs used by other processes (default ${QUIET_DEFAULTS.thresholdPct})
  --quiet-wait S       wait up to S s for the machine to calm down before refusing (default ${QUIET_DEFAULTS.waitS})`;

/** Takes the quiet options out of argv; returns them and the arguments left for the benchmark. */
export function takeQuietArgs(argv: readonly string[]): { quiet: QuietOptions; rest: string[] } {
  const quiet = { ...QUIET_DEFAULTS };
  const rest: string[] = [];
  const num = (name: string, v: string | undefined, lo: number, hi: number): number => {
    const n = Number(v);
    if (v === undefined || v === '' || !Number.isFinite(n) || n < lo || n > hi) {
      throw new RangeError(`${name} wants a number in ${lo}..${hi}, got '${v ?? ''}'`);
    }
    return n;
  };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--force') quiet.force = true;
    else if (a === '--busy-threshold') quiet.thresholdPct = num(a, argv[++k], 0.1, 100);
    else if (a === '--quiet-wait') quiet.waitS = num(a, argv[++k], 0, 3600);
    else rest.push(a);
  }
  return { quiet, rest };
}

/** takeQuietArgs for a command line: a bad value ends the process with usage and exit status 2. */
export function quietArgsOrExit(argv: readonly string[], who: string, usage: string): { quiet: QuietOptions; rest: string[] } {
  try {
    return takeQuietArgs(argv);
  } catch (e) {
    process.stderr.write(`${who}: ${(e as Error).message}\n${usage}\n`);
    process.exit(2);
  }
}

/** CPU tick counters at one moment (USER_HZ ticks, summed over all CPUs). */
export interface LoadSample {
  /** Every tick the CPUs spent, idle included. */
  total: number;
  /** Ticks a process (or the hypervisor, for someone else) used. */
  busy: number;
  /** Ticks our own process tree used. */
  ours: number;
  /** performance.now() when sampled. */
  at: number;
}

/** What happened between two samples, in % of all CPUs. */
export interface LoadShare {
  others_pct: number;
  ours_pct: number;
  seconds: number;
}

function systemTicks(): { total: number; busy: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, busy: user + nice + system + steal };
}

/** utime + stime + cutime + cstime of every process in the tree under root (root included). */
function treeTicks(root: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // it ended while we looked
    }
    // Fields after the command name, which may itself hold spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parent.set(Number(name), Number(f[1]));
    ticks.set(Number(name), Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
  }
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parent) {
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)!.push(pid);
  }
  let sum = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    sum += ticks.get(pid) ?? 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return sum;
}

export function sampleLoad(root = process.pid): LoadSample {
  const at = performance.now();
  const ours = treeTicks(root);
  return { ...systemTicks(), ours, at };
}

export function shareBetween(a: LoadSample, b: LoadSample): LoadShare {
  const total = b.total - a.total;
  const ours = Math.max(0, b.ours - a.ours);
  const others = Math.max(0, b.busy - a.busy - ours);
  const pct = (x: number) => (total > 0 ? round1((100 * x) / total) : 0);
  return { others_pct: pct(others), ours_pct: pct(ours), seconds: round1((b.at - a.at) / 1000) };
}

/** Blocks the thread (benchmarks only, while nothing else of theirs runs). */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** How busy others keep the machine over the next ms milliseconds. */
export function measureLoad(ms = 1000, root = process.pid): LoadShare {
  const a = sampleLoad(root);
  sleepMs(ms);
  return shareBetween(a, sampleLoad(root));
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The `quiet` field of every benchmark's JSON result. */
export interface QuietRecord {
  /** Other processes used more than threshold_pct of the CPUs before or during the runs. */
  busy: boolean;
  /** Measured although busy (--force). */
  forced: boolean;
  threshold_pct: number;
  cpus: number;
  /** The check before the first run (after waiting up to --quiet-wait). */
  before: LoadShare & { waited_s: number };
  /** From the check to the end: others' share over the whole time, and per run. */
  during: { others_pct: number; ours_pct: number; seconds: number; runs: number; run_others_pct_median: number | null; run_others_pct_max: number | null };
  loadavg_start: number[];
  loadavg_end: number[];
  /** One line for people: "quiet: ..." or "BUSY: ...". */
  verdict: string;
}

export class QuietGate {
  readonly #bench: string;
  readonly #o: QuietOptions;
  readonly #before: LoadShare & { waited_s: number };
  readonly #start: LoadSample;
  readonly #loadavgStart: number[];
  readonly #runs: number[] = [];

  private constructor(bench: string, o: QuietOptions, before: LoadShare & { waited_s: number }, loadavgStart: number[]) {
    this.#bench = bench;
    this.#o = o;
    this.#before = before;
    this.#loadavgStart = loadavgStart;
    this.#start = sampleLoad();
  }

  /**
   * Measures the machine for a second (again each second, up to --quiet-wait); when others keep
   * it busy, prints why and exits with EXIT_BUSY, unless --force. A benchmark that only counts
   * instructions (which other work does not change) passes `refuse: false` and is only flagged.
   */
  static open(bench: string, o: QuietOptions, { refuse = true } = {}): QuietGate {
    const loadavg = os.loadavg().map((x) => Math.round(x * 100) / 100);
    const t0 = performance.now();
    let before = measureLoad(1000);
    while (before.others_pct > o.thresholdPct && performance.now() - t0 < o.waitS * 1000) before = measureLoad(1000);
    const waited = round1((performance.now() - t0) / 1000 - before.seconds);
    const gate = new QuietGate(bench, o, { ...before, waited_s: Math.max(0, waited) }, loadavg);
    if (before.others_pct > o.thresholdPct) {
      const what = `other processes used ${before.others_pct} % of the ${os.cpus().length} CPUs ` +
        `(threshold ${o.thresholdPct} %, load average ${loadavg.join(' ')})`;
      if (refuse && !o.force) {
        process.stderr.write(`${bench}: refusing to measure on a busy machine: ${what}${o.waitS ? ` after waiting ${o.waitS} s` : ''}. ` +
          'A figure measured beside other work is not a figure: run it on a quiet machine, wait with ' +
          '--quiet-wait S, or measure anyway with --force (every result is then flagged busy).\n');
        process.exit(EXIT_BUSY);
      }
      const why = refuse ? ' (--force)' : ' (instruction counts; wall-clock figures would not be figures)';
      process.stderr.write(`${bench}: WARNING: measuring on a busy machine${why}: ${what}; results are flagged busy\n`);
    }
    return gate;
  }

  runStart(): LoadSample {
    return sampleLoad();
  }

  /** Others' share of the CPUs during one run, in %; kept for the record. */
  runEnd(start: LoadSample): number {
    const share = shareBetween(start, sampleLoad());
    this.#runs.push(share.others_pct);
    return share.others_pct;
  }

  record(): QuietRecord {
    const during = shareBetween(this.#start, sampleLoad());
    const t = this.#o.thresholdPct;
    const runMax = this.#runs.length ? Math.max(...this.#runs) : null;
    const busy = this.#before.others_pct > t || during.others_pct > t || (runMax !== null && runMax > t);
    const worst = Math.max(this.#before.others_pct, during.others_pct, runMax ?? 0);
    const verdict = busy
      ? `BUSY: other processes used up to ${worst} % of the CPUs (threshold ${t} %)${this.#o.force ? ', measured with --force' : ''}: not a figure to quote`
      : `quiet: other processes used at most ${worst} % of the CPUs (threshold ${t} %)`;
    return {
      busy,
      forced: this.#o.force,
      threshold_pct: t,
      cpus: os.cpus().length,
      before: this.#before,
      during: {
        ...during,
        runs: this.#runs.length,
        run_others_pct_median: this.#runs.length ? median(this.#runs) : null,
        run_others_pct_max: runMax,
      },
      loadavg_start: this.#loadavgStart,
      loadavg_end: os.loadavg().map((x) => Math.round(x * 100) / 100),
      verdict: `${this.#bench}: ${verdict}`,
    };
  }
}
