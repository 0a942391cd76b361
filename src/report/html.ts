/**
 * The report: one self-contained HTML file (tables, figures as inline SVG, galleries as
 * inline base64 PNG, inline CSS, and a Content-Security-Policy that forbids every network
 * request), plus report.md, the tables as CSV and LaTeX, and the figures as SVG files.
 */
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { type Bench, type Problem, loadBench } from './load.js';
import { buildFigureSet, type Figure, type FigureOptions, type OmittedFigure, renderFigures } from './figures.js';
import { buildGallery, type Gallery, type GalleryOptions } from './gallery.js';
import { GALLERY_CSS, galleryHtml, galleryMarkdown } from './gallery-html.js';
import { buildTables, htmlEscape, type ResultTable, type TableOptions, toCsv, toHtmlTable, toLatex, toMarkdown } from './tables.js';
import { datasetLabel, learnerLabel, modelLabel } from './paper.js';
import type { EvalProtocol } from './protocol.js';

export type ReportFormat = 'md' | 'csv' | 'tex' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['md', 'csv', 'tex', 'html'];

export interface ReportOptions extends TableOptions, FigureOptions, GalleryOptions {
  /** What to write. Default all: report.md, <table>.csv, <table>.tex, report.html. */
  formats?: readonly ReportFormat[];
  /** Throw (BenchError) when the bench has any problem. Default false: problems are listed. */
  strict?: boolean;
  /** Leave out the galleries (no image decoding). Default false. */
  noGallery?: boolean;
  /** The date shown in the header. Default now. */
  date?: Date;
  /** The evaluation protocol of the tables' test scores. Default `original-size` (src/report/protocol.ts). */
  protocol?: EvalProtocol;
}

export interface ReportData {
  bench: Bench;
  tables: ResultTable[];
  figures: Figure[];
  /** Figures the data cannot support, with the line that says why. */
  omitted: OmittedFigure[];
  galleries: Gallery[];
  /** Labels of the datasets without a gallery (no method with scored predictions); empty when galleries were not asked for. */
  noGallery: string[];
  date: Date;
  /** Display width of the gallery thumbnails (px). */
  thumbWidth: number;
}

export interface ReportPaths {
  outDir: string;
  markdown: string | null;
  html: string | null;
  /** Per table id (table3, table4, table5, ...). */
  csv: Record<string, string>;
  latex: Record<string, string>;
  /** SVG files of the figures (written with the Markdown report). */
  figures: string[];
  problems: Problem[];
  missing: string[];
}

/** Loads a bench and builds everything the report shows (figures rendered, galleries decoded). */
export async function buildReport(benchDir: string, o: ReportOptions = {}): Promise<ReportData> {
  const bench = loadBench(benchDir, { strict: o.strict ?? false, ...(o.protocol ? { protocol: o.protocol } : {}) });
  const tables = buildTables(bench, o);
  const set = buildFigureSet(bench, o);
  const figures = await renderFigures(set.figures);
  const galleries: Gallery[] = [];
  const noGallery: string[] = [];
  if (!o.noGallery) {
    for (const d of bench.grid.datasets) {
      const g = await buildGallery(bench, d, o);
      if (g) galleries.push(g);
      else noGallery.push(datasetLabel(d, bench.grid.labels.datasets));
    }
  }
  return {
    bench,
    tables,
    figures,
    omitted: set.omitted,
    galleries,
    noGallery,
    date: o.date ?? new Date(),
    thumbWidth: o.thumbWidth ?? 160,
  };
}

const CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

const CSS = `
:root { --fg: #1d1d1f; --muted: #666; --line: #d0d0d0; --bg: #fff; --accent: #2b6cb0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; padding: 24px; max-width: 1400px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; } h3 { font-size: 16px; margin: 20px 0 6px; }
.meta { color: var(--muted); margin: 0 0 12px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
.table-wrap { overflow-x: auto; margin: 8px 0 20px; }
table.results { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
table.results caption { caption-side: top; text-align: left; padding: 4px 0 8px; max-width: 1100px; }
table.results th, table.results td { padding: 3px 8px; text-align: right; white-space: nowrap; }
table.results th[scope=row] { text-align: left; font-weight: normal; }
table.results thead tr:last-child th { border-bottom: 1.5px solid var(--fg); }
table.results thead tr.groups th { border-bottom: 1px solid var(--line); text-align: center; font-weight: 600; }
table.results thead { border-top: 1.5px solid var(--fg); }
table.results tbody { border-bottom: 1.5px solid var(--fg); }
table.results tr.block th, table.results tr.block td { border-top: 1px solid var(--line); }
table.results tr.reference { color: var(--muted); font-style: italic; }
table.results tr.average th { font-style: italic; }
table.results td.missing { color: #aaa; }
ul.notes { color: var(--muted); font-size: 12px; margin: 4px 0 0; padding-left: 18px; }
figure.figure { margin: 12px 0 28px; overflow-x: auto; }
figure.figure figcaption { color: var(--muted); font-size: 12.5px; max-width: 1000px; margin-top: 4px; }
figure.figure svg { max-width: 100%; height: auto; }
ul.omitted { color: var(--muted); font-size: 12.5px; padding-left: 18px; }
.status ul { margin: 4px 0; }
.status .ok { color: #009E73; } .status .missing { color: #B35900; } .status .error { color: #C0392B; }
code { font-size: 12.5px; }
${GALLERY_CSS}
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; color: #000; }
  nav, .tile .close { display: none !important; }
  .legend-swatch { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  figure.figure, table.results, table.gallery tr, .table-wrap { break-inside: avoid; page-break-inside: avoid; overflow: visible; }
  .table-wrap, figure.figure { overflow: visible; }
  figure.figure svg { max-width: 100%; height: auto; }
  .tile img { width: min(var(--thumb), calc((100vw - 150px) / var(--cols) - 10px)); }
  table.results td, table.results th { padding: 2px 5px; }
  .tile:target .open img { position: static; transform: none; width: min(var(--thumb), calc((100vw - 150px) / var(--cols) - 10px)); }
  .tile:target figcaption { position: static; color: inherit; font-size: inherit; }
}
`;

/** The SVG as an image with a text alternative: `role="img"`, and the title and one-line summary as its label. */
function accessibleSvg(f: Figure): string {
  const alt = htmlEscape(`${f.title}. ${f.summary}`);
  return (f.svg ?? '')
    .replace(/^<svg\b([^>]*?)\s(?:role|aria-label|aria-roledescription)="[^"]*"/, '<svg$1')
    .replace(/^<svg\b/, `<svg role="img" aria-label="${alt}"`)
    .replace(/^(<svg\b[^>]*>)/, `$1<title>${alt}</title>`);
}

function figureHtml(f: Figure): string {
  const id = htmlEscape(f.id);
  return [
    `<figure class="figure" id="fig-${id}" data-figure="${id}" data-expected-points="${f.expected.points}" data-expected-lines="${f.expected.lines}" aria-labelledby="fig-${id}-caption">`,
    accessibleSvg(f),
    `<figcaption id="fig-${id}-caption"><b>${htmlEscape(f.title)}.</b> <span class="summary">${htmlEscape(f.summary)}</span> ${htmlEscape(f.caption)}</figcaption>`,
    '</figure>',
  ].join('\n');
}

const omittedHtml = (os: readonly OmittedFigure[]): string =>
  os.length
    ? `<ul class="omitted" aria-label="figures left out">${os.map((o) => `<li data-omitted="${htmlEscape(o.id)}"><b>${htmlEscape(o.title)}</b> is left out: ${htmlEscape(o.reason)}</li>`).join('')}</ul>`
    : '';

function cellCounts(b: Bench): Record<string, number> {
  const counts: Record<string, number> = { ok: 0, missing: 0, incomplete: 0, error: 0 };
  for (const c of b.cells) if (c.inGrid) counts[c.status] = (counts[c.status] ?? 0) + 1;
  return counts;
}

const cellName = (b: Bench, c: Bench['cells'][number]): string => {
  const displayNames = b.grid.labels;
  return `${modelLabel(c.key.model, displayNames.models)} ${learnerLabel(c.key.learner, displayNames.learners)} / ${datasetLabel(c.key.dataset, displayNames.datasets)}${c.key.ablation ? ` [${c.key.ablation}]` : ''}`;
};

/** The report as one self-contained HTML document. */
export function renderHtml(r: ReportData): string {
  const b = r.bench;
  const counts = cellCounts(b);
  const total = b.cells.filter((c) => c.inGrid).length;
  const notOk = b.cells.filter((c) => c.inGrid && c.status !== 'ok');
  const extra = b.cells.filter((c) => !c.inGrid);
  const title = `TuneVLSeg benchmark report: ${b.grid.name}`;
  const sections: string[] = [];
  sections.push(
    `<section id="tables"><h2>Tables</h2>\n${r.tables.map((t) => `<div class="table-wrap">${toHtmlTable(t)}</div>`).join('\n')}</section>`,
  );
  if (r.figures.length || r.omitted.length)
    sections.push(`<section id="figures"><h2>Figures</h2>\n${r.figures.map(figureHtml).join('\n')}\n${omittedHtml(r.omitted)}</section>`);
  if (r.galleries.length || r.noGallery.length) {
    const why = r.noGallery.length
      ? `<p class="meta" data-no-gallery>No gallery for ${htmlEscape(r.noGallery.join(', '))}: no cell of ${r.noGallery.length === 1 ? 'it' : 'them'} has scored predictions (<code>predictions/</code>, written by <code>tunevlseg bench</code> or <code>tunevlseg eval &lt;run&gt; --out &lt;run&gt;/predictions</code>).</p>`
      : '';
    sections.push(
      `<section id="galleries"><h2>Predictions</h2>\n${r.galleries.map((g) => galleryHtml(g, r.thumbWidth)).join('\n')}\n${why}</section>`,
    );
  }
  const status: string[] = [
    `<section id="status" class="status"><h2>Grid status</h2>`,
    `<p>${total} cells in the grid (${b.gridSource === 'bench.json' ? 'bench.json' : 'inferred from cells/: no usable bench.json'}): <span class="ok">${counts.ok} with results</span>, <span class="missing">${counts.missing} missing</span>, ${counts.incomplete} incomplete, <span class="error">${counts.error} unreadable</span>.</p>`,
  ];
  if (notOk.length)
    status.push(
      `<h3>Cells without results</h3><ul>${notOk.map((c) => `<li class="${c.status === 'error' ? 'error' : 'missing'}">${htmlEscape(cellName(b, c))}: ${c.status} (<code>cells/${htmlEscape(c.id)}</code>)</li>`).join('')}</ul>`,
    );
  if (extra.length)
    status.push(
      `<h3>Cells outside the grid</h3><ul>${extra.map((c) => `<li><code>cells/${htmlEscape(c.id)}</code> (${c.status})</li>`).join('')}</ul>`,
    );
  if (b.problems.length)
    status.push(
      `<h3>Problems</h3><ul>${b.problems.map((p) => `<li class="error"><code>${htmlEscape(p.file)}</code>: ${htmlEscape(p.message)}</li>`).join('')}</ul>`,
    );
  status.push('</section>');
  sections.push(status.join('\n'));
  const nav = [
    ['tables', 'Tables'],
    ...(r.figures.length || r.omitted.length ? [['figures', 'Figures']] : []),
    ...(r.galleries.length || r.noGallery.length ? [['galleries', 'Predictions']] : []),
    ['status', 'Grid status'],
  ]
    .map(([id, l]) => `<a href="#${id}">${l}</a>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${htmlEscape(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${htmlEscape(title)}</h1>
<p class="meta">Bench <code>${htmlEscape(b.dir)}</code>, ${r.date.toISOString().replace('T', ' ').slice(0, 16)} UTC. ${counts.ok} of ${total} cells with results${counts.missing ? `, ${counts.missing} missing` : ''}. Test scores under the <code>${htmlEscape(b.protocol.requested)}</code> evaluation protocol${b.protocol.fallback.length ? ` (<strong>${b.protocol.fallback.length} cell${b.protocol.fallback.length === 1 ? '' : 's'} under <code>model-resolution</code></strong>: runs made before protocols existed)` : ''}.</p>
<nav>${nav}</nav>
</header>
<main>
${sections.join('\n')}
</main>
</body>
</html>
`;
}

/** The report as Markdown (figures linked as SVG files under `figures/`). */
export function renderMarkdown(r: ReportData, figureFiles: Record<string, string> = {}): string {
  const b = r.bench;
  const counts = cellCounts(b);
  const total = b.cells.filter((c) => c.inGrid).length;
  const out: string[] = [
    `# TuneVLSeg benchmark report: ${b.grid.name}`,
    '',
    `Bench \`${b.dir}\`, ${r.date.toISOString().slice(0, 16).replace('T', ' ')} UTC. ${counts.ok} of ${total} cells with results${counts.missing ? `, ${counts.missing} missing` : ''}.`,
    '',
  ];
  for (const t of r.tables) out.push(toMarkdown(t));
  if (r.figures.length || r.omitted.length) {
    out.push('## Figures', '');
    for (const f of r.figures) {
      const file = figureFiles[f.id];
      out.push(`**${f.title}.** ${f.summary} ${f.caption}`, '', ...(file ? [`![${f.title}: ${f.summary}](${file})`, ''] : []));
    }
    for (const o of r.omitted) out.push(`- ${o.title} is left out: ${o.reason}`);
    if (r.omitted.length) out.push('');
  }
  if (r.galleries.length) out.push(...galleryMarkdown(r.galleries));
  const notOk = b.cells.filter((c) => c.inGrid && c.status !== 'ok');
  if (notOk.length || b.problems.length) {
    out.push('## Grid status', '');
    for (const c of notOk) out.push(`- ${cellName(b, c)}: ${c.status} (\`cells/${c.id}\`)`);
    for (const p of b.problems) out.push(`- problem: \`${p.file}\`: ${p.message}`);
    out.push('');
  }
  return out.join('\n');
}

function writeAtomic(file: string, data: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/**
 * Writes the report of a bench folder into `outDir` (created): `report.html`, `report.md` with
 * `figures/<id>.svg`, and `<table>.csv` / `<table>.tex` for Table 3 and, when the bench has
 * their ablations, Tables 4 and 5. Returns the paths written.
 */
export async function writeReport(benchDir: string, outDir: string, o: ReportOptions = {}): Promise<ReportPaths> {
  const formats = new Set(o.formats ?? REPORT_FORMATS);
  for (const f of formats)
    if (!REPORT_FORMATS.includes(f)) throw new Error(`unknown report format "${f}" (expected ${REPORT_FORMATS.join(', ')})`);
  const data = await buildReport(benchDir, { ...o, noGallery: o.noGallery || !formats.has('html') });
  const out = path.resolve(outDir);
  mkdirSync(out, { recursive: true });
  const paths: ReportPaths = {
    outDir: out,
    markdown: null,
    html: null,
    csv: {},
    latex: {},
    figures: [],
    problems: data.bench.problems,
    missing: data.bench.cells.filter((c) => c.inGrid && c.status !== 'ok').map((c) => c.id),
  };
  for (const t of data.tables) {
    if (formats.has('csv')) writeAtomic((paths.csv[t.id] = path.join(out, `${t.id}.csv`)), toCsv(t));
    if (formats.has('tex')) writeAtomic((paths.latex[t.id] = path.join(out, `${t.id}.tex`)), toLatex(t));
  }
  if (formats.has('md')) {
    const files: Record<string, string> = {};
    if (data.figures.length) mkdirSync(path.join(out, 'figures'), { recursive: true });
    for (const f of data.figures) {
      const file = path.join(out, 'figures', `${f.id}.svg`);
      writeAtomic(file, f.svg ?? '');
      paths.figures.push(file);
      files[f.id] = `figures/${f.id}.svg`;
    }
    writeAtomic((paths.markdown = path.join(out, 'report.md')), renderMarkdown(data, files));
  }
  if (formats.has('html')) writeAtomic((paths.html = path.join(out, 'report.html')), renderHtml(data));
  return paths;
}
