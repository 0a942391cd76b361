/**
 * The paper's result tables from a loaded bench, and their renderings (Markdown, CSV,
 * LaTeX with booktabs, HTML):
 * - Table 3: test Dice (%) per model x learner row and dataset column, the row mean over
 *   datasets and the "Average across Methods" row; optionally the paper's end-to-end
 *   fine-tuning rows (constants, `withPaperE2E`).
 * - Table 4: MaPLe initialised from N(0, 0.02) ("Gaussian", ablation `init-gaussian`) vs from
 *   "a photo of a" (the main grid's cell), with mean ± std over datasets.
 * - Table 5: every learner without the learnable upsampler (ablation `no-upsampler`).
 * A cell repeated over seeds shows mean ± sample std; a missing cell shows "–"; the best value
 * of each column among the prompt-tuning rows is bold (compared at the printed precision, so
 * ties are all bold); reference and average rows never are.
 */
import { type Bench, type CellData, findCell } from './load.js';
import {
  ABLATION_INIT_GAUSSIAN,
  ABLATION_NO_UPSAMPLER,
  DATASET_GROUPS,
  E2E_LABEL,
  initAblationLearner,
  PAPER_E2E,
  datasetLabel,
  learnerLabel,
  modelLabel,
} from './paper.js';
import { mean, std } from './stats.js';
import { captionProtocol } from './protocol.js';

export interface TableValue {
  /** In percent. */
  mean: number;
  /** Sample std (over seeds for a cell, over datasets for a Mean ± Std summary); null: none. */
  std: number | null;
  n: number;
}

export interface TableColumn {
  key: string;
  label: string;
}

export type RowKind = 'method' | 'reference' | 'average';

export interface TableRow {
  kind: RowKind;
  /** One per label column. */
  labels: string[];
  values: Array<TableValue | null>;
  summary: TableValue | null;
  /** The summary covers fewer columns than the table has (some cells are missing). */
  partial: boolean;
  bold: boolean[];
  summaryBold: boolean;
  /** The cell folder behind each value (method rows), for tracing a number back. */
  cells: Array<string | null>;
}

export interface ResultTable {
  id: string;
  title: string;
  caption: string;
  labelHeaders: string[];
  /** Column groups over the data columns (contiguous spans), or null. */
  groups: Array<{ label: string; span: number }> | null;
  columns: TableColumn[];
  summaryHeader: string;
  /** The summary column is mean ± std over the row's columns (Tables 4, 5) rather than a mean. */
  summaryStd: boolean;
  rows: TableRow[];
  notes: string[];
  digits: number;
}

export interface TableOptions {
  /** Decimals printed (and compared for bold). Default 2. */
  digits?: number;
  /** Table 3: add the paper's E2E fine-tuning rows (reference constants). */
  withPaperE2E?: boolean;
  /** Score shown: test Dice (default) or test IoU. */
  metric?: 'dice' | 'iou';
}

const SUMMARY_MEAN = 'Mean';
const SUMMARY_MEAN_STD = 'Mean ± Std';

function cellValue(c: CellData | undefined, metric: 'dice' | 'iou'): TableValue | null {
  const s = c ? (metric === 'dice' ? c.test : c.testIou) : null;
  if (!c || c.status !== 'ok' || !s) return null;
  return { mean: s.mean * 100, std: s.std === null ? null : s.std * 100, n: s.n };
}

function groupsFor(b: Bench, datasets: readonly string[]): ResultTable['groups'] {
  const defs = b.grid.groups ?? DATASET_GROUPS;
  const groupOf = (d: string): string | null => defs.find((g) => g.datasets.includes(d))?.label ?? null;
  const labels = datasets.map(groupOf);
  if (labels.every((l) => l === null)) return null;
  const out: Array<{ label: string; span: number }> = [];
  for (const l of labels) {
    const label = l ?? 'Other';
    const last = out[out.length - 1];
    if (last && last.label === label) last.span++;
    else out.push({ label, span: 1 });
  }
  return out;
}

function summarise(values: ReadonlyArray<TableValue | null>, withStd: boolean): { summary: TableValue | null; partial: boolean } {
  const xs = values.filter((v): v is TableValue => v !== null).map((v) => v.mean);
  if (xs.length === 0) return { summary: null, partial: values.length > 0 };
  return { summary: { mean: mean(xs), std: withStd && xs.length > 1 ? std(xs) : null, n: xs.length }, partial: xs.length < values.length };
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

/** Marks the best method value of each column and of the summary (at the printed precision). */
function markBold(rows: TableRow[], digits: number): void {
  const methods = rows.filter((r) => r.kind === 'method');
  const ncol = rows[0]?.values.length ?? 0;
  for (let j = 0; j < ncol; j++) {
    const best = Math.max(...methods.map((r) => (r.values[j] ? round(r.values[j]!.mean, digits) : -Infinity)));
    if (best === -Infinity) continue;
    for (const r of methods) r.bold[j] = r.values[j] !== null && round(r.values[j]!.mean, digits) === best;
  }
  // A mean over fewer datasets is not comparable: only complete rows compete for the summary.
  const complete = methods.filter((r) => r.summary !== null && !r.partial);
  const bestS = Math.max(...complete.map((r) => round(r.summary!.mean, digits)));
  if (bestS !== -Infinity) for (const r of complete) r.summaryBold = round(r.summary!.mean, digits) === bestS;
}

function row(kind: RowKind, labels: string[], values: Array<TableValue | null>, withStd: boolean, cells: Array<string | null> = []): TableRow {
  const { summary, partial } = summarise(values, withStd);
  return {
    kind, labels, values, summary, partial,
    bold: values.map(() => false), summaryBold: false,
    cells: cells.length ? cells : values.map(() => null),
  };
}

function averageRow(label: string[], rows: readonly TableRow[], ncol: number, withStd: boolean): TableRow {
  const methods = rows.filter((r) => r.kind === 'method');
  const values: Array<TableValue | null> = [];
  for (let j = 0; j < ncol; j++) {
    const xs = methods.flatMap((r) => (r.values[j] ? [r.values[j]!.mean] : []));
    values.push(xs.length ? { mean: mean(xs), std: null, n: xs.length } : null);
  }
  return row('average', label, values, withStd);
}

function notesFor(t: ResultTable, missing: string[], metricName: string): string[] {
  const notes = [`${metricName} in %, evaluated on each dataset's test split with the checkpoint of best validation Dice.`];
  if (t.rows.some((r) => r.kind === 'method' && r.values.some((v) => v !== null && v.n > 1))) notes.push('a ± b: mean and sample standard deviation over repeated seeds (their number is in the CSV column <dataset>_n).');
  if (t.summaryStd) notes.push(`${t.summaryHeader}: over the dataset columns of the row.`);
  notes.push(`Bold: the best prompt-tuning value of each column (reference and average rows excluded; for the ${t.summaryHeader} column, rows without missing cells only).`);
  if (t.rows.some((r) => r.partial)) notes.push('†: the row covers only the datasets with results (some cells are missing).');
  if (t.rows.some((r) => r.kind === 'reference')) notes.push(`${E2E_LABEL}: end-to-end fine-tuning, as reported by the paper (not re-run).`);
  if (missing.length) notes.push(`Missing (–): ${missing.join(', ')}.`);
  return notes;
}

/** Table 3: test Dice per model x learner and dataset (the main grid). */
export function table3(b: Bench, o: TableOptions = {}): ResultTable {
  const digits = o.digits ?? 2;
  const metric = o.metric ?? 'dice';
  const g = b.grid;
  const L = g.labels;
  const columns = g.datasets.map((d) => ({ key: d, label: datasetLabel(d, L.datasets) }));
  const rows: TableRow[] = [];
  if (o.withPaperE2E) {
    for (const ref of PAPER_E2E) {
      const values = g.datasets.map((d): TableValue | null => (ref.values[d] !== undefined ? { mean: ref.values[d]!, std: null, n: 1 } : null));
      const r = row('reference', [modelLabel(ref.model, L.models), E2E_LABEL], values, false);
      // The paper prints no mean for these rows.
      r.summary = null;
      r.partial = false;
      rows.push(r);
    }
  }
  const missing: string[] = [];
  for (const model of g.models) {
    for (const learner of g.learners[model] ?? []) {
      const cells = g.datasets.map((dataset) => findCell(b, { model, learner, dataset, ablation: null }));
      const values = cells.map((c) => cellValue(c, metric));
      cells.forEach((c, j) => {
        if (values[j] === null) missing.push(`${modelLabel(model, L.models)} ${learnerLabel(learner, L.learners)} / ${columns[j]!.label}`);
      });
      rows.push(row('method', [modelLabel(model, L.models), learnerLabel(learner, L.learners)], values, false, cells.map((c) => c?.id ?? null)));
    }
  }
  rows.push(averageRow(['Average across Methods', ''], rows, columns.length, false));
  markBold(rows, digits);
  const metricName = metric === 'dice' ? 'Test Dice' : 'Test IoU';
  const t: ResultTable = {
    id: 'table3',
    title: 'Table 3',
    caption: `${metricName} (%) of each prompt-tuning method on each dataset, and the mean over datasets.`,
    labelHeaders: ['Model', 'Context Learner'],
    groups: groupsFor(b, g.datasets),
    columns,
    summaryHeader: SUMMARY_MEAN,
    summaryStd: false,
    rows,
    notes: [],
    digits,
  };
  t.notes = notesFor(t, missing, metricName);
  captionProtocol(t, b.protocol);
  return t;
}

export interface Table4Options extends TableOptions {
  ablation?: string;
  model?: string;
  learner?: string;
}

/** True when the grid defines the ablation or a cell of it exists on disk. */
export function hasAblation(b: Bench, name: string): boolean {
  return b.grid.ablations.some((a) => a.name === name) || b.cells.some((c) => c.key.ablation === name);
}

/** Table 4: MaPLe (CLIPSeg) with Gaussian vs "a photo of a" initialisation; null without the ablation. */
export function table4(b: Bench, o: Table4Options = {}): ResultTable | null {
  const ablation = o.ablation ?? ABLATION_INIT_GAUSSIAN;
  if (!hasAblation(b, ablation)) return null;
  const model = o.model ?? 'clipseg';
  const learner = o.learner ?? initAblationLearner();
  const digits = o.digits ?? 2;
  const metric = o.metric ?? 'dice';
  const g = b.grid;
  const columns = g.datasets.map((d) => ({ key: d, label: datasetLabel(d, g.labels.datasets) }));
  const missing: string[] = [];
  const mk = (label: string, abl: string | null): TableRow => {
    const cells = g.datasets.map((dataset) => findCell(b, { model, learner, dataset, ablation: abl }));
    const values = cells.map((c) => cellValue(c, metric));
    values.forEach((v, j) => {
      if (v === null) missing.push(`${label} / ${columns[j]!.label}`);
    });
    return row('method', [label], values, true, cells.map((c) => c?.id ?? null));
  };
  const rows = [mk('Gaussian', ablation), mk('a photo of a', null)];
  markBold(rows, digits);
  const metricName = metric === 'dice' ? 'Test Dice' : 'Test IoU';
  const t: ResultTable = {
    id: 'table4',
    title: 'Table 4',
    caption: `${metricName} (%) of ${modelLabel(model, g.labels.models)} with ${learnerLabel(learner, g.labels.learners)} when the first-layer context vectors are initialised from N(0, 0.02) ("Gaussian") or from the embeddings of "a photo of a".`,
    labelHeaders: ['Init'],
    groups: groupsFor(b, g.datasets),
    columns,
    summaryHeader: SUMMARY_MEAN_STD,
    summaryStd: true,
    rows,
    notes: [],
    digits,
  };
  t.notes = notesFor(t, missing, metricName);
  captionProtocol(t, b.protocol);
  return t;
}

export interface Table5Options extends TableOptions {
  ablation?: string;
}

/** Table 5 (or any ablation laid out like Table 3): every learner without the learnable upsampler. */
export function table5(b: Bench, o: Table5Options = {}): ResultTable | null {
  const ablation = o.ablation ?? ABLATION_NO_UPSAMPLER;
  if (!hasAblation(b, ablation)) return null;
  const digits = o.digits ?? 2;
  const metric = o.metric ?? 'dice';
  const g = b.grid;
  const L = g.labels;
  const spec = g.ablations.find((a) => a.name === ablation);
  const datasets = spec?.datasets ?? g.datasets;
  const columns = datasets.map((d) => ({ key: d, label: datasetLabel(d, L.datasets) }));
  const rows: TableRow[] = [];
  const missing: string[] = [];
  const withUps: number[] = [];
  for (const model of spec?.models ?? g.models) {
    const ls = g.learners[model] ?? [];
    for (const learner of spec?.learners ? spec.learners.filter((l) => ls.includes(l)) : ls) {
      const cells = datasets.map((dataset) => findCell(b, { model, learner, dataset, ablation }));
      const values = cells.map((c) => cellValue(c, metric));
      values.forEach((v, j) => {
        if (v === null) missing.push(`${modelLabel(model, L.models)} ${learnerLabel(learner, L.learners)} / ${columns[j]!.label}`);
        else {
          const base = cellValue(findCell(b, { model, learner, dataset: datasets[j]!, ablation: null }), metric);
          if (base) withUps.push(base.mean - v.mean);
        }
      });
      rows.push(row('method', [modelLabel(model, L.models), learnerLabel(learner, L.learners)], values, true, cells.map((c) => c?.id ?? null)));
    }
  }
  rows.push(averageRow(['Average across Methods', ''], rows, columns.length, true));
  markBold(rows, digits);
  const metricName = metric === 'dice' ? 'Test Dice' : 'Test IoU';
  const isUps = ablation === ABLATION_NO_UPSAMPLER;
  const t: ResultTable = {
    id: isUps ? 'table5' : `ablation-${ablation}`,
    title: isUps ? 'Table 5' : `Ablation ${ablation}`,
    caption: isUps
      ? `${metricName} (%) without the learnable upsampler (encoders and decoder frozen, only the prompts trained).`
      : `${metricName} (%) of the ablation "${ablation}".`,
    labelHeaders: ['Model', 'Context Learner'],
    groups: groupsFor(b, datasets),
    columns,
    summaryHeader: SUMMARY_MEAN_STD,
    summaryStd: true,
    rows,
    notes: [],
    digits,
  };
  t.notes = notesFor(t, missing, metricName);
  captionProtocol(t, b.protocol);
  if (withUps.length) {
    const d = mean(withUps);
    t.notes.push(`Against the same cells of Table 3 (${withUps.length} pairs), ${isUps ? 'adding the learnable upsampler' : 'the main grid'} changes ${metricName} by ${d >= 0 ? '+' : ''}${d.toFixed(digits)} points on average.`);
  }
  return t;
}

// ---------------------------------------------------------------------------------------
// Rendering

/** "86.47", "86.47 ± 0.52", or "–" for a missing value. */
export function formatValue(v: TableValue | null, digits: number, pm = ' ± '): string {
  if (v === null) return '–';
  return v.std === null ? v.mean.toFixed(digits) : `${v.mean.toFixed(digits)}${pm}${v.std.toFixed(digits)}`;
}

const mdEscape = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');

export function toMarkdown(t: ResultTable): string {
  const head = [...t.labelHeaders, ...t.columns.map((c) => c.label), t.summaryHeader];
  const align = [...t.labelHeaders.map(() => '---'), ...t.columns.map(() => '---:'), '---:'];
  const lines = [`**${t.title}.** ${t.caption}`, '', `| ${head.map(mdEscape).join(' | ')} |`, `| ${align.join(' | ')} |`];
  for (const r of t.rows) {
    const label = r.kind === 'average' ? [`*${r.labels[0]}*`, ...r.labels.slice(1)] : r.labels;
    const vals = r.values.map((v, j) => {
      const s = formatValue(v, t.digits);
      return r.bold[j] && v ? `**${s}**` : s;
    });
    let s = formatValue(r.summary, t.digits);
    if (r.summary && r.partial) s += '†';
    if (r.summaryBold && r.summary) s = `**${s}**`;
    lines.push(`| ${[...label.map(mdEscape), ...vals, s].join(' | ')} |`);
  }
  lines.push('');
  for (const n of t.notes) lines.push(`- ${mdEscape(n)}`);
  return `${lines.join('\n')}\n`;
}

const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
const num = (x: number | null | undefined): string => (x === null || x === undefined ? '' : String(Number(x.toFixed(4))));

/**
 * CSV (RFC 4180 quoting, one header line): `kind`, the label columns, then per dataset its
 * value (and `<key>_std`, `<key>_n` when some cell repeats seeds), then `mean` (and `mean_std`
 * for a Mean ± Std summary). Percent values to 4 decimals; missing values are empty.
 */
export function toCsv(t: ResultTable): string {
  const seeds = t.rows.some((r) => r.values.some((v) => v !== null && v.n > 1 && r.kind === 'method'));
  const head = ['kind', ...t.labelHeaders.map(slug)];
  for (const c of t.columns) head.push(c.key, ...(seeds ? [`${c.key}_std`, `${c.key}_n`] : []));
  head.push('mean', ...(t.summaryStd ? ['mean_std'] : []));
  const lines = [head.map(csvField).join(',')];
  for (const r of t.rows) {
    const f: string[] = [r.kind, ...r.labels];
    r.values.forEach((v) => {
      f.push(num(v?.mean));
      if (seeds) f.push(num(v?.std), v ? String(v.n) : '');
    });
    f.push(num(r.summary?.mean));
    if (t.summaryStd) f.push(num(r.summary?.std));
    lines.push(f.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Escapes text for LaTeX. */
export function latexEscape(s: string): string {
  return s.replace(/[\\{}$&#%_^~]/g, (ch) =>
    ch === '\\' ? '\\textbackslash{}' : ch === '^' ? '\\textasciicircum{}' : ch === '~' ? '\\textasciitilde{}' : `\\${ch}`,
  ).replace(/±/g, '$\\pm$').replace(/–/g, '--').replace(/†/g, '$^\\dagger$');
}

/** A `table` environment with a booktabs `tabular` (needs `\usepackage{booktabs}`). */
export function toLatex(t: ResultTable): string {
  const nl = t.labelHeaders.length;
  const out: string[] = [
    '% Generated by tunevlseg report. Requires \\usepackage{booktabs}.',
    '\\begin{table}[t]',
    '\\centering',
    '\\small',
    `\\caption{${latexEscape(`${t.caption}`)}}`,
    `\\label{tab:${t.id}}`,
    '\\setlength{\\tabcolsep}{3pt}',
    `\\begin{tabular}{${'l'.repeat(nl)}${'r'.repeat(t.columns.length)}r}`,
    '\\toprule',
  ];
  if (t.groups) {
    const cells: string[] = Array.from({ length: nl }, () => '');
    const rules: string[] = [];
    let col = nl + 1;
    for (const gr of t.groups) {
      cells.push(gr.span === 1 ? latexEscape(gr.label) : `\\multicolumn{${gr.span}}{c}{${latexEscape(gr.label)}}`);
      rules.push(`\\cmidrule(lr){${col}-${col + gr.span - 1}}`);
      col += gr.span;
    }
    cells.push('Overall');
    rules.push(`\\cmidrule(lr){${col}-${col}}`);
    out.push(`${cells.join(' & ')} \\\\`, rules.join(' '));
  }
  out.push(`${[...t.labelHeaders, ...t.columns.map((c) => c.label), t.summaryHeader].map(latexEscape).join(' & ')} \\\\`, '\\midrule');
  const fmt = (v: TableValue | null, bold: boolean, dagger = false): string => {
    if (v === null) return '--';
    const body = `${v.mean.toFixed(t.digits)}${v.std === null ? '' : ` $\\pm$ ${v.std.toFixed(t.digits)}`}${dagger ? '$^\\dagger$' : ''}`;
    return bold ? `\\textbf{${body}}` : body;
  };
  let prev: TableRow | null = null;
  for (const r of t.rows) {
    const newBlock = prev !== null && (prev.kind !== r.kind || (nl > 1 && r.kind === 'method' && prev.labels[0] !== r.labels[0]));
    if (newBlock) out.push('\\midrule');
    let labels: string[];
    if (r.kind === 'average') labels = [nl > 1 ? `\\multicolumn{${nl}}{l}{${latexEscape(r.labels[0]!)}}` : latexEscape(r.labels[0]!)];
    else labels = r.labels.map((l, i) => (i === 0 && nl > 1 && prev && !newBlock && prev.labels[0] === l ? '' : latexEscape(l)));
    const cells = [...labels, ...r.values.map((v, j) => fmt(v, r.bold[j]!)), fmt(r.summary, r.summaryBold, r.partial && r.summary !== null)];
    out.push(`${cells.join(' & ')} \\\\`);
    prev = r;
  }
  out.push('\\bottomrule', '\\end{tabular}');
  if (t.notes.length) out.push(`\\par\\smallskip\\footnotesize ${t.notes.map(latexEscape).join(' ')}`);
  out.push('\\end{table}');
  return `${out.join('\n')}\n`;
}

export const htmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** An HTML `<table class="results">` (with caption, column groups and notes). */
export function toHtmlTable(t: ResultTable): string {
  const nl = t.labelHeaders.length;
  const o: string[] = [`<table class="results" id="${htmlEscape(t.id)}">`, `<caption><b>${htmlEscape(t.title)}.</b> ${htmlEscape(t.caption)}</caption>`, '<thead>'];
  if (t.groups) {
    o.push(`<tr class="groups"><th colspan="${nl}"></th>${t.groups.map((g) => `<th colspan="${g.span}">${htmlEscape(g.label)}</th>`).join('')}<th>Overall</th></tr>`);
  }
  o.push(`<tr>${[...t.labelHeaders, ...t.columns.map((c) => c.label), t.summaryHeader].map((h) => `<th>${htmlEscape(h)}</th>`).join('')}</tr>`, '</thead>', '<tbody>');
  const td = (v: TableValue | null, bold: boolean, dagger = false, title?: string | null): string => {
    if (v === null) return '<td class="missing">–</td>';
    const s = htmlEscape(formatValue(v, t.digits)) + (dagger ? '†' : '');
    const attr = title ? ` title="${htmlEscape(title)}${v.n > 1 ? ` (n = ${v.n})` : ''}"` : '';
    return `<td${attr}>${bold ? `<strong>${s}</strong>` : s}</td>`;
  };
  let prev: TableRow | null = null;
  for (const r of t.rows) {
    const newBlock = prev !== null && (prev.kind !== r.kind || (nl > 1 && r.kind === 'method' && prev.labels[0] !== r.labels[0]));
    const cls = `${r.kind}${newBlock ? ' block' : ''}`;
    let labels: string;
    if (r.kind === 'average') labels = `<th colspan="${nl}" scope="row">${htmlEscape(r.labels[0]!)}</th>`;
    else labels = r.labels.map((l, i) => `<th scope="row">${i === 0 && nl > 1 && prev && !newBlock && prev.labels[0] === l ? '' : htmlEscape(l)}</th>`).join('');
    o.push(`<tr class="${cls}">${labels}${r.values.map((v, j) => td(v, r.bold[j]!, false, r.cells[j])).join('')}${td(r.summary, r.summaryBold, r.partial && r.summary !== null)}</tr>`);
    prev = r;
  }
  o.push('</tbody>', '</table>');
  if (t.notes.length) o.push(`<ul class="notes">${t.notes.map((n) => `<li>${htmlEscape(n)}</li>`).join('')}</ul>`);
  return o.join('\n');
}

/** The tables a bench supports: Table 3 always, Tables 4 and 5 when their ablations exist. */
export function buildTables(b: Bench, o: TableOptions = {}): ResultTable[] {
  const out = [table3(b, o)];
  const t4 = table4(b, o);
  if (t4) out.push(t4);
  const t5 = table5(b, o);
  if (t5) out.push(t5);
  for (const a of b.grid.ablations) {
    if (a.name === ABLATION_INIT_GAUSSIAN || a.name === ABLATION_NO_UPSAMPLER) continue;
    const t = table5(b, { ...o, ablation: a.name });
    if (t) out.push(t);
  }
  return out;
}
