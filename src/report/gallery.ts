/**
 * Per-dataset galleries for the HTML report: what a segmentation result looks like.
 *
 * Rows are test images, chosen by their mean Dice over the tuned methods (the best, the median
 * and the worst `k` each); columns are the ground truth, the frozen base model's zero-shot
 * prediction (`zero-shot/<model>__<dataset>/`, when the bench has one) and each method's
 * prediction, each with its Dice. A prediction is drawn as its mask tinted on the image with the
 * ground truth's outline over it, in colour-blind-safe colours (Okabe-Ito orange and blue), so
 * one thumbnail shows both what was found and what was missed. Thumbnails are inlined (PNG or
 * JPEG, whichever is smaller) at twice their display width, so the CSS-only zoom stays sharp.
 */
import sharp, { type Sharp } from 'sharp';
import { openImage } from '../data/image.js';
import type { Bench, PredictionSample } from './load.js';
import { datasetLabel, learnerLabel, modelLabel } from './paper.js';

/** Okabe-Ito colours: the ground truth (blue) and the prediction (orange). */
export const GT_COLOUR: readonly [number, number, number] = [0, 114, 178];
export const PRED_COLOUR: readonly [number, number, number] = [230, 159, 0];

export type GalleryRank = 'best' | 'median' | 'worst';

export interface GalleryColumn {
  /** `zero-shot/<model>` or the cell id. */
  id: string;
  label: string;
  kind: 'zero-shot' | 'method';
}

export interface GalleryTile {
  /** Per-sample Dice in [0, 1] (null: not scored). */
  dice: number | null;
  /** data: URI (null: this column has no prediction of the image). */
  uri: string | null;
}

export interface GalleryRow {
  rank: GalleryRank;
  name: string;
  prompt: string | null;
  /** Mean Dice over the methods that predicted the image. */
  meanDice: number;
  /** The image with the ground truth tinted (null: unavailable). */
  groundTruth: string | null;
  /** One per column. */
  tiles: GalleryTile[];
}

export interface Gallery {
  dataset: string;
  datasetLabel: string;
  columns: GalleryColumn[];
  rows: GalleryRow[];
  /** Test images scored by at least one method. */
  samples: number;
  /** Problems met while making thumbnails (unreadable files). */
  notes: string[];
}

export interface GalleryOptions {
  /** Images per group (best, median, worst). Default 1: three rows. */
  k?: number;
  /** Thumbnail display width in pixels (stored at up to twice that for the zoom). Default 160. */
  thumbWidth?: number;
}

type Rgb = { data: Buffer; width: number; height: number };
type Source = { column: GalleryColumn; samples: Map<string, PredictionSample> };

/** The file as every command reads it (BMP decoded, TIFF header mended: src/data/image.ts). */
async function sharpOf(file: string): Promise<Sharp> {
  return (await openImage(file)).image;
}

async function rgbAt(file: string, w: number, h: number): Promise<Rgb> {
  const s = await sharpOf(file);
  const { data, info } = await s
    .removeAlpha()
    .resize(w, h, { fit: 'fill' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

async function grayAt(file: string, w: number, h: number): Promise<Buffer> {
  const s = await sharpOf(file);
  return s.removeAlpha().resize(w, h, { fit: 'fill', kernel: 'nearest' }).toColourspace('b-w').raw().toBuffer();
}

async function sizeFor(file: string, width: number): Promise<{ w: number; h: number }> {
  const m = await (await sharpOf(file)).metadata();
  const W = m.width ?? width;
  const H = m.height ?? width;
  const w = Math.min(width, W);
  return { w, h: Math.max(1, Math.round((H * w) / W)) };
}

/** The smaller of a palette PNG and a JPEG (q 82) of raw pixels, as a data: URI. */
export async function thumbUri(data: Buffer, w: number, h: number, channels: 1 | 3): Promise<string> {
  const raw = { raw: { width: w, height: h, channels } } as const;
  const png = await sharp(data, raw)
    .png({ compressionLevel: 9, palette: channels === 3 })
    .toBuffer();
  const jpg = await sharp(data, raw).jpeg({ quality: 82, mozjpeg: true }).toBuffer();
  return jpg.length < png.length * 0.8
    ? `data:image/jpeg;base64,${jpg.toString('base64')}`
    : `data:image/png;base64,${png.toString('base64')}`;
}

function tint(rgb: Buffer, mask: Buffer, colour: readonly [number, number, number], alpha = 0.5): Buffer {
  const out = Buffer.from(rgb);
  for (let i = 0, j = 0; i < mask.length; i++, j += 3) {
    if (mask[i]! > 127) for (let c = 0; c < 3; c++) out[j + c] = Math.round(out[j + c]! * (1 - alpha) + colour[c]! * alpha);
  }
  return out;
}

/** Paints the outline of a mask (foreground pixels with a background 4-neighbour) in `colour`. */
function outline(rgb: Buffer, mask: Buffer, w: number, h: number, colour: readonly [number, number, number]): Buffer {
  const out = Buffer.from(rgb);
  const on = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < w && y < h && mask[y * w + x]! > 127;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!on(x, y) || (on(x - 1, y) && on(x + 1, y) && on(x, y - 1) && on(x, y + 1))) continue;
      const j = (y * w + x) * 3;
      out[j] = colour[0];
      out[j + 1] = colour[1];
      out[j + 2] = colour[2];
    }
  }
  return out;
}

/** Rows: the best, median and worst `k` names by mean Dice (each name once). */
export function pickRows(
  scores: ReadonlyArray<{ name: string; meanDice: number }>,
  k: number,
): Array<{ name: string; meanDice: number; rank: GalleryRank }> {
  const sorted = [...scores].sort((a, b) => b.meanDice - a.meanDice || (a.name < b.name ? -1 : 1));
  const n = sorted.length;
  const mid = Math.max(0, Math.min(n - k, Math.floor((n - k) / 2)));
  const picks: Array<[number, GalleryRank]> = [];
  for (let i = 0; i < Math.min(k, n); i++) picks.push([i, 'best']);
  for (let i = mid; i < Math.min(mid + k, n); i++) picks.push([i, 'median']);
  for (let i = Math.max(0, n - k); i < n; i++) picks.push([i, 'worst']);
  const seen = new Set<number>();
  return picks.filter(([i]) => (seen.has(i) ? false : (seen.add(i), true))).map(([i, rank]) => ({ ...sorted[i]!, rank }));
}

/** Where a dataset's predictions come from: its zero-shot runs, then the finished main-grid cells, in grid order. */
export function gallerySources(b: Bench, dataset: string): Source[] {
  const displayNames = b.grid.labels;
  const out: Source[] = [];
  const scored = (ss: readonly PredictionSample[] | undefined): Map<string, PredictionSample> =>
    new Map((ss ?? []).filter((s) => s.dice !== null).map((s) => [s.name, s]));
  for (const z of b.zeroShot.filter((x) => x.dataset === dataset)) {
    const samples = scored(z.run.predictions?.samples);
    if (samples.size)
      out.push({
        column: { id: `zero-shot/${z.model}`, label: `Zero-shot ${modelLabel(z.model, displayNames.models)}`, kind: 'zero-shot' },
        samples,
      });
  }
  for (const c of b.cells.filter((x) => x.key.dataset === dataset && x.key.ablation === null && x.inGrid && x.status === 'ok')) {
    const run = c.runs.find((r) => r.predictions && r.predictions.samples.some((s) => s.dice !== null));
    if (!run) continue;
    const label =
      b.grid.models.length > 1
        ? `${modelLabel(c.key.model, displayNames.models)} ${learnerLabel(c.key.learner, displayNames.learners)}`
        : learnerLabel(c.key.learner, displayNames.learners);
    out.push({ column: { id: c.id, label, kind: 'method' }, samples: scored(run.predictions!.samples) });
  }
  return out;
}

async function tileUri(s: PredictionSample, base: Rgb | null, gt: Buffer | null, width: number): Promise<string | null> {
  if (s.mask && base) {
    const m = await grayAt(s.mask, base.width, base.height);
    const px = tint(base.data, m, PRED_COLOUR);
    return thumbUri(gt ? outline(px, gt, base.width, base.height, GT_COLOUR) : px, base.width, base.height, 3);
  }
  const file = s.overlay ?? s.mask;
  if (!file) return null;
  const { w, h } = await sizeFor(file, width);
  return thumbUri((await rgbAt(file, w, h)).data, w, h, 3);
}

/** A dataset's gallery, or null when no method of it has scored predictions. */
export async function buildGallery(b: Bench, dataset: string, o: GalleryOptions = {}): Promise<Gallery | null> {
  const k = o.k ?? 1;
  const stored = 2 * (o.thumbWidth ?? 160);
  const sources = gallerySources(b, dataset);
  const methods = sources.filter((s) => s.column.kind === 'method');
  if (!methods.length) return null;
  const names = [...new Set(methods.flatMap((m) => [...m.samples.keys()]))];
  const scores = names.map((name) => {
    const ds = methods.flatMap((m) => (m.samples.has(name) ? [m.samples.get(name)!.dice!] : []));
    return { name, meanDice: ds.reduce((a, x) => a + x, 0) / ds.length };
  });
  const notes: string[] = [];
  const attempt = async <T>(what: string, f: () => Promise<T>): Promise<T | null> => {
    try {
      return await f();
    } catch (e) {
      notes.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  };
  const rows: GalleryRow[] = [];
  for (const pick of pickRows(scores, k)) {
    const all = sources.flatMap((s) => (s.samples.has(pick.name) ? [s.samples.get(pick.name)!] : []));
    const imageFile = all.find((s) => s.image)?.image ?? null;
    const gtFile = all.find((s) => s.groundTruth)?.groundTruth ?? null;
    let base: Rgb | null = null;
    if (imageFile) {
      base = await attempt(`${pick.name}: image ${imageFile}`, async () => {
        const { w, h } = await sizeFor(imageFile, stored);
        return rgbAt(imageFile, w, h);
      });
    }
    let gt: Buffer | null = null;
    let groundTruth: string | null = null;
    if (gtFile) {
      await attempt(`${pick.name}: ground truth ${gtFile}`, async () => {
        const { w, h } = base ? { w: base.width, h: base.height } : await sizeFor(gtFile, stored);
        gt = await grayAt(gtFile, w, h);
        groundTruth = base ? await thumbUri(tint(base.data, gt, GT_COLOUR), w, h, 3) : await thumbUri(gt, w, h, 1);
      });
    }
    const tiles: GalleryTile[] = [];
    for (const src of sources) {
      const s = src.samples.get(pick.name);
      if (!s) {
        tiles.push({ dice: null, uri: null });
        continue;
      }
      const uri = await attempt(`${pick.name}: ${src.column.label}`, () => tileUri(s, base, gt, stored));
      tiles.push({ dice: s.dice, uri });
    }
    rows.push({
      rank: pick.rank,
      name: pick.name,
      prompt: all.find((s) => s.prompt)?.prompt ?? null,
      meanDice: pick.meanDice,
      groundTruth,
      tiles,
    });
  }
  return {
    dataset,
    datasetLabel: datasetLabel(dataset, b.grid.labels.datasets),
    columns: sources.map((s) => s.column),
    rows,
    samples: names.length,
    notes,
  };
}
