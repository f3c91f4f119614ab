/**
 * The JSON each benchmark prints as its last stdout line, as the report reads it. A benchmark
 * that changes its output changes its shape here; a new benchmark adds one (with a `bench`
 * name) and a chart in charts.ts. Fields the report does not read are left out.
 */
import type { Machine } from '../lib/machine';
import type { QuietRecord } from '../lib/quiet';

/** median, min and max over the runs of one case. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  n?: number;
}

/** What every benchmark's JSON carries. */
export interface Common {
  bench: string;
  machine?: Machine;
  quiet?: QuietRecord;
}

/** npm run bench -- c-vs-dpdk: our C pair vs the testpmd pair, one way, per frame size (pps). */
export interface CVsDpdkJson extends Common {
  bench: 'c-vs-dpdk';
  results: Array<{
    size: number;
    ours?: { rx_pps: Stat };
    ours_rxcopy?: { rx_pps: Stat };
    dpdk?: { rx_pps: Stat };
    ratio_ours_vs_dpdk?: { of_medians: number; paired: Stat | null };
  }>;
  callgrind: null | { sizes: Array<{ size: number; ir_per_packet: number }> };
}

/** npm run bench -- ts-forward: forwarders measured by one nmif-perf peer (frames back, pps). */
export interface TsForwardJson extends Common {
  bench: 'ts-forward';
  sizes: Record<string, Partial<Record<'ts-swap' | 'ts-macswap' | 'c-swap', Stat & { ratioToC: number; ratioToCPerRound?: Stat | null }>>>;
}

/** npm run bench -- bridge: nmemif-bridge vs testpmd io, memif <-> net_null (pps). */
export interface BridgeJson extends Common {
  bench: 'bridge';
  cases: Array<{
    dir: string;
    size: number;
    ours: (Stat & { failed: number }) | null;
    testpmd?: (Stat & { failed: number }) | null;
    ratio?: { of_medians: number; per_round: Stat | null };
  }>;
}

/** npm run bench -- bridge-callgrind: instructions per forwarded packet. */
export interface BridgeCallgrindJson extends Common {
  bench: 'bridge-callgrind';
  cases: Array<{
    dir: string;
    size: number;
    ours: { perPacket?: number; error?: string };
    testpmd: { perPacket?: number; error?: string };
  }>;
}

/** npm run bench -- startup: what loading nmemif adds to a process start (ms). */
export interface StartupJson extends Common {
  bench: 'startup';
  cases: Array<{ label: string; error?: string; wall_ms?: Stat; cpu_ms?: Stat; added_wall_ms?: Stat | null; added_cpu_ms?: Stat | null }>;
}

/**
 * npm run bench -- latency: round trips of one frame in flight, per pair of ends
 * ("<sender>-<echo>": "C-C", "C-TS", "TS-C", "TS-TS", "C-C@base" for an older build), rx mode
 * ("interrupt", "polling", "adaptive") and frame size.
 * `cdf` is the distribution of the round-trip time: [fraction of round trips, RTT in µs] pairs,
 * fractions increasing from near 0 to 1 (every 1 %, plus 0.999). An end that prints no
 * round-trip times (an older nmif-perf) leaves rtt_us and cdf out.
 */
export interface LatencyJson extends Common {
  bench: 'latency';
  cases: Array<{
    pair: string;
    mode: string;
    size: number;
    round_trips_per_s?: Stat;
    rtt_us?: { p50: number; p99: number; p999: number };
    cdf?: Array<[number, number]>;
    /** Runs that failed (not in the figures). */
    failed?: number;
  }>;
  /** Round trips/s of a pair over the C pair's, per round (same size; same mode, and adaptive also over interrupt). */
  ratios?: Array<{ what: string; mode: string; size: number; per_round: Stat }>;
  /** CPU an echo uses while its link is up and silent, % of one CPU. */
  idle_cpu?: Array<{ end: string; mode: string; seconds: number; cpu_pct_of_one_cpu: number | null }>;
}

/**
 * npm run bench -- tools: frames per second of each tool; `tool` names the command as a user
 * types it ("nmemif-sender --proto udp", "nmif-perf --mode send"). `kind`: "send" (into the same
 * nmif-perf sink), "echo" (frames back behind the same driver), "icmp" (the sender's matched
 * replies with its window); absent means "send". `vs` names the C core's tool of the same case,
 * `ratio` is ours / vs; `answered` is frames back / frames sent (echo, icmp); `cpu_ns_per_frame`
 * the generator's CPU time per frame (send).
 */
export interface ToolsJson extends Common {
  bench: 'tools';
  cases: Array<{
    tool: string;
    size: number;
    pps: Stat;
    kind?: 'send' | 'echo' | 'icmp';
    failed?: number;
    vs?: string;
    ratio?: { of_medians: number; per_round: Stat | null };
    answered?: Stat;
    /** send: the generator's CPU time per frame, ns. */
    cpu_ns_per_frame?: Stat;
  }>;
}

export type BenchJson = CVsDpdkJson | TsForwardJson | BridgeJson | BridgeCallgrindJson | StartupJson | LatencyJson | ToolsJson;

export const KNOWN_BENCHES: ReadonlyArray<BenchJson['bench']> = ['c-vs-dpdk', 'ts-forward', 'bridge', 'bridge-callgrind', 'startup', 'latency', 'tools'];
