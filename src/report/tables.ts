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
import { isLearnerName, learnerEntry, learnerFamily } from '../learners/registry.js';
import { METHOD_FAMILIES, METHOD_FAMILY_LABELS } from '../learners/entry.js';
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

// The renderings live in their own module; re-exported so callers keep one import.
export * from './tables-render.js';

export type { TableValue, TableColumn, RowKind, TableRow, ResultTable } from './table-types.js';
import type { TableValue, TableColumn, RowKind, TableRow, ResultTable } from './table-types.js';

export interface TableOptions {
  /** Decimals printed (and compared for bold). Default 2. */
  digits?: number;
  /** Table 3: add the paper's E2E fine-tuning rows (reference constants). */
  withPaperE2E?: boolean;
  /** Score shown: test Dice (default) or test IoU. */
  metric?: 'dice' | 'iou';
  /**
   * Table 3: a Family column (prompt tuning / adapters / LoRA / full fine-tuning, rows grouped in
   * that order) and a Trainable params column. Default: when the grid's learners span more than
   * one family (the paper's table, all prompt tuning, keeps its two label columns).
   */
  families?: boolean;
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

/**
 * Marks the best method value of each column and of the summary (at the printed precision);
 * `perGroup`: within each model's family of methods (Table 3 with families).
 */
function markBold(rows: TableRow[], digits: number, perGroup = false): void {
  if (perGroup) {
    const groups = new Map<string, TableRow[]>();
    for (const r of rows.filter((x) => x.kind === 'method')) {
      const k = `${r.labels[0]}\u0000${r.group ?? ''}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const g of groups.values()) markBold(g, digits);
    return;
  }
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

function row(
  kind: RowKind,
  labels: string[],
  values: Array<TableValue | null>,
  withStd: boolean,
  cells: Array<string | null> = [],
): TableRow {
  const { summary, partial } = summarise(values, withStd);
  return {
    kind,
    labels,
    values,
    summary,
    partial,
    bold: values.map(() => false),
    summaryBold: false,
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

/**
 * The table's datasets whose runs read val/test as the original's data configs do (VOC,
 * Cityscapes with quirks reference: summary.json `evaluation`): augmented inputs, and the split
 * that was the test set. Null when every run read clean inputs from its own test split.
 */
function evaluationNote(b: Bench, t: ResultTable): string | null {
  const ids = new Set(t.rows.flatMap((r) => r.cells.filter((c): c is string => c !== null)));
  const augmented = new Set<string>();
  const testSplits = new Map<string, Set<string>>();
  for (const c of b.cells) {
    if (!ids.has(c.id)) continue;
    const label = datasetLabel(c.key.dataset, b.grid.labels.datasets);
    for (const r of c.runs) {
      const e = r.summary?.evaluation;
      if (!e) continue;
      if (e.augmented) augmented.add(label);
      if (e.testSplit !== null && e.testSplit !== 'test') testSplits.set(label, (testSplits.get(label) ?? new Set()).add(e.testSplit));
    }
  }
  const parts: string[] = [];
  if (augmented.size)
    parts.push(
      `${[...augmented].join(', ')}: val and test inputs went through the training augmentation, as the original's data configs read them`,
    );
  if (testSplits.size)
    parts.push(
      `the test set is ${[...testSplits].map(([d, s]) => `${d}'s ${[...s].join('/')} split`).join(', ')} (no test split; the original tests on val)`,
    );
  return parts.length ? `${parts.join('; ')} (summary.json "evaluation").` : null;
}

function notesFor(t: ResultTable, missing: string[], metricName: string, b: Bench): string[] {
  const notes = [`${metricName} in %, evaluated on each dataset's test split with the checkpoint of best validation Dice.`];
  const evaluation = evaluationNote(b, t);
  if (evaluation) notes.push(evaluation);
  if (t.rows.some((r) => r.kind === 'method' && r.values.some((v) => v !== null && v.n > 1)))
    notes.push('a ± b: mean and sample standard deviation over repeated seeds (their number is in the CSV column <dataset>_n).');
  if (t.summaryStd) notes.push(`${t.summaryHeader}: over the dataset columns of the row.`);
  notes.push(
    `Bold: the best prompt-tuning value of each column (reference and average rows excluded; for the ${t.summaryHeader} column, rows without missing cells only).`,
  );
  if (t.rows.some((r) => r.partial)) notes.push('†: the row covers only the datasets with results (some cells are missing).');
  if (t.rows.some((r) => r.kind === 'reference'))
    notes.push(`${E2E_LABEL}: end-to-end fine-tuning, as reported by the paper (not re-run).`);
  if (missing.length) notes.push(`Missing (–): ${missing.join(', ')}.`);
  return notes;
}

/** "4,674", "29.3K", "3.24M", "151M": a trainable-parameter count. */
export function formatCount(n: number): string {
  if (n < 1e4) return n.toLocaleString('en-US');
  const [v, unit] = n < 1e6 ? [n / 1e3, 'K'] : n < 1e9 ? [n / 1e6, 'M'] : [n / 1e9, 'G'];
  return `${Number(v.toPrecision(3))}${unit}`;
}

/** The trainable parameters of a row's runs: one count, a range when the sweeps chose sizes that differ, or "–". */
function paramsLabel(cells: ReadonlyArray<CellData | undefined>): string {
  const counts = cells.flatMap((c) =>
    c?.status === 'ok' ? c.runs.flatMap((r) => (r.summary?.trainableParams != null ? [r.summary.trainableParams] : [])) : [],
  );
  if (counts.length === 0) return '–';
  const lo = Math.min(...counts),
    hi = Math.max(...counts);
  return lo === hi ? formatCount(lo) : `${formatCount(lo)}–${formatCount(hi)}`;
}

/** What a table says about itself: the parts that Tables 3, 4 and 5 word differently. */
interface TableFrame {
  id: string;
  title: string;
  caption: string;
  labelHeaders: string[];
}

/** How a table's notes differ from the common ones (notesFor). */
interface NoteEdits {
  /** Rewrites the common notes (before the protocol's note, if any). */
  edit?: (notes: string[]) => string[];
  /** Notes after the protocol's. */
  after?: string[];
}

/**
 * The one way Tables 3, 4 and 5 are built: columns for the datasets, method rows read from the
 * bench's cells (a missing cell is recorded for the notes), any other rows the table adds, then
 * bold maxima, the table's frame, its notes and the protocol in the caption.
 */
class TableBuilder {
  readonly digits: number;
  readonly metric: 'dice' | 'iou';
  readonly metricName: string;
  readonly columns: TableColumn[];
  readonly rows: TableRow[] = [];
  readonly missing: string[] = [];

  /** `withStd`: the summary column is Mean ± Std over the datasets (Tables 4 and 5), else Mean. */
  constructor(
    readonly bench: Bench,
    o: TableOptions,
    readonly datasets: readonly string[],
    readonly withStd: boolean,
  ) {
    this.digits = o.digits ?? 2;
    this.metric = o.metric ?? 'dice';
    this.metricName = this.metric === 'dice' ? 'Test Dice' : 'Test IoU';
    this.columns = datasets.map((d) => ({ key: d, label: datasetLabel(d, bench.grid.labels.datasets) }));
  }

  /** The cells of one model, learner and ablation (null: the main grid), one per dataset column. */
  cellsOf(model: string, learner: string, ablation: string | null): Array<CellData | undefined> {
    return this.datasets.map((dataset) => findCell(this.bench, { model, learner, dataset, ablation }));
  }

  /** Adds the row of a method's cells; a missing value is noted as `<missingLabel> / <column>`. */
  addMethod(labels: string[], cells: ReadonlyArray<CellData | undefined>, missingLabel: string): TableRow {
    const values = cells.map((c) => cellValue(c, this.metric));
    values.forEach((v, j) => {
      if (v === null) this.missing.push(`${missingLabel} / ${this.columns[j]!.label}`);
    });
    return this.add(
      row(
        'method',
        labels,
        values,
        this.withStd,
        cells.map((c) => c?.id ?? null),
      ),
    );
  }

  add(r: TableRow): TableRow {
    this.rows.push(r);
    return r;
  }

  /** The average over the method rows so far (those `averaged` keeps). */
  addAverage(labels: string[], averaged: (rows: TableRow[]) => readonly TableRow[] = (rows) => rows): TableRow {
    return this.add(averageRow(labels, averaged(this.rows), this.columns.length, this.withStd));
  }

  /** The table: bold maxima (per family of methods with `boldPerGroup`), then notes and the protocol. */
  finish(frame: TableFrame, notes: NoteEdits = {}, boldPerGroup = false): ResultTable {
    markBold(this.rows, this.digits, boldPerGroup);
    const t: ResultTable = {
      ...frame,
      groups: groupsFor(this.bench, this.datasets),
      columns: this.columns,
      summaryHeader: this.withStd ? SUMMARY_MEAN_STD : SUMMARY_MEAN,
      summaryStd: this.withStd,
      rows: this.rows,
      notes: [],
      digits: this.digits,
    };
    const common = notesFor(t, this.missing, this.metricName, this.bench);
    t.notes = notes.edit ? notes.edit(common) : common;
    captionProtocol(t, this.bench.protocol);
    t.notes.push(...(notes.after ?? []));
    return t;
  }
}

/** Table 3: test Dice per model x learner and dataset (the main grid). */
export function table3(b: Bench, o: TableOptions = {}): ResultTable {
  const g = b.grid;
  const names = g.labels;
  const tb = new TableBuilder(b, o, g.datasets, false);
  const byFamily = o.families ?? new Set(g.models.flatMap((m) => (g.learners[m] ?? []).map(learnerFamily))).size > 1;
  // With families: [model, family, method, trainable params]; rows grouped by family in METHOD_FAMILIES order.
  const labelsOf = (model: string, learner: string, params: string): string[] =>
    byFamily
      ? [model, METHOD_FAMILY_LABELS[learnerFamily(learner)], learnerLabel(learner, names.learners), params]
      : [model, learnerLabel(learner, names.learners)];
  if (o.withPaperE2E) {
    for (const ref of PAPER_E2E) {
      const values = g.datasets.map((d): TableValue | null =>
        ref.values[d] !== undefined ? { mean: ref.values[d]!, std: null, n: 1 } : null,
      );
      const labels = byFamily
        ? [modelLabel(ref.model, names.models), METHOD_FAMILY_LABELS.full, E2E_LABEL, '–']
        : [modelLabel(ref.model, names.models), E2E_LABEL];
      const r = tb.add(row('reference', labels, values, false));
      // The paper prints no mean for these rows.
      r.summary = null;
      r.partial = false;
    }
  }
  for (const base of g.baselines) {
    const values = g.datasets.map((d): TableValue | null =>
      base.values[d] !== undefined ? { mean: base.values[d]! * 100, std: null, n: 1 } : null,
    );
    tb.add(row('baseline', byFamily ? [base.label, '', '', '0'] : [base.label, ''], values, false));
  }
  for (const model of g.models) {
    const learners = g.learners[model] ?? [];
    const ordered = byFamily ? METHOD_FAMILIES.flatMap((f) => learners.filter((l) => learnerFamily(l) === f)) : learners;
    for (const learner of ordered) {
      const cells = tb.cellsOf(model, learner, null);
      const r = tb.addMethod(
        labelsOf(modelLabel(model, names.models), learner, paramsLabel(cells)),
        cells,
        `${modelLabel(model, names.models)} ${learnerLabel(learner, names.learners)}`,
      );
      if (byFamily) r.group = learnerFamily(learner);
    }
  }
  // The paper's average is over its (prompt-tuning) methods; with other families it stays that.
  const avg = tb.addAverage([byFamily ? 'Average across prompt-tuning methods' : 'Average across Methods', ''], (rows) =>
    byFamily ? rows.filter((r) => r.kind !== 'method' || r.group === 'prompt') : rows,
  );
  if (byFamily) avg.labels = [avg.labels[0]!, '', '', ''];
  const metricName = tb.metricName;
  return tb.finish(
    {
      id: 'table3',
      title: 'Table 3',
      caption: byFamily
        ? `${metricName} (%) of each method (prompt tuning, adapters, LoRA, full fine-tuning) on each dataset, its trainable parameters, and the mean over datasets.`
        : `${metricName} (%) of each prompt-tuning method on each dataset, and the mean over datasets.`,
      labelHeaders: byFamily ? ['Model', 'Family', 'Method', 'Trainable params'] : ['Model', 'Context Learner'],
    },
    {
      edit: (common) => {
        const notes = [...common, ...baselineNotes(tb.rows, tb.columns, tb.digits)];
        if (byFamily) {
          const i = notes.findIndex((n) => n.startsWith('Bold:'));
          notes[i] =
            'Bold: the best value of each column within each family of methods (model by model; reference and average rows excluded; for the Mean column, rows without missing cells only).';
          notes.push(
            'Trainable params: the trained tensors of the runs behind the row (a range when the sweeps chose different sizes); Average: over the prompt-tuning rows.',
          );
        }
        return notes;
      },
    },
    byFamily,
  );
}

/** What the baseline rows are, and which method values do not beat the best of them (a learner that learned nothing). */
function baselineNotes(rows: readonly TableRow[], columns: readonly TableColumn[], digits: number): string[] {
  const baselines = rows.filter((r) => r.kind === 'baseline');
  if (baselines.length === 0) return [];
  const notes = [
    `${baselines.map((r) => r.labels[0]).join(', ')}: untuned baselines of this bench (not prompt-tuned); a method only learned something where it beats them.`,
  ];
  const below: string[] = [];
  columns.forEach((c, j) => {
    const best = Math.max(...baselines.map((r) => r.values[j]?.mean ?? -Infinity));
    if (best === -Infinity) return;
    for (const r of rows) {
      const v = r.values[j];
      if (r.kind === 'method' && v && round(v.mean, digits) <= round(best, digits))
        below.push(`${r.labels.filter(Boolean).join(' ')} / ${c.label}`);
    }
  });
  if (below.length) notes.push(`At or below the best baseline: ${below.join(', ')}.`);
  return notes;
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
  const g = b.grid;
  const tb = new TableBuilder(b, o, g.datasets, true);
  for (const [label, abl] of [
    ['Gaussian', ablation],
    ['a photo of a', null],
  ] as const)
    tb.addMethod([label], tb.cellsOf(model, learner, abl), label);
  return tb.finish({
    id: 'table4',
    title: 'Table 4',
    caption: `${tb.metricName} (%) of ${modelLabel(model, g.labels.models)} with ${learnerLabel(learner, g.labels.learners)} when the first-layer context vectors are initialised from N(0, 0.02) ("Gaussian") or from the embeddings of "a photo of a".`,
    labelHeaders: ['Init'],
  });
}

export interface Table5Options extends TableOptions {
  ablation?: string;
}

/** Table 5 (or any ablation laid out like Table 3): every learner without the learnable upsampler. */
export function table5(b: Bench, o: Table5Options = {}): ResultTable | null {
  const ablation = o.ablation ?? ABLATION_NO_UPSAMPLER;
  if (!hasAblation(b, ablation)) return null;
  const g = b.grid;
  const names = g.labels;
  const spec = g.ablations.find((a) => a.name === ablation);
  const datasets = spec?.datasets ?? g.datasets;
  const tb = new TableBuilder(b, o, datasets, true);
  // The main grid's value minus the ablation's, per cell that has both.
  const withUps: number[] = [];
  for (const model of spec?.models ?? g.models) {
    // Methods without an upsampler (adapters, LoRA, full fine-tuning) have nothing to ablate.
    const ls = (g.learners[model] ?? []).filter((l) => !isLearnerName(l) || learnerEntry(l).upsampler !== false);
    for (const learner of spec?.learners ? spec.learners.filter((l) => ls.includes(l)) : ls) {
      const r = tb.addMethod(
        [modelLabel(model, names.models), learnerLabel(learner, names.learners)],
        tb.cellsOf(model, learner, ablation),
        `${modelLabel(model, names.models)} ${learnerLabel(learner, names.learners)}`,
      );
      r.values.forEach((v, j) => {
        const base = v === null ? null : cellValue(findCell(b, { model, learner, dataset: datasets[j]!, ablation: null }), tb.metric);
        if (v !== null && base) withUps.push(base.mean - v.mean);
      });
    }
  }
  tb.addAverage(['Average across Methods', '']);
  const metricName = tb.metricName;
  const isUps = ablation === ABLATION_NO_UPSAMPLER;
  const change = (d: number): string => `${d >= 0 ? '+' : ''}${d.toFixed(tb.digits)}`;
  return tb.finish(
    {
      id: isUps ? 'table5' : `ablation-${ablation}`,
      title: isUps ? 'Table 5' : `Ablation ${ablation}`,
      caption: isUps
        ? `${metricName} (%) without the learnable upsampler (encoders and decoder frozen, only the prompts trained).`
        : `${metricName} (%) of the ablation "${ablation}".`,
      labelHeaders: ['Model', 'Context Learner'],
    },
    {
      after: withUps.length
        ? [
            `Against the same cells of Table 3 (${withUps.length} pairs), ${isUps ? 'adding the learnable upsampler' : 'the main grid'} changes ${metricName} by ${change(mean(withUps))} points on average.`,
          ]
        : [],
    },
  );
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
