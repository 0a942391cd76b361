/**
 * What every figure of the report shares: the figure record, its options, the Vega-Lite config
 * (a colour-blind-safe palette, human tick formats) and small helpers. A figure whose data
 * cannot support it is not drawn: its builder returns an `OmittedFigure` saying why.
 */
import type { Bench, CellData } from './load.js';
import { DATASET_ORDER, datasetLabel, learnerLabel, modelLabel, orderBy } from './paper.js';

export type VegaLiteSpec = Record<string, unknown>;

export interface Figure {
  id: string;
  title: string;
  caption: string;
  /** One line saying what the figure shows, in numbers: its text alternative with the title. */
  summary: string;
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

/** A figure left out, and the one line that says why. */
export interface OmittedFigure {
  id: string;
  title: string;
  reason: string;
}

export const isOmitted = (f: Figure | OmittedFigure): f is OmittedFigure => 'reason' in f;

export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
export const PANEL_W = 220;
export const PANEL_H = 170;

/**
 * Okabe & Ito's colour-blind-safe palette (Color Universal Design, 2008), black last: every
 * categorical colour of the figures comes from it, so they stay distinguishable under the
 * common colour-vision deficiencies.
 */
export const OKABE_ITO: readonly string[] = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

/** d3-format tick formats: Dice in % with one decimal, learning rates and weight decays in scientific notation. */
export const TICK_FORMATS = { dice: '.1f', rate: '.0e', integer: 'd', loss: '.2f' } as const;

export const CONFIG = {
  font: 'sans-serif',
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 10, titleFontSize: 11, grid: true, gridColor: '#eee' },
  legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 220 },
  title: { fontSize: 12, anchor: 'start' },
  point: { filled: true, size: 36, opacity: 0.85 },
  range: { category: [...OKABE_ITO] },
};

export const baseCells = (b: Bench): CellData[] => b.cells.filter((c) => c.key.ablation === null && c.inGrid);

export const methodLabel = (b: Bench, c: CellData): string =>
  `${modelLabel(c.key.model, b.grid.labels.models)} ${learnerLabel(c.key.learner, b.grid.labels.learners)}`;

export const r3 = (x: number): number => Number(x.toPrecision(6));

/** "R² = 0.123" or "R² n/a". */
export const formatR2 = (r2: number): string => (Number.isFinite(r2) ? `R² = ${r2.toFixed(3)}` : 'R² n/a');

export function datasetDomain(b: Bench, ids: readonly string[]): string[] {
  const all = orderBy([...new Set([...b.grid.datasets, ...ids])], DATASET_ORDER);
  return all.filter((d) => ids.includes(d)).map((d) => datasetLabel(d, b.grid.labels.datasets));
}
