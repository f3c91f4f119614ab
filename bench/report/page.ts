/**
 * The report's HTML page: the machine, how busy it was for each benchmark, every chart (inline
 * SVG, with its PNG beside it) with its numbers, or "not measured" and how to measure it.
 */
import type { Chart, Results, Table } from './charts';
import type { Common, StartupJson } from './shapes';

export interface Rendered {
  chart: Chart;
  /** Inline SVG, or null when not measured. */
  svg: string | null;
  png: string | null;
}

export interface RunLogEntry {
  scenario: string;
  status: string;
  started?: string;
  seconds?: number;
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function table(t: Table): string {
  const head = t.head.map((h) => `<th>${esc(h)}</th>`).join('');
  const rows = t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function machines(r: Results): string {
  const seen = new Map<string, string[]>();
  for (const [bench, j] of Object.entries(r.byBench) as Array<[string, Common]>) {
    if (!j.machine) continue;
    const key = JSON.stringify(j.machine);
    seen.set(key, [...(seen.get(key) ?? []), bench]);
  }
  if (seen.size === 0) return '<p>No benchmark recorded its machine.</p>';
  return [...seen].map(([key, benches]) => {
    const m = JSON.parse(key);
    const rows = [['CPU', m.cpu], ['cores available', m.cpus], ['kernel', m.kernel], ['Node.js', m.node], ['DPDK', m.dpdk ?? 'not installed'], ['host', m.host]];
    const which = seen.size > 1 ? `<p>Measured by: ${esc(benches.join(', '))}</p>` : '';
    return `${which}<table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
  }).join('\n');
}

function load(r: Results, runs: RunLogEntry[]): string {
  const t: Table = { head: ['benchmark', 'busy', 'others before (% of CPUs)', 'others during', 'load average start -> end', 'verdict'], rows: [] };
  for (const [bench, j] of Object.entries(r.byBench) as Array<[string, Common]>) {
    const q = j.quiet;
    if (!q) {
      t.rows.push([bench, 'unknown', '-', '-', '-', 'this result does not record how busy the machine was']);
      continue;
    }
    t.rows.push([bench, q.busy ? 'YES' : 'no', String(q.before.others_pct), `${q.during.others_pct} (runs: max ${q.during.run_others_pct_max ?? '-'})`,
      `${q.loadavg_start.join(' ')} -> ${q.loadavg_end.join(' ')}`, q.verdict]);
  }
  for (const run of runs.filter((x) => !(x.scenario in r.byBench))) t.rows.push([run.scenario, '-', '-', '-', '-', run.status]);
  const log = runs.length
    ? `<p class="small">Runs: ${runs.map((x) => esc(`${x.scenario} ${x.status}${x.started ? ` at ${x.started}` : ''}${x.seconds ? ` (${x.seconds} s)` : ''}`)).join('; ')}</p>`
    : '';
  return `${table(t)}\n${log}`;
}

function startup(r: Results): string {
  const s = r.byBench.startup as StartupJson | undefined;
  if (!s) return `<p class="missing">startup: not measured${r.why.startup ? ` (${esc(r.why.startup)})` : ''}; npm run bench -- startup</p>`;
  const ms = (x: { median: number; min: number; max: number } | null | undefined) => (x ? `${x.median.toFixed(1)} [${x.min.toFixed(1)}..${x.max.toFixed(1)}]` : '-');
  const t: Table = {
    head: ['case', 'wall ms', 'adds over node -e 0 (wall ms)', 'CPU ms', 'adds (CPU ms)'],
    rows: s.cases.map((c) => (c.error ? [c.label, `fails: ${c.error}`, '', '', ''] : [c.label, ms(c.wall_ms), ms(c.added_wall_ms), ms(c.cpu_ms), ms(c.added_cpu_ms)])),
  };
  const busy = s.quiet?.busy ? '<p class="busy">Measured on a BUSY machine: not a figure to quote.</p>' : '';
  return `${busy}${table(t)}`;
}

function section(x: Rendered): string {
  const c = x.chart;
  const busy = c.busy.length ? `<p class="busy">${c.busy.map(esc).join('<br>')}</p>` : '';
  const missing = c.missing ? `<p class="missing">${esc(c.missing)}</p>` : '';
  const figure = x.svg ? `<figure>${x.svg}<figcaption><a href="${esc(x.png)}">PNG</a></figcaption></figure>` : '';
  return `<section id="${esc(c.id)}">
<h2>${esc(c.title)}</h2>
<p>${esc(c.about)}</p>
${busy}${missing}${figure}
${c.table ? table(c.table) : ''}
</section>`;
}

export function page(r: Results, rendered: Rendered[], runs: RunLogEntry[], generated: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nmemif benchmark report</title>
<style>
body { font-family: 'DejaVu Sans', Verdana, sans-serif; max-width: 1150px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
table.kv th { background: #f4f4f4; }
thead th { background: #f4f4f4; }
.busy { color: #b00020; font-weight: bold; }
.missing { color: #555; font-style: italic; border-left: 3px solid #bbb; padding-left: 0.6em; }
.small { font-size: 0.85em; color: #555; }
figure { margin: 1em 0; overflow-x: auto; }
section { border-top: 1px solid #ddd; margin-top: 2em; }
</style>
</head>
<body>
<h1>nmemif benchmark report</h1>
<p class="small">Generated ${esc(generated)} from the JSON the benchmarks print (bench/report/shapes.ts).
Ratios are measured side by side in one run, interleaved; figures are medians with min and max.</p>
<h2>Machine</h2>
${machines(r)}
<h2>How busy it was</h2>
<p>Others = CPU time of processes outside the benchmark's own process tree, in % of all CPUs.
A figure measured beside other work is not a figure.</p>
${load(r, runs)}
${rendered.map(section).join('\n')}
<section id="startup">
<h2>Startup: what loading nmemif adds to a process</h2>
${startup(r)}
</section>
</body>
</html>
`;
}
