/**
 * The report's charts: from the benchmarks' JSON (shapes.ts) to Vega-Lite specifications and a
 * table of the same numbers. A chart whose benchmark did not run says "not measured" and why.
 */
import type { TopLevelSpec } from 'vega-lite';
import type {
  BenchJson, BridgeCallgrindJson, BridgeJson, Common, CVsDpdkJson, LatencyJson, Stat, ToolsJson, TsForwardJson,
} from './shapes';

/** The benchmarks' results by name, and why a missing one is missing. */
export interface Results {
  byBench: Partial<{ [K in BenchJson['bench']]: Extract<BenchJson, { bench: K }> }>;
  /** e.g. { latency: 'refused: the machine was busy' }, from the run log. */
  why: Record<string, string>;
}

export interface Table {
  head: string[];
  rows: string[][];
}

export interface Chart {
  /** File name stem of its SVG and PNG. */
  id: string;
  title: string;
  /** What it shows and how it was measured, one or two sentences. */
  about: string;
  /** null when nothing it needs was measured. */
  spec: TopLevelSpec | null;
  /** Why it is (partly) not measured, or null. */
  missing: string | null;
  table: Table | null;
  /** The quiet verdicts of its sources that say busy (a busy figure is not a figure). */
  busy: string[];
}

const FONT = 'DejaVu Sans, Verdana, sans-serif';
const CONFIG = {
  font: FONT,
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e8e8e8' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'bottom', columns: 3, labelLimit: 260 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  title: { fontSize: 15, subtitleFontSize: 11, anchor: 'start' },
} as const;

const mpps = (x: number) => x / 1e6;
const f2 = (x: number) => x.toFixed(2);
const cell = (s: Stat | null | undefined, scale = mpps) => (s ? `${f2(scale(s.median))} [${f2(scale(s.min))}..${f2(scale(s.max))}]` : '-');

function missingText(r: Results, bench: string, how: string): string {
  return `${bench}: not measured${r.why[bench] ? ` (${r.why[bench]})` : ''}; ${how}`;
}

function busyOf(...sources: Array<Common | undefined>): string[] {
  return sources.filter((s): s is Common => s?.quiet?.busy === true).map((s) => s.quiet!.verdict);
}

const RANGES = 'medians, bars from min to max over interleaved runs';

function title(text: string, busy: string[], note = RANGES): TopLevelSpec['title'] {
  return busy.length
    ? { text, subtitle: ['measured on a BUSY machine (other work ran beside it): not a figure to quote', note], subtitleColor: '#b00020' }
    : { text, subtitle: note, subtitleColor: '#555' };
}

/** Median line with a min..max rule, one colour per series; x and y on log scales. */
function lineWithRange(x: object, y: object, color: object): object[] {
  return [
    { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { ...y, field: 'min' }, y2: { field: 'max' }, color } },
    { mark: { type: 'line', point: { size: 45 }, strokeWidth: 2 }, encoding: { x, y: { ...y, field: 'median' }, color } },
  ];
}

function throughputVsSize(r: Results): Chart {
  const cvd = r.byBench['c-vs-dpdk'] as CVsDpdkJson | undefined;
  const tsf = r.byBench['ts-forward'] as TsForwardJson | undefined;
  const rows: Array<{ panel: string; impl: string; size: number } & Stat> = [];
  const table: Table = { head: ['size', 'series', 'Mpps median [min..max]', 'ratio'], rows: [] };
  const oneWay = 'one way: slave tx -> master rx (c-vs-dpdk)';
  const forward = 'forwarded back to a C peer (ts-forward)';
  for (const res of cvd?.results ?? []) {
    const series: Array<[string, Stat | undefined, string]> = [
      ['C core pair', res.ours?.rx_pps, res.ratio_ours_vs_dpdk?.paired ? `vs testpmd, per round ${cell(res.ratio_ours_vs_dpdk.paired, (x) => x)}` : ''],
      ['C core pair, receiver copies', res.ours_rxcopy?.rx_pps, ''],
      ['DPDK testpmd pair', res.dpdk?.rx_pps, ''],
    ];
    for (const [impl, s, ratio] of series) {
      if (!s) continue;
      rows.push({ panel: oneWay, impl, size: res.size, median: mpps(s.median), min: mpps(s.min), max: mpps(s.max) });
      table.rows.push([`${res.size} B`, impl, cell(s), ratio]);
    }
  }
  const tsNames = { 'ts-swap': 'TS zero-copy swap', 'ts-macswap': 'TS swap + JS MAC swap', 'c-swap': 'C core swap (nmif-perf echo)' } as const;
  for (const [size, kinds] of Object.entries(tsf?.sizes ?? {})) {
    for (const kind of ['ts-swap', 'ts-macswap', 'c-swap'] as const) {
      const s = kinds[kind];
      if (!s) continue;
      rows.push({ panel: forward, impl: tsNames[kind], size: Number(size), median: mpps(s.median), min: mpps(s.min), max: mpps(s.max) });
      const ratio = s.ratioToCPerRound ? `vs C swap, per round ${cell(s.ratioToCPerRound, (x) => x)}` : `vs C swap, of medians ${f2(s.ratioToC)}`;
      table.rows.push([`${size} B`, tsNames[kind], cell(s), kind === 'c-swap' ? '' : ratio]);
    }
  }
  const missing = [
    cvd ? null : missingText(r, 'c-vs-dpdk', 'npm run bench -- c-vs-dpdk --sizes 64,128,256,512,1024,1500,4096,9000'),
    tsf ? null : missingText(r, 'ts-forward', 'npm run bench -- ts-forward --sizes 64,128,256,512,1024,1500,4096,9000'),
  ].filter((x): x is string => x !== null);
  const busy = busyOf(cvd, tsf);
  const sizes = [...new Set(rows.map((x) => x.size))].sort((a, b) => a - b);
  const x = { field: 'size', type: 'quantitative', scale: { type: 'log', domain: [sizes[0] * 0.85, sizes[sizes.length - 1] * 1.15] }, axis: { values: sizes, format: 'd', labelOverlap: false, title: 'frame size (bytes, log scale)', labelAngle: -40 } };
  const y = { type: 'quantitative', scale: { type: 'log' }, title: 'million packets per second (log scale)' };
  // Fixed colours: blues for the C core, oranges for TypeScript, red for DPDK, in both panels.
  const palette: Record<string, string> = {
    'C core pair': '#1f5fa8', 'C core pair, receiver copies': '#7fb2e5', 'DPDK testpmd pair': '#d62728',
    [tsNames['c-swap']]: '#123c69', [tsNames['ts-swap']]: '#ff7f0e', [tsNames['ts-macswap']]: '#e8b100',
  };
  const present = Object.keys(palette).filter((k) => rows.some((x) => x.impl === k));
  const color = { field: 'impl', type: 'nominal', title: null, scale: { domain: present, range: present.map((k) => palette[k]) } };
  return {
    id: 'throughput-vs-frame-size',
    title: 'Throughput vs frame size: C core, TypeScript, DPDK testpmd',
    about: 'Left: our C slave -> master pair against two testpmds (txonly client -> rxonly server) over net_memif, same cores, ring and buffer size (c-vs-dpdk). ' +
      'Right: forwarders on the slave side, measured as frames per second returned to one nmif-perf master (ts-forward). ' +
      'Frames above 2048 B use a buffer that holds one frame, the same on every side.',
    spec: rows.length === 0 ? null : {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: title('Throughput vs frame size', busy),
      data: { values: rows },
      facet: { column: { field: 'panel', type: 'nominal', title: null, sort: [oneWay, forward] } },
      spec: { width: 330, height: 250, layer: lineWithRange(x, y, color) },
      config: CONFIG,
    } as TopLevelSpec,
    missing: missing.length ? missing.join('; ') : null,
    table: rows.length ? table : null,
    busy,
  };
}

function bridgeVsTestpmd(r: Results): Chart {
  const b = r.byBench.bridge as BridgeJson | undefined;
  const bars: Array<{ case: string; forwarder: string } & Stat> = [];
  const ratios: Array<{ case: string } & Stat> = [];
  const table: Table = { head: ['case', 'nmemif-bridge Mpps', 'testpmd io Mpps', 'ours/testpmd per round: median [min..max]'], rows: [] };
  for (const c of b?.cases ?? []) {
    const name = `${c.dir} ${c.size} B`;
    if (c.ours) bars.push({ case: name, forwarder: 'nmemif-bridge', median: mpps(c.ours.median), min: mpps(c.ours.min), max: mpps(c.ours.max) });
    if (c.testpmd) bars.push({ case: name, forwarder: 'dpdk-testpmd io', median: mpps(c.testpmd.median), min: mpps(c.testpmd.min), max: mpps(c.testpmd.max) });
    const pr = c.ratio?.per_round;
    if (pr) ratios.push({ case: name, median: pr.median, min: pr.min, max: pr.max });
    table.rows.push([name, cell(c.ours), cell(c.testpmd), pr ? cell(pr, (x) => x) : '-']);
  }
  const busy = busyOf(b);
  const cases = [...new Set(bars.map((x) => x.case))];
  const xCase = { field: 'case', type: 'nominal', sort: cases, title: null, axis: { labelAngle: -30 } };
  return {
    id: 'bridge-vs-testpmd',
    title: 'Bridge vs testpmd: memif <-> net_null, both directions',
    about: 'nmemif-bridge and dpdk-testpmd --forward-mode=io between the same net_memif server port and net_null, one forwarding core each, ' +
      'rate measured by the nmif-perf peer (bridge). Right: the per-round ratio ours/testpmd (1 = even).',
    spec: bars.length === 0 ? null : {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: title('Bridge vs testpmd io', busy),
      hconcat: [
        {
          data: { values: bars }, width: 300, height: 250,
          encoding: { x: xCase, xOffset: { field: 'forwarder' }, color: { field: 'forwarder', type: 'nominal', title: null } },
          layer: [
            { mark: 'bar', encoding: { y: { field: 'median', type: 'quantitative', title: 'million packets per second' } } },
            { mark: { type: 'rule', color: '#333' }, encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
          ],
        },
        {
          data: { values: ratios }, width: 220, height: 250,
          layer: [
            { mark: { type: 'rule', strokeDash: [4, 3], color: '#888' }, encoding: { y: { datum: 1, type: 'quantitative' } } },
            { mark: { type: 'rule', strokeWidth: 2 }, encoding: { x: xCase, y: { field: 'min', type: 'quantitative', title: 'ours / testpmd, per round' }, y2: { field: 'max' } } },
            { mark: { type: 'point', filled: true, size: 70 }, encoding: { x: xCase, y: { field: 'median', type: 'quantitative' } } },
          ],
        },
      ],
      config: CONFIG,
    } as TopLevelSpec,
    missing: b ? null : missingText(r, 'bridge', 'npm run bench -- bridge'),
    table: bars.length ? table : null,
    busy,
  };
}

function latencyCdfs(r: Results): Chart {
  const l = r.byBench.latency as LatencyJson | undefined;
  const rows: Array<{ mode: string; series: string; us: number; fraction: number }> = [];
  const table: Table = { head: ['rx mode', 'ends', 'size', 'p50 µs', 'p99 µs', 'p99.9 µs', 'round trips/s'], rows: [] };
  for (const c of l?.cases ?? []) {
    const series = `${c.pair}, ${c.size} B`;
    for (const [fraction, us] of c.cdf ?? []) rows.push({ mode: c.mode, series, us, fraction });
    const rtt = c.rtt_us;
    table.rows.push([c.mode, c.pair, `${c.size} B`, rtt ? f2(rtt.p50) : '-', rtt ? f2(rtt.p99) : '-', rtt ? f2(rtt.p999) : '-',
      c.round_trips_per_s ? cell(c.round_trips_per_s, (x) => x / 1e3).replace(/ \[/, ' k [') : '-']);
  }
  const busy = busyOf(l);
  return {
    id: 'latency-cdf',
    title: 'Round-trip latency per rx mode',
    about: 'The distribution of round-trip times with one frame in flight, per pair of ends and rx mode (latency).',
    spec: rows.length === 0 ? null : {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: title('Round-trip time, cumulative distribution per rx mode', busy, 'one frame in flight; each line: one pair of ends and frame size'),
      data: { values: rows },
      facet: { column: { field: 'mode', type: 'nominal', title: 'rx mode', sort: [...new Set(rows.map((x) => x.mode))] } },
      spec: {
        width: 260, height: 230,
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
        encoding: {
          x: { field: 'us', type: 'quantitative', scale: { type: 'log' }, title: 'round-trip time (µs, log scale)' },
          y: { field: 'fraction', type: 'quantitative', title: 'fraction of round trips', scale: { domain: [0, 1] } },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
      config: CONFIG,
    } as TopLevelSpec,
    missing: l ? null : missingText(r, 'latency', 'npm run bench -- latency (its JSON shape: LatencyJson in bench/report/shapes.ts)'),
    table: rows.length ? table : null,
    busy,
  };
}

function toolsVsPerf(r: Results): Chart {
  const t = r.byBench.tools as ToolsJson | undefined;
  const what = (c: ToolsJson['cases'][number]) => `${c.kind ?? 'send'}, ${c.size} B`;
  const rows = (t?.cases ?? []).map((c) => ({ tool: c.tool, case: what(c), median: mpps(c.pps.median), min: mpps(c.pps.min), max: mpps(c.pps.max) }));
  const ratio = (c: ToolsJson['cases'][number]) =>
    c.ratio ? `${f2(c.ratio.of_medians)}${c.ratio.per_round ? ` (per round ${cell(c.ratio.per_round, (x) => x)})` : ''}` : '-';
  const table: Table = {
    head: ['case', 'tool', 'Mpps median [min..max]', 'vs', 'ratio of medians (per round)', 'frames back / sent'],
    rows: (t?.cases ?? []).map((c) => [what(c), c.tool, cell(c.pps), c.vs ?? '-', ratio(c), c.answered ? cell(c.answered, (x) => x) : '-']),
  };
  const busy = busyOf(t);
  return {
    id: 'tools-vs-nmif-perf',
    title: 'Tools vs nmif-perf',
    about: 'send: frames per second each command sends into the same nmif-perf sink; echo: frames per second each echo returns behind the same nmemif-sender driver; icmp: the sender\'s matched replies with its window (tools).',
    spec: rows.length === 0 ? null : {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: title('Tools vs nmif-perf, into the same sink', busy),
      data: { values: rows },
      facet: { column: { field: 'case', type: 'nominal', title: null } },
      spec: {
        width: 200, height: 230,
        encoding: { x: { field: 'tool', type: 'nominal', title: null, axis: null } },
        layer: [
          { mark: 'bar', encoding: { y: { field: 'median', type: 'quantitative', title: 'million packets per second' }, color: { field: 'tool', type: 'nominal', title: null } } },
          { mark: { type: 'rule', color: '#333' }, encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
        ],
      },
      config: CONFIG,
    } as TopLevelSpec,
    missing: t ? null : missingText(r, 'tools', 'npm run bench -- tools (its JSON shape: ToolsJson in bench/report/shapes.ts)'),
    table: rows.length ? table : null,
    busy,
  };
}

function instructionsPerPacket(r: Results): Chart {
  const b = r.byBench['bridge-callgrind'] as BridgeCallgrindJson | undefined;
  const rows: Array<{ case: string; forwarder: string; ir: number }> = [];
  const table: Table = { head: ['case', 'nmemif-bridge worker Ir/packet', 'testpmd io Ir/packet', 'ours/testpmd'], rows: [] };
  for (const c of b?.cases ?? []) {
    const name = `${c.dir} ${c.size} B`;
    if (c.ours.perPacket) rows.push({ case: name, forwarder: 'nmemif-bridge worker', ir: c.ours.perPacket });
    if (c.testpmd.perPacket) rows.push({ case: name, forwarder: 'dpdk-testpmd io', ir: c.testpmd.perPacket });
    const ratio = c.ours.perPacket && c.testpmd.perPacket ? f2(c.ours.perPacket / c.testpmd.perPacket) : '-';
    table.rows.push([name, c.ours.perPacket?.toFixed(1) ?? `failed: ${c.ours.error?.split('\n')[0]}`, c.testpmd.perPacket?.toFixed(1) ?? `failed: ${c.testpmd.error?.split('\n')[0]}`, ratio]);
  }
  const busy = busyOf(b);
  const cases = [...new Set(rows.map((x) => x.case))];
  return {
    id: 'bridge-instructions',
    title: 'Bridge vs testpmd: instructions per forwarded packet',
    about: 'callgrind instruction counts of the forwarding thread per packet (bridge-callgrind); lower is better. ' +
      'Counts do not change with other work as timings do, but the polling of an idle forwarder is counted too.',
    spec: rows.length === 0 ? null : {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: busy.length
        ? { text: 'Instructions per forwarded packet', subtitle: ['counted on a BUSY machine (idle polling is counted too)', 'callgrind, forwarding thread; lower is better'], subtitleColor: '#b00020' }
        : { text: 'Instructions per forwarded packet', subtitle: 'callgrind, forwarding thread; lower is better', subtitleColor: '#555' },
      data: { values: rows },
      width: 360, height: 230,
      mark: 'bar',
      encoding: {
        x: { field: 'case', type: 'nominal', sort: cases, title: null, axis: { labelAngle: -30 } },
        xOffset: { field: 'forwarder' },
        y: { field: 'ir', type: 'quantitative', title: 'instructions per packet' },
        color: { field: 'forwarder', type: 'nominal', title: null },
      },
      config: CONFIG,
    } as TopLevelSpec,
    missing: b ? null : missingText(r, 'bridge-callgrind', 'npm run bench -- bridge-callgrind'),
    table: rows.length ? table : null,
    busy,
  };
}

/** Every chart of the report, in the order of the page. */
export function charts(r: Results): Chart[] {
  return [throughputVsSize(r), bridgeVsTestpmd(r), latencyCdfs(r), toolsVsPerf(r), instructionsPerPacket(r)];
}
