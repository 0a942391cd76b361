/**
 * The report's figures as Vega-Lite specs, rendered to standalone SVG in Node (vega's
 * headless view, no canvas, no network):
 * - Fig. 6 (`fig6-depth`): test Dice vs prompt depth, one panel per learner, a scatter of
 *   the sweep's trials with a least-squares line and its R² in the panel title;
 * - Fig. 7 (`fig7-lr-wd`): test Dice vs learning rate and vs weight decay (log x);
 * - `trials-<dataset>`: the sweep's objective per trial number, per method;
 * - `curves-<dataset>`: training curves (train/val loss, val Dice per epoch) of the best runs;
 * - Fig. 4 (`fig4-tsne`): t-SNE of the text and the image embeddings of every dataset.
 * Every figure records how many data marks its SVG must hold (`expected`), which the tests
 * and the browser check count (`countMarks`).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Bench, CellData, EmbeddingGroup, EmbeddingSet } from './load.js';
import { DATASET_ORDER, learnerOrder, datasetLabel, learnerLabel, modelLabel, orderBy } from './paper.js';
import { linearFit, SeededRandom } from './stats.js';
import { tsne } from './tsne.js';

export type VegaLiteSpec = Record<string, unknown>;

export interface Figure {
  id: string;
  title: string;
  caption: string;
  spec: VegaLiteSpec;
  /** Data marks the rendered SVG holds: point symbols and line paths. */
  expected: { points: number; lines: number };
  /** Filled by `renderFigures`. */
  svg?: string;
}

export interface FigureOptions {
  /** Figures to build (ids or prefixes: 'fig6', 'fig7', 'trials', 'curves', 'fig4'). Default all. */
  include?: readonly string[];
  /** t-SNE: at most this many points per modality (stratified by dataset). Default 1000. */
  tsneMaxPoints?: number;
  tsnePerplexity?: number;
  tsneIterations?: number;
  tsneSeed?: number;
  /** L2-normalise embeddings before t-SNE (CLIP compares by cosine). Default true. */
  normalizeEmbeddings?: boolean;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const PANEL_W = 220;
const PANEL_H = 170;
const CONFIG = {
  font: 'sans-serif',
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 10, titleFontSize: 11, grid: true, gridColor: '#eee' },
  legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 220 },
  title: { fontSize: 12, anchor: 'start' },
  point: { filled: true, size: 36, opacity: 0.8 },
};

const baseCells = (b: Bench): CellData[] => b.cells.filter((c) => c.key.ablation === null && c.inGrid);

const methodLabel = (b: Bench, c: CellData): string =>
  `${modelLabel(c.key.model, b.grid.labels.models)} ${learnerLabel(c.key.learner, b.grid.labels.learners)}`;

const r3 = (x: number): number => Number(x.toPrecision(6));

/** "R² = 0.123" or "R² n/a". */
export const formatR2 = (r2: number): string => (Number.isFinite(r2) ? `R² = ${r2.toFixed(3)}` : 'R² n/a');

// ---------------------------------------------------------------------------------------
// Test Dice per trial (Figs. 6 and 7)

export interface TrialPoint {
  model: string;
  learner: string;
  dataset: string;
  /** Test Dice in %. */
  dice: number;
  depth: number | null;
  lr: number | null;
  weightDecay: number | null;
  source: 'trial' | 'run';
}

const numAt = (o: unknown, keys: readonly string[]): number | null => {
  let x = o;
  for (const k of keys) {
    if (typeof x !== 'object' || x === null) return null;
    x = (x as Record<string, unknown>)[k];
  }
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
};

/**
 * Test Dice points of the main grid: the sweep's evaluated trials (complete, with a test
 * Dice), or, when no trial carries one, the cells' runs (depth, lr and weight decay from
 * their config.json).
 */
export function testDicePoints(b: Bench): TrialPoint[] {
  const cells = baseCells(b);
  const fromTrials: TrialPoint[] = [];
  for (const c of cells) {
    for (const t of c.trials) {
      if (t.state !== 'complete' || t.testDice === null) continue;
      fromTrials.push({ ...c.key, dice: t.testDice * 100, depth: t.depth, lr: t.lr, weightDecay: t.weightDecay, source: 'trial' });
    }
  }
  if (fromTrials.length) return fromTrials;
  const fromRuns: TrialPoint[] = [];
  for (const c of cells) {
    for (const r of c.runs) {
      if (!r.summary?.test) continue;
      fromRuns.push({
        ...c.key, dice: r.summary.test.dice * 100,
        depth: numAt(r.config, ['model', 'depth']) ?? numAt(r.config, ['model', 'prompt_depth']),
        lr: numAt(r.config, ['lr']), weightDecay: numAt(r.config, ['weightDecay']), source: 'run',
      });
    }
  }
  return fromRuns;
}

function datasetDomain(b: Bench, ids: readonly string[]): string[] {
  const all = orderBy([...new Set([...b.grid.datasets, ...ids])], DATASET_ORDER);
  return all.filter((d) => ids.includes(d)).map((d) => datasetLabel(d, b.grid.labels.datasets));
}

/** Fig. 6: test Dice vs prompt depth per learner, with a linear fit and R². */
export function depthFigure(b: Bench): Figure | null {
  const pts = testDicePoints(b).filter((p) => p.depth !== null);
  if (!pts.length) return null;
  const learners = orderBy([...new Set(pts.map((p) => p.learner))], learnerOrder());
  const domain = datasetDomain(b, pts.map((p) => p.dataset));
  const maxDepth = Math.max(...pts.map((p) => p.depth!));
  const panels: VegaLiteSpec[] = [];
  let lines = 0;
  const fits: string[] = [];
  for (const l of learners) {
    const mine = pts.filter((p) => p.learner === l);
    const values = mine.map((p) => ({ depth: p.depth, dice: r3(p.dice), dataset: datasetLabel(p.dataset, b.grid.labels.datasets), model: modelLabel(p.model, b.grid.labels.models) }));
    const fit = linearFit(mine.map((p) => p.depth!), mine.map((p) => p.dice));
    const name = learnerLabel(l, b.grid.labels.learners);
    const title = fit ? `${name}: ${formatR2(fit.r2)}, slope ${fit.slope >= 0 ? '+' : ''}${fit.slope.toFixed(2)}/layer (n = ${mine.length})` : `${name} (n = ${mine.length}, no fit)`;
    fits.push(fit ? `${name} ${formatR2(fit.r2)}` : `${name} no fit`);
    const x = { field: 'depth', type: 'quantitative', title: 'Prompt depth', scale: { domain: [0, Math.max(maxDepth, 1) + 1] }, axis: { tickMinStep: 1 } };
    const y = { field: 'dice', type: 'quantitative', title: 'Test Dice (%)', scale: { zero: false } };
    const layer: VegaLiteSpec[] = [
      {
        data: { values },
        mark: { type: 'point', filled: true },
        encoding: {
          x, y,
          color: { field: 'dataset', type: 'nominal', title: 'Dataset', scale: { domain } },
          shape: { field: 'model', type: 'nominal', title: 'Model' },
          tooltip: [{ field: 'dataset' }, { field: 'model' }, { field: 'depth' }, { field: 'dice' }],
        },
      },
    ];
    if (fit) {
      const xs = mine.map((p) => p.depth!);
      const x0 = Math.min(...xs);
      const x1 = Math.max(...xs);
      layer.push({
        data: { values: [{ depth: x0, dice: r3(fit.slope * x0 + fit.intercept) }, { depth: x1, dice: r3(fit.slope * x1 + fit.intercept) }] },
        mark: { type: 'line', color: '#333', strokeWidth: 1.5 },
        encoding: { x, y },
      });
      lines++;
    }
    panels.push({ title, width: PANEL_W, height: PANEL_H, layer });
  }
  return {
    id: 'fig6-depth',
    title: 'Fig. 6: test Dice vs prompt depth',
    caption: `Test Dice of every evaluated ${pts[0]!.source === 'trial' ? 'sweep trial' : 'run'} against its prompt depth, one panel per context learner (all datasets), with a least-squares line: ${fits.join('; ')}.`,
    spec: { $schema: SCHEMA, config: CONFIG, concat: panels, columns: 3, resolve: { scale: { y: 'independent' } } },
    expected: { points: pts.length, lines },
  };
}

/** Fig. 7: test Dice vs learning rate and vs weight decay (log scales). */
export function lrWdFigure(b: Bench): Figure | null {
  const pts = testDicePoints(b);
  const lrPts = pts.filter((p) => p.lr !== null && p.lr > 0);
  const wdPts = pts.filter((p) => p.weightDecay !== null && p.weightDecay > 0);
  if (!lrPts.length && !wdPts.length) return null;
  const learnerDomain = orderBy([...new Set(pts.map((p) => p.learner))], learnerOrder()).map((l) => learnerLabel(l, b.grid.labels.learners));
  const panel = (which: 'lr' | 'weightDecay', data: TrialPoint[], title: string): VegaLiteSpec => ({
    title,
    width: PANEL_W + 60,
    height: PANEL_H + 30,
    data: {
      values: data.map((p) => ({ x: p[which], dice: r3(p.dice), learner: learnerLabel(p.learner, b.grid.labels.learners), dataset: datasetLabel(p.dataset, b.grid.labels.datasets) })),
    },
    mark: { type: 'point', filled: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title, scale: { type: 'log' }, axis: { format: '.0e' } },
      y: { field: 'dice', type: 'quantitative', title: 'Test Dice (%)', scale: { zero: false } },
      color: { field: 'learner', type: 'nominal', title: 'Context learner', scale: { domain: learnerDomain } },
      tooltip: [{ field: 'learner' }, { field: 'dataset' }, { field: 'x', title }, { field: 'dice' }],
    },
  });
  const panels: VegaLiteSpec[] = [];
  if (lrPts.length) panels.push(panel('lr', lrPts, 'Learning rate'));
  if (wdPts.length) panels.push(panel('weightDecay', wdPts, 'Weight decay'));
  return {
    id: 'fig7-lr-wd',
    title: 'Fig. 7: test Dice vs learning rate and weight decay',
    caption: `Test Dice of every evaluated ${pts[0]!.source === 'trial' ? 'sweep trial' : 'run'} against its learning rate (${lrPts.length} points) and its weight decay (${wdPts.length} points), log scale, all datasets.`,
    spec: { $schema: SCHEMA, config: CONFIG, hconcat: panels },
    expected: { points: lrPts.length + wdPts.length, lines: 0 },
  };
}

/** The sweep's objective per trial number for every method on one dataset. */
export function trialsFigure(b: Bench, dataset: string): Figure | null {
  const rows: Array<Record<string, unknown>> = [];
  const methods: string[] = [];
  for (const c of baseCells(b).filter((c) => c.key.dataset === dataset)) {
    if (c.trials.some((t) => t.value !== null)) methods.push(methodLabel(b, c));
    for (const t of c.trials) {
      if (t.value === null) continue;
      rows.push({ trial: t.number, value: r3(t.value), method: methodLabel(b, c), state: t.state });
    }
  }
  if (!rows.length) return null;
  const dl = datasetLabel(dataset, b.grid.labels.datasets);
  return {
    id: `trials-${dataset}`,
    title: `Sweep trials: ${dl}`,
    caption: `The sweep's objective (validation loss, lower is better) of each finished trial of each method on ${dl}, by trial number; pruned trials report their last intermediate value.`,
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      title: `Sweep trials: ${dl}`,
      width: PANEL_W * 2,
      height: PANEL_H + 30,
      data: { values: rows },
      mark: { type: 'point', filled: true },
      encoding: {
        x: { field: 'trial', type: 'quantitative', title: 'Trial number', axis: { tickMinStep: 1 }, scale: { padding: 8 } },
        y: { field: 'value', type: 'quantitative', title: 'Objective (val loss)', scale: { zero: false, padding: 8 } },
        color: { field: 'method', type: 'nominal', title: 'Method', scale: { domain: methods } },
        shape: { field: 'state', type: 'nominal', title: 'State' },
        tooltip: [{ field: 'method' }, { field: 'trial' }, { field: 'state' }, { field: 'value' }],
      },
    },
    expected: { points: rows.length, lines: 0 },
  };
}

/** Training curves (loss and validation Dice per epoch) of the runs of one dataset's cells. */
export function curvesFigure(b: Bench, dataset: string): Figure | null {
  const loss: Array<Record<string, unknown>> = [];
  const dice: Array<Record<string, unknown>> = [];
  let lines = 0;
  for (const c of baseCells(b).filter((c) => c.key.dataset === dataset)) {
    for (const r of c.runs) {
      const run = r.seed === null ? 'run' : `seed ${r.seed}`;
      const method = methodLabel(b, c);
      const series = (key: 'trainLoss' | 'valLoss' | 'valDice', out: Array<Record<string, unknown>>, split: string, scale: number): void => {
        const pts = r.epochs.filter((e) => e[key] !== null);
        if (!pts.length) return;
        lines++;
        for (const e of pts) out.push({ epoch: e.epoch, value: r3(e[key]! * scale), method, run, split });
      };
      series('trainLoss', loss, 'train', 1);
      series('valLoss', loss, 'val', 1);
      series('valDice', dice, 'val', 100);
    }
  }
  if (!loss.length && !dice.length) return null;
  const dl = datasetLabel(dataset, b.grid.labels.datasets);
  const x = { field: 'epoch', type: 'quantitative', title: 'Epoch', axis: { tickMinStep: 1 } };
  const methods = [...new Set([...loss, ...dice].map((r) => r.method as string))];
  const color = { field: 'method', type: 'nominal', title: 'Method', scale: { domain: methods } };
  const panels: VegaLiteSpec[] = [];
  if (loss.length) {
    panels.push({
      title: 'Loss (Dice + 0.2 BCE)', width: PANEL_W, height: PANEL_H, data: { values: loss },
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: { x, y: { field: 'value', type: 'quantitative', title: 'Loss', scale: { zero: false } }, color, strokeDash: { field: 'split', type: 'nominal', title: 'Split' }, detail: { field: 'run' } },
    });
  }
  if (dice.length) {
    panels.push({
      title: 'Validation Dice', width: PANEL_W, height: PANEL_H, data: { values: dice },
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: { x, y: { field: 'value', type: 'quantitative', title: 'Val Dice (%)', scale: { zero: false } }, color, detail: { field: 'run' } },
    });
  }
  return {
    id: `curves-${dataset}`,
    title: `Training curves: ${dl}`,
    caption: `Per-epoch training and validation loss and validation Dice of the reported run(s) of each method on ${dl} (one line per seed).`,
    spec: { $schema: SCHEMA, config: CONFIG, hconcat: panels },
    expected: { points: 0, lines },
  };
}

// ---------------------------------------------------------------------------------------
// Fig. 4: t-SNE

interface Sample {
  dataset: string;
  label: string;
  vector: Float64Array;
}

function normalise(v: Float64Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  return n > 0 ? v.map((x) => x / n) : v;
}

/** Deterministic stratified subsample: every dataset keeps a share proportional to its size (at least one). */
export function stratifiedSample<T extends { dataset: string }>(xs: readonly T[], max: number, seed: number): T[] {
  if (xs.length <= max) return [...xs];
  const byDs = new Map<string, T[]>();
  for (const x of xs) {
    const a = byDs.get(x.dataset);
    if (a) a.push(x);
    else byDs.set(x.dataset, [x]);
  }
  const rng = new SeededRandom(seed);
  const out: T[] = [];
  for (const [, a] of byDs) {
    const k = Math.max(1, Math.floor((a.length * max) / xs.length));
    const idx = a.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    for (const i of idx.slice(0, k).sort((p, q) => p - q)) out.push(a[i]!);
  }
  return out;
}

export interface TsnePanel {
  modality: 'text' | 'image';
  points: Array<{ x: number; y: number; dataset: string; label: string }>;
  perplexity: number;
  kl: number;
  /** Datasets left out (a vector size different from the others'). */
  skipped: string[];
  /** Points before subsampling. */
  total: number;
}

/** Runs t-SNE on one modality of every embedding set (datasets with the most common vector size). */
export function tsnePanel(sets: readonly EmbeddingSet[], modality: 'text' | 'image', o: FigureOptions = {}): TsnePanel | null {
  const groups = sets.map((s) => ({ s, g: s[modality] })).filter((x): x is { s: EmbeddingSet; g: EmbeddingGroup } => x.g !== null && x.g.vectors.length > 0);
  if (!groups.length) return null;
  const dimCount = new Map<number, number>();
  for (const { g } of groups) dimCount.set(g.dim, (dimCount.get(g.dim) ?? 0) + g.vectors.length);
  const dim = [...dimCount.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  const skipped = groups.filter((x) => x.g.dim !== dim).map((x) => x.s.dataset);
  const all: Sample[] = [];
  for (const { s, g } of groups) {
    if (g.dim !== dim) continue;
    g.vectors.forEach((v, i) => all.push({ dataset: s.dataset, label: g.labels[i]!, vector: o.normalizeEmbeddings === false ? v : normalise(v) }));
  }
  const seed = o.tsneSeed ?? 0;
  const chosen = stratifiedSample(all, o.tsneMaxPoints ?? 1000, seed);
  const res = tsne(chosen.map((c) => c.vector), {
    seed,
    ...(o.tsnePerplexity !== undefined ? { perplexity: o.tsnePerplexity } : {}),
    ...(o.tsneIterations !== undefined ? { iterations: o.tsneIterations } : {}),
  });
  return {
    modality,
    points: chosen.map((c, i) => ({ x: r3(res.embedding[2 * i]!), y: r3(res.embedding[2 * i + 1]!), dataset: c.dataset, label: c.label })),
    perplexity: res.perplexity,
    kl: res.kl,
    skipped,
    total: all.length,
  };
}

/** Fig. 4: t-SNE of the text and image embeddings, coloured by dataset. */
export function tsneFigure(b: Bench, o: FigureOptions = {}): Figure | null {
  if (!b.embeddings.length) return null;
  const panels = (['text', 'image'] as const).map((m) => tsnePanel(b.embeddings, m, o)).filter((p): p is TsnePanel => p !== null);
  if (!panels.length) return null;
  const domain = datasetDomain(b, [...new Set(b.embeddings.map((e) => e.dataset))]);
  const specs = panels.map((p) => ({
    title: `${p.modality === 'text' ? '(a) Text' : '(b) Image'} embeddings (${p.points.length} points, perplexity ${Number(p.perplexity.toFixed(1))})`,
    width: PANEL_W + 40,
    height: PANEL_W + 40,
    data: { values: p.points.map((q) => ({ ...q, dataset: datasetLabel(q.dataset, b.grid.labels.datasets) })) },
    mark: { type: 'point', filled: true, size: 24 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: 't-SNE 1', axis: { labels: false, ticks: false } },
      y: { field: 'y', type: 'quantitative', title: 't-SNE 2', axis: { labels: false, ticks: false } },
      color: { field: 'dataset', type: 'nominal', title: 'Dataset', scale: { domain } },
      tooltip: [{ field: 'dataset' }, { field: 'label' }],
    },
  }));
  const notes = panels.flatMap((p) => [
    ...(p.total > p.points.length ? [`${p.modality}: ${p.points.length} of ${p.total} points (stratified sample)`] : []),
    ...(p.skipped.length ? [`${p.modality}: left out ${p.skipped.join(', ')} (different vector size)`] : []),
  ]);
  return {
    id: 'fig4-tsne',
    title: 'Fig. 4: t-SNE of text and image embeddings',
    caption: `t-SNE of the CLIP text (prompt) and image embeddings of each dataset (L2-normalised${notes.length ? `; ${notes.join('; ')}` : ''}); separated clusters show the domain shift between datasets.`,
    spec: { $schema: SCHEMA, config: CONFIG, hconcat: specs },
    expected: { points: panels.reduce((s, p) => s + p.points.length, 0), lines: 0 },
  };
}

// ---------------------------------------------------------------------------------------
// Building and rendering

const wanted = (id: string, include?: readonly string[]): boolean => !include || include.some((p) => id === p || id.startsWith(p));

/** Every figure the bench has data for (not rendered yet). */
export function buildFigures(b: Bench, o: FigureOptions = {}): Figure[] {
  const out: Figure[] = [];
  const add = (id: string, f: () => Figure | null): void => {
    if (!wanted(id, o.include)) return;
    const fig = f();
    if (fig) out.push(fig);
  };
  add('fig6-depth', () => depthFigure(b));
  add('fig7-lr-wd', () => lrWdFigure(b));
  for (const d of b.grid.datasets) add(`trials-${d}`, () => trialsFigure(b, d));
  for (const d of b.grid.datasets) add(`curves-${d}`, () => curvesFigure(b, d));
  add('fig4-tsne', () => tsneFigure(b, o));
  return out;
}

/** Renders a Vega-Lite spec to SVG; ids inside it are prefixed so several SVGs can share a page. */
export async function renderSvg(spec: VegaLiteSpec, idPrefix = 'fig'): Promise<string> {
  const vg = compile(spec as unknown as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg
      .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${idPrefix}-${id}"`)
      .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${idPrefix}-${id})`)
      .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${idPrefix}-${id}"`);
  } finally {
    view.finalize();
  }
}

/** Renders every figure (sets `svg`). */
export async function renderFigures(figs: Figure[]): Promise<Figure[]> {
  for (const f of figs) f.svg = await renderSvg(f.spec, f.id);
  return figs;
}

/** Data marks in an SVG written by vega: point symbols and line paths. */
export function countMarks(svg: string): { points: number; lines: number } {
  return {
    points: (svg.match(/aria-roledescription="point"/g) ?? []).length,
    lines: (svg.match(/aria-roledescription="line mark"/g) ?? []).length,
  };
}
