/**
 * The benchmark report: reads the benchmarks' JSON results from a directory and writes an HTML
 * page with charts (index.html, and each chart as .svg and .png) into it.
 *
 *   node --import tsx bench/report/report.ts DIR [FILE.json...]
 *
 * DIR/<name>.json are results (`npm run bench -- --report DIR` writes them, one per benchmark, and
 * runs.json, the log of what ran and how it ended); more files can be named. A file whose
 * `bench` is unknown or whose shape does not match is reported and left out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { charts, type Results } from './charts';
import { page, type Rendered, type RunLogEntry } from './page';
import { haveFonts, toPng, toSvg } from './render';
import { KNOWN_BENCHES, type BenchJson } from './shapes';

export const RUN_LOG = 'runs.json';

/** The array or object a result of each benchmark must have, to be read at all. */
const REQUIRED: Record<BenchJson['bench'], string> = {
  'c-vs-dpdk': 'results', 'ts-forward': 'sizes', bridge: 'cases', 'bridge-callgrind': 'cases', startup: 'cases', latency: 'cases', tools: 'cases',
};

/** Reads the results; a bad file is named in `problems`, never fatal. */
export function loadResults(files: string[], runLog: RunLogEntry[]): { results: Results; problems: string[] } {
  const results: Results = { byBench: {}, why: {} };
  const problems: string[] = [];
  for (const run of runLog) if (run.status !== 'ok') results.why[run.scenario] = run.status;
  for (const file of files) {
    let j: unknown;
    try {
      j = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      problems.push(`${file}: not JSON (${(e as Error).message})`);
      continue;
    }
    const bench = (j as { bench?: unknown } | null)?.bench;
    if (typeof bench !== 'string' || !(KNOWN_BENCHES as readonly string[]).includes(bench)) {
      problems.push(`${file}: no known "bench" name (${JSON.stringify(bench)}; known: ${KNOWN_BENCHES.join(', ')})`);
      continue;
    }
    const need = REQUIRED[bench as BenchJson['bench']];
    if (typeof (j as Record<string, unknown>)[need] !== 'object' || (j as Record<string, unknown>)[need] === null) {
      problems.push(`${file}: a ${bench} result without its "${need}" (see bench/report/shapes.ts)`);
      results.why[bench] = `its result ${path.basename(file)} has an unknown shape`;
      continue;
    }
    (results.byBench as Record<string, unknown>)[bench] = j;
    delete results.why[bench];
  }
  return { results, problems };
}

/** Writes DIR/index.html and each measured chart's SVG and PNG; returns what it wrote. */
export async function writeReport(dir: string, extra: string[] = []): Promise<{ files: string[]; problems: string[] }> {
  const logFile = path.join(dir, RUN_LOG);
  const runLog: RunLogEntry[] = fs.existsSync(logFile) ? JSON.parse(fs.readFileSync(logFile, 'utf8')).runs ?? [] : [];
  const found = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== RUN_LOG).map((f) => path.join(dir, f));
  const { results, problems } = loadResults([...found, ...extra], runLog);
  const written: string[] = [];
  const rendered: Rendered[] = [];
  for (const chart of charts(results)) {
    if (!chart.spec) {
      rendered.push({ chart, svg: null, png: null });
      continue;
    }
    const svg = await toSvg(chart.spec);
    const svgFile = `${chart.id}.svg`;
    const pngFile = `${chart.id}.png`;
    fs.writeFileSync(path.join(dir, svgFile), svg);
    fs.writeFileSync(path.join(dir, pngFile), toPng(svg));
    written.push(svgFile, pngFile);
    rendered.push({ chart, svg, png: pngFile });
  }
  if (written.length && !haveFonts()) problems.push('no font found for the PNGs: their text is missing (Debian: apt-get install fonts-dejavu-core)');
  fs.writeFileSync(path.join(dir, 'index.html'), page(results, rendered, runLog, new Date().toISOString()));
  written.push('index.html');
  return { files: written, problems };
}

async function main(): Promise<void> {
  const [dir, ...extra] = process.argv.slice(2);
  if (!dir || dir.startsWith('-')) {
    process.stderr.write('usage: node --import tsx bench/report/report.ts DIR [FILE.json...]\n');
    process.exit(2);
  }
  if (!fs.existsSync(dir)) {
    process.stderr.write(`report: ${dir} does not exist\n`);
    process.exit(2);
  }
  const { files, problems } = await writeReport(dir, extra);
  for (const p of problems) process.stderr.write(`report: ${p}\n`);
  process.stdout.write(`report: wrote ${files.map((f) => path.join(dir, f)).join(', ')}\n`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`report: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  });
}
