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
import type { Bench } from './load.js';
import { learnerOrder, datasetLabel, learnerLabel, modelLabel, orderBy } from './paper.js';
import { linearFit } from './stats.js';
import {
  CONFIG,
  type Figure,
  type FigureOptions,
  type OmittedFigure,
  PANEL_H,
  PANEL_W,
  SCHEMA,
  TICK_FORMATS,
  type VegaLiteSpec,
  baseCells,
  datasetDomain,
  formatR2,
  isOmitted,
  methodLabel,
  r3,
} from './figure-style.js';
import { tsneFigure } from './figure-tsne.js';

export * from './figure-style.js';
export * from './figure-tsne.js';

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
        ...c.key,
        dice: r.summary.test.dice * 100,
        depth: numAt(r.config, ['model', 'depth']) ?? numAt(r.config, ['model', 'prompt_depth']),
        lr: numAt(r.config, ['lr']),
        weightDecay: numAt(r.config, ['weightDecay']),
        source: 'run',
      });
    }
  }
  return fromRuns;
}
const distinct = (xs: ReadonlyArray<number | null>): number[] =>
  [...new Set(xs.filter((x): x is number => x !== null))].sort((a, b) => a - b);
const pct1 = (x: number): string => `${x.toFixed(1)}%`;
/** A learning rate or weight decay as people write it: 2e-4, 1.5e-3, 1e-2 (0 as 0). */
export function formatRate(x: number): string {
  if (x === 0) return '0';
  const [m, e] = x.toExponential(1).split('e') as [string, string];
  return `${m.endsWith('.0') ? m.slice(0, -2) : m}e${Number(e)}`;
}
const diceAxis = (title: string): Record<string, unknown> => ({
  field: 'dice',
  type: 'quantitative',
  title,
  scale: { zero: false, nice: true },
  axis: { format: TICK_FORMATS.dice },
});

export const FIG6 = { id: 'fig6-depth', title: 'Fig. 6: test Dice vs prompt depth' } as const;
export const FIG7 = { id: 'fig7-lr-wd', title: 'Fig. 7: test Dice vs learning rate and weight decay' } as const;

/** Fig. 6: test Dice vs prompt depth per learner (learners tried at two depths or more), with a linear fit and R². */
export function depthFigure(b: Bench): Figure | OmittedFigure {
  const all = testDicePoints(b).filter((p) => p.depth !== null);
  if (!all.length) return { ...FIG6, reason: 'no run or trial records its prompt depth.' };
  const learners = orderBy([...new Set(all.map((p) => p.learner))], learnerOrder());
  const varied = learners.filter((l) => distinct(all.filter((p) => p.learner === l).map((p) => p.depth)).length >= 2);
  const depths = distinct(all.map((p) => p.depth));
  if (!varied.length) {
    return {
      ...FIG6,
      reason: `every ${all[0]!.source === 'trial' ? 'trial' : 'run'} of each learner uses one prompt depth (${depths.join(', ')}): a trend over depth needs at least two depths per learner.`,
    };
  }
  const single = learners.filter((l) => !varied.includes(l)).map((l) => learnerLabel(l, b.grid.labels.learners));
  const pts = all.filter((p) => varied.includes(p.learner));
  const domain = datasetDomain(
    b,
    pts.map((p) => p.dataset),
  );
  const maxDepth = Math.max(...pts.map((p) => p.depth!));
  const panels: VegaLiteSpec[] = [];
  let lines = 0;
  const fits: string[] = [];
  for (const l of varied) {
    const mine = pts.filter((p) => p.learner === l);
    const values = mine.map((p) => ({
      depth: p.depth,
      dice: r3(p.dice),
      dataset: datasetLabel(p.dataset, b.grid.labels.datasets),
      model: modelLabel(p.model, b.grid.labels.models),
    }));
    const fit = linearFit(
      mine.map((p) => p.depth!),
      mine.map((p) => p.dice),
    );
    const name = learnerLabel(l, b.grid.labels.learners);
    const slope = fit ? `${fit.slope >= 0 ? '+' : ''}${fit.slope.toFixed(2)}` : '';
    const title = fit ? `${name}: ${formatR2(fit.r2)}, slope ${slope}/layer (n = ${mine.length})` : `${name} (n = ${mine.length}, no fit)`;
    fits.push(fit ? `${name} ${slope} points/layer (${formatR2(fit.r2)})` : `${name} no fit`);
    const x = {
      field: 'depth',
      type: 'quantitative',
      title: 'Prompt depth',
      scale: { domain: [0, Math.max(maxDepth, 1) + 1] },
      axis: { tickMinStep: 1, format: TICK_FORMATS.integer },
    };
    const y = diceAxis('Test Dice (%)');
    const layer: VegaLiteSpec[] = [
      {
        data: { values },
        mark: { type: 'point', filled: true },
        encoding: {
          x,
          y,
          color: { field: 'dataset', type: 'nominal', title: 'Dataset', scale: { domain } },
          shape: { field: 'model', type: 'nominal', title: 'Model' },
          tooltip: [{ field: 'dataset' }, { field: 'model' }, { field: 'depth' }, { field: 'dice', format: TICK_FORMATS.dice }],
        },
      },
    ];
    if (fit) {
      const xs = mine.map((p) => p.depth!);
      const x0 = Math.min(...xs);
      const x1 = Math.max(...xs);
      layer.push({
        data: {
          values: [
            { depth: x0, dice: r3(fit.slope * x0 + fit.intercept) },
            { depth: x1, dice: r3(fit.slope * x1 + fit.intercept) },
          ],
        },
        mark: { type: 'line', color: '#333', strokeWidth: 1.5 },
        encoding: { x, y },
      });
      lines++;
    }
    panels.push({ title, width: PANEL_W, height: PANEL_H, layer });
  }
  return {
    ...FIG6,
    caption: `Test Dice of every evaluated ${pts[0]!.source === 'trial' ? 'sweep trial' : 'run'} against its prompt depth, one panel per context learner (all datasets), with a least-squares line${single.length ? `; left out (one depth only): ${single.join(', ')}` : ''}.`,
    summary: `Change of test Dice per added prompt layer: ${fits.join('; ')}.`,
    spec: { $schema: SCHEMA, config: CONFIG, concat: panels, columns: 3, resolve: { scale: { y: 'independent' } } },
    expected: { points: pts.length, lines },
  };
}

/** Fig. 7: test Dice vs learning rate and vs weight decay (log scales); a panel needs two values or more. */
export function lrWdFigure(b: Bench): Figure | OmittedFigure {
  const pts = testDicePoints(b);
  const lrPts = pts.filter((p) => p.lr !== null && p.lr > 0);
  const wdPts = pts.filter((p) => p.weightDecay !== null && p.weightDecay > 0);
  const lrs = distinct(lrPts.map((p) => p.lr));
  const wds = distinct(wdPts.map((p) => p.weightDecay));
  const useLr = lrs.length >= 2;
  const useWd = wds.length >= 2;
  if (!useLr && !useWd) {
    const said = (what: string, xs: number[]): string =>
      xs.length ? `one ${what} (${xs.map(formatRate).join(', ')})` : `no positive ${what}`;
    return {
      ...FIG7,
      reason: `every ${pts[0]?.source === 'trial' ? 'trial' : 'run'} uses ${said('learning rate', lrs)} and ${said('weight decay', wds)}: a trend needs at least two values.`,
    };
  }
  const learnerDomain = orderBy([...new Set(pts.map((p) => p.learner))], learnerOrder()).map((l) =>
    learnerLabel(l, b.grid.labels.learners),
  );
  const panel = (which: 'lr' | 'weightDecay', data: TrialPoint[], title: string): VegaLiteSpec => ({
    title,
    width: PANEL_W + 60,
    height: PANEL_H + 30,
    data: {
      values: data.map((p) => ({
        x: p[which],
        dice: r3(p.dice),
        learner: learnerLabel(p.learner, b.grid.labels.learners),
        dataset: datasetLabel(p.dataset, b.grid.labels.datasets),
      })),
    },
    mark: { type: 'point', filled: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title, scale: { type: 'log' }, axis: { format: TICK_FORMATS.rate } },
      y: diceAxis('Test Dice (%)'),
      color: { field: 'learner', type: 'nominal', title: 'Context learner', scale: { domain: learnerDomain } },
      tooltip: [
        { field: 'learner' },
        { field: 'dataset' },
        { field: 'x', title, format: TICK_FORMATS.rate },
        { field: 'dice', format: TICK_FORMATS.dice },
      ],
    },
  });
  const panels: VegaLiteSpec[] = [];
  if (useLr) panels.push(panel('lr', lrPts, 'Learning rate'));
  if (useWd) panels.push(panel('weightDecay', wdPts, 'Weight decay'));
  const best = [...(useLr ? lrPts : wdPts)].sort((a, c) => c.dice - a.dice)[0]!;
  return {
    ...FIG7,
    caption:
      `Test Dice of every evaluated ${pts[0]!.source === 'trial' ? 'sweep trial' : 'run'} against ${[useLr ? `its learning rate (${lrPts.length} points)` : '', useWd ? `its weight decay (${wdPts.length} points)` : ''].filter(Boolean).join(' and ')}, log scale, all datasets` +
      `${!useLr ? `; no learning-rate panel: one value (${lrs.map(formatRate).join(', ') || 'none'})` : ''}${!useWd ? `; no weight-decay panel: ${wds.length ? `one value (${wds.map(formatRate).join(', ')})` : 'none positive'}` : ''}.`,
    summary: `Best test Dice ${pct1(best.dice)} (${learnerLabel(best.learner, b.grid.labels.learners)}, ${datasetLabel(best.dataset, b.grid.labels.datasets)}) at learning rate ${best.lr !== null ? formatRate(best.lr) : 'n/a'}, weight decay ${best.weightDecay !== null ? formatRate(best.weightDecay) : 'n/a'}; learning rates ${formatRate(lrs[0] ?? 0)} to ${formatRate(lrs.at(-1) ?? 0)}.`,
    spec: { $schema: SCHEMA, config: CONFIG, hconcat: panels },
    expected: { points: (useLr ? lrPts.length : 0) + (useWd ? wdPts.length : 0), lines: 0 },
  };
}

/** The sweep's objective per trial number for every method on one dataset (null: no sweep; left out with fewer than two trials). */
export function trialsFigure(b: Bench, dataset: string): Figure | OmittedFigure | null {
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
  const id = `trials-${dataset}`;
  const title = `Sweep trials: ${dl}`;
  if (rows.length < 2) return { id, title, reason: 'one sweep trial only: nothing to compare.' };
  const best = [...rows].sort((a, c) => (a.value as number) - (c.value as number))[0]!;
  return {
    id,
    title,
    caption: `The sweep's objective (validation loss, lower is better) of each finished trial of each method on ${dl}, by trial number; pruned trials report their last intermediate value.`,
    summary: `${rows.length} trials of ${methods.length} method${methods.length === 1 ? '' : 's'}; lowest objective ${(best.value as number).toFixed(3)} (${String(best.method)}, trial ${String(best.trial)}).`,
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      title,
      width: PANEL_W * 2,
      height: PANEL_H + 30,
      data: { values: rows },
      mark: { type: 'point', filled: true },
      encoding: {
        x: {
          field: 'trial',
          type: 'quantitative',
          title: 'Trial number',
          axis: { tickMinStep: 1, format: TICK_FORMATS.integer },
          scale: { padding: 8 },
        },
        y: {
          field: 'value',
          type: 'quantitative',
          title: 'Objective (val loss)',
          scale: { zero: false, padding: 8 },
          axis: { format: TICK_FORMATS.loss },
        },
        color: { field: 'method', type: 'nominal', title: 'Method', scale: { domain: methods } },
        shape: { field: 'state', type: 'nominal', title: 'State' },
        tooltip: [{ field: 'method' }, { field: 'trial' }, { field: 'state' }, { field: 'value' }],
      },
    },
    expected: { points: rows.length, lines: 0 },
  };
}

/** Training curves (loss and validation Dice per epoch) of the runs of one dataset's cells (left out when every run has one epoch). */
export function curvesFigure(b: Bench, dataset: string): Figure | OmittedFigure | null {
  const loss: Array<Record<string, unknown>> = [];
  const dice: Array<Record<string, unknown>> = [];
  const finals: string[] = [];
  let lines = 0;
  let anyEpochs = false;
  for (const c of baseCells(b).filter((c) => c.key.dataset === dataset)) {
    for (const r of c.runs) {
      const run = r.seed === null ? 'run' : `seed ${r.seed}`;
      const method = methodLabel(b, c);
      anyEpochs ||= r.epochs.length > 0;
      const series = (
        key: 'trainLoss' | 'valLoss' | 'valDice',
        out: Array<Record<string, unknown>>,
        split: string,
        scale: number,
      ): void => {
        const pts = r.epochs.filter((e) => e[key] !== null);
        if (pts.length < 2) return;
        lines++;
        for (const e of pts) out.push({ epoch: e.epoch, value: r3(e[key]! * scale), method, run, split });
        if (key === 'valDice')
          finals.push(
            `${method}${r.seed === null ? '' : ` (${run})`} ${pct1(pts.at(-1)!.valDice! * 100)} after ${pts.at(-1)!.epoch} epochs`,
          );
      };
      series('trainLoss', loss, 'train', 1);
      series('valLoss', loss, 'val', 1);
      series('valDice', dice, 'val', 100);
    }
  }
  const dl = datasetLabel(dataset, b.grid.labels.datasets);
  const id = `curves-${dataset}`;
  const title = `Training curves: ${dl}`;
  if (!loss.length && !dice.length) return anyEpochs ? { id, title, reason: 'every run trained a single epoch: no curve to draw.' } : null;
  const x = { field: 'epoch', type: 'quantitative', title: 'Epoch', axis: { tickMinStep: 1, format: TICK_FORMATS.integer } };
  const methods = [...new Set([...loss, ...dice].map((r) => r.method as string))];
  const color = { field: 'method', type: 'nominal', title: 'Method', scale: { domain: methods } };
  const panels: VegaLiteSpec[] = [];
  if (loss.length) {
    panels.push({
      title: 'Loss (Dice + 0.2 BCE)',
      width: PANEL_W,
      height: PANEL_H,
      data: { values: loss },
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x,
        y: { field: 'value', type: 'quantitative', title: 'Loss', scale: { zero: false }, axis: { format: TICK_FORMATS.loss } },
        color,
        strokeDash: { field: 'split', type: 'nominal', title: 'Split' },
        detail: { field: 'run' },
      },
    });
  }
  if (dice.length) {
    panels.push({
      title: 'Validation Dice',
      width: PANEL_W,
      height: PANEL_H,
      data: { values: dice },
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x,
        y: { field: 'value', type: 'quantitative', title: 'Val Dice (%)', scale: { zero: false }, axis: { format: TICK_FORMATS.dice } },
        color,
        detail: { field: 'run' },
      },
    });
  }
  return {
    id,
    title,
    caption: `Per-epoch training and validation loss and validation Dice of the reported run(s) of each method on ${dl} (one line per seed).`,
    summary: finals.length
      ? `Last validation Dice: ${finals.join('; ')}.`
      : `Loss curves of ${methods.length} method${methods.length === 1 ? '' : 's'}.`,
    spec: { $schema: SCHEMA, config: CONFIG, hconcat: panels },
    expected: { points: 0, lines },
  };
}

// ---------------------------------------------------------------------------------------
// Building and rendering

const wanted = (id: string, include?: readonly string[]): boolean => !include || include.some((p) => id === p || id.startsWith(p));

export interface FigureSet {
  figures: Figure[];
  /** Figures the bench's data cannot support, each with the line that says why. */
  omitted: OmittedFigure[];
}

/** Every figure the bench supports (not rendered yet), and those left out with their reason. */
export function buildFigureSet(b: Bench, o: FigureOptions = {}): FigureSet {
  const out: FigureSet = { figures: [], omitted: [] };
  const add = (id: string, f: () => Figure | OmittedFigure | null): void => {
    if (!wanted(id, o.include)) return;
    const fig = f();
    if (fig) (isOmitted(fig) ? out.omitted : out.figures).push(fig as Figure & OmittedFigure);
  };
  add('fig6-depth', () => depthFigure(b));
  add('fig7-lr-wd', () => lrWdFigure(b));
  for (const d of b.grid.datasets) add(`trials-${d}`, () => trialsFigure(b, d));
  for (const d of b.grid.datasets) add(`curves-${d}`, () => curvesFigure(b, d));
  add('fig4-tsne', () => tsneFigure(b, o));
  return out;
}

/** The figures the bench supports (see `buildFigureSet` for the ones left out). */
export function buildFigures(b: Bench, o: FigureOptions = {}): Figure[] {
  return buildFigureSet(b, o).figures;
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
