/**
 * Fig. 4 (`fig4-tsne`): t-SNE of the CLIP text and image embeddings of every dataset of a bench
 * (`embeddings/<dataset>.json`), coloured by dataset: the domain shift between them.
 */
import type { Bench, EmbeddingGroup, EmbeddingSet } from './load.js';
import { datasetLabel } from './paper.js';
import { SeededRandom } from './stats.js';
import { tsne } from './tsne.js';
import { CONFIG, type Figure, type FigureOptions, type OmittedFigure, PANEL_W, SCHEMA, datasetDomain, r3 } from './figure-style.js';

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
  const groups = sets
    .map((s) => ({ s, g: s[modality] }))
    .filter((x): x is { s: EmbeddingSet; g: EmbeddingGroup } => x.g !== null && x.g.vectors.length > 0);
  if (!groups.length) return null;
  const dimCount = new Map<number, number>();
  for (const { g } of groups) dimCount.set(g.dim, (dimCount.get(g.dim) ?? 0) + g.vectors.length);
  const dim = [...dimCount.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
  const skipped = groups.filter((x) => x.g.dim !== dim).map((x) => x.s.dataset);
  const all: Sample[] = [];
  for (const { s, g } of groups) {
    if (g.dim !== dim) continue;
    g.vectors.forEach((v, i) =>
      all.push({ dataset: s.dataset, label: g.labels[i]!, vector: o.normalizeEmbeddings === false ? v : normalise(v) }),
    );
  }
  const seed = o.tsneSeed ?? 0;
  const chosen = stratifiedSample(all, o.tsneMaxPoints ?? 1000, seed);
  const res = tsne(
    chosen.map((c) => c.vector),
    {
      seed,
      ...(o.tsnePerplexity !== undefined ? { perplexity: o.tsnePerplexity } : {}),
      ...(o.tsneIterations !== undefined ? { iterations: o.tsneIterations } : {}),
    },
  );
  return {
    modality,
    points: chosen.map((c, i) => ({ x: r3(res.embedding[2 * i]!), y: r3(res.embedding[2 * i + 1]!), dataset: c.dataset, label: c.label })),
    perplexity: res.perplexity,
    kl: res.kl,
    skipped,
    total: all.length,
  };
}

/** Share of the points whose nearest neighbour in the map belongs to the same dataset (1: separated clusters). */
export function neighbourAgreement(points: ReadonlyArray<{ x: number; y: number; dataset: string }>): number {
  if (points.length < 2) return Number.NaN;
  let same = 0;
  for (let i = 0; i < points.length; i++) {
    let best = Infinity;
    let ds = '';
    for (let j = 0; j < points.length; j++) {
      if (i === j) continue;
      const d = (points[i]!.x - points[j]!.x) ** 2 + (points[i]!.y - points[j]!.y) ** 2;
      if (d < best) [best, ds] = [d, points[j]!.dataset];
    }
    if (ds === points[i]!.dataset) same++;
  }
  return same / points.length;
}

/** Fewest vectors a t-SNE panel needs (below that the map is arbitrary). */
export const TSNE_MIN_POINTS = 5;

export const FIG4 = { id: 'fig4-tsne', title: 'Fig. 4: t-SNE of text and image embeddings' } as const;

/** Fig. 4: t-SNE of the text and image embeddings, coloured by dataset. */
export function tsneFigure(b: Bench, o: FigureOptions = {}): Figure | OmittedFigure {
  const omit = (reason: string): OmittedFigure => ({ ...FIG4, reason });
  if (!b.embeddings.length)
    return omit('no CLIP embeddings in this bench (embeddings/<dataset>.json; `tunevlseg bench --embeddings` writes them).');
  const datasets = new Set(b.embeddings.map((e) => e.dataset));
  if (datasets.size < 2) return omit(`embeddings of one dataset only (${[...datasets].join('')}): the figure compares datasets.`);
  const sizes = (['text', 'image'] as const).map((m) => b.embeddings.reduce((s, e) => s + (e[m]?.vectors.length ?? 0), 0));
  const modalities = (['text', 'image'] as const).filter((_, i) => sizes[i]! >= TSNE_MIN_POINTS);
  if (!modalities.length)
    return omit(`too few vectors for a t-SNE map (text ${sizes[0]}, image ${sizes[1]}; at least ${TSNE_MIN_POINTS} needed).`);
  const panels = modalities.map((m) => tsnePanel(b.embeddings, m, o)).filter((p): p is TsnePanel => p !== null);
  if (!panels.length) return omit('no usable embedding vectors.');
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
    caption: `t-SNE of the CLIP ${panels.map((p) => (p.modality === 'text' ? 'text (prompt)' : 'image')).join(' and ')} embeddings of each dataset (L2-normalised${notes.length ? `; ${notes.join('; ')}` : ''}${modalities.length < 2 ? `; ${sizes[0]! < TSNE_MIN_POINTS ? 'text' : 'image'} left out: fewer than ${TSNE_MIN_POINTS} vectors` : ''}); separated clusters show the domain shift between datasets.`,
    summary:
      `${domain.join(' vs ')}: ` +
      panels
        .map(
          (p) =>
            `${p.modality} embeddings, ${Math.round(neighbourAgreement(p.points) * 100)}% of ${p.points.length} points have a nearest neighbour from their own dataset`,
        )
        .join('; ') +
      '.',
    spec: { $schema: SCHEMA, config: CONFIG, hconcat: specs },
    expected: { points: panels.reduce((s, p) => s + p.points.length, 0), lines: 0 },
  };
}
