/**
 * Per-dataset galleries for the HTML report: the best and the worst test samples by
 * per-sample Dice of one cell's predictions, each as image / ground truth (green tint) /
 * prediction (the run's overlay PNG, or a red tint of its mask), inlined as small base64 PNGs.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import { decodeBmp, isBmp } from '../data/bmp.js';
import type { Bench, CellData, PredictionSample, RunData } from './load.js';
import { datasetLabel, learnerLabel, modelLabel } from './paper.js';

export interface GalleryItem {
  name: string;
  prompt: string | null;
  /** Per-sample Dice in [0, 1]. */
  dice: number;
  /** data:image/png;base64 URIs (null: not available). */
  image: string | null;
  groundTruth: string | null;
  prediction: string | null;
}

export interface Gallery {
  dataset: string;
  datasetLabel: string;
  cell: string;
  method: string;
  samples: number;
  best: GalleryItem[];
  worst: GalleryItem[];
  /** Problems met while making thumbnails (unreadable files). */
  notes: string[];
}

export interface GalleryOptions {
  /** Best and worst samples shown. Default 3 each. */
  k?: number;
  /** Thumbnail width in pixels. Default 160. */
  thumbWidth?: number;
}

type Rgb = { data: Buffer; width: number; height: number };

async function sharpOf(file: string): Promise<Sharp> {
  const buf = await readFile(file);
  if (isBmp(buf)) {
    const img = decodeBmp(buf);
    return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: img.channels } });
  }
  return sharp(buf);
}

async function rgbAt(file: string, w: number, h: number): Promise<Rgb> {
  const s = await sharpOf(file);
  const { data, info } = await s.removeAlpha().resize(w, h, { fit: 'fill' }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

async function grayAt(file: string, w: number, h: number): Promise<Buffer> {
  const s = await sharpOf(file);
  return s.removeAlpha().resize(w, h, { fit: 'fill', kernel: 'nearest' }).toColourspace('b-w').raw().toBuffer();
}

async function thumbSize(file: string, width: number): Promise<{ w: number; h: number }> {
  const m = await (await sharpOf(file)).metadata();
  const W = m.width ?? width;
  const H = m.height ?? width;
  const w = Math.min(width, W);
  return { w, h: Math.max(1, Math.round((H * w) / W)) };
}

async function pngUri(data: Buffer, w: number, h: number, channels: 1 | 3): Promise<string> {
  const png = await sharp(data, { raw: { width: w, height: h, channels } }).png({ compressionLevel: 9, palette: channels === 3 }).toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

function tint(rgb: Rgb, mask: Buffer, colour: readonly [number, number, number], alpha = 0.45): Buffer {
  const out = Buffer.from(rgb.data);
  for (let i = 0, j = 0; i < mask.length; i++, j += 3) {
    if (mask[i]! > 127) {
      out[j] = Math.round(out[j]! * (1 - alpha) + colour[0] * alpha);
      out[j + 1] = Math.round(out[j + 1]! * (1 - alpha) + colour[1] * alpha);
      out[j + 2] = Math.round(out[j + 2]! * (1 - alpha) + colour[2] * alpha);
    }
  }
  return out;
}

async function fileThumb(file: string, width: number): Promise<string> {
  const { w, h } = await thumbSize(file, width);
  const rgb = await rgbAt(file, w, h);
  return pngUri(rgb.data, w, h, 3);
}

async function item(s: PredictionSample, width: number, notes: string[]): Promise<GalleryItem> {
  const out: GalleryItem = { name: s.name, prompt: s.prompt, dice: s.dice!, image: null, groundTruth: null, prediction: null };
  const tryDo = async (what: string, f: () => Promise<void>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      notes.push(`${s.name}: ${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  let base: Rgb | null = null;
  let size: { w: number; h: number } | null = null;
  if (s.image) {
    await tryDo(`image ${s.image}`, async () => {
      size = await thumbSize(s.image!, width);
      base = await rgbAt(s.image!, size.w, size.h);
      out.image = await pngUri(base.data, size.w, size.h, 3);
    });
  }
  if (s.groundTruth) {
    await tryDo(`ground truth ${s.groundTruth}`, async () => {
      if (base && size) out.groundTruth = await pngUri(tint(base, await grayAt(s.groundTruth!, size.w, size.h), [0, 200, 0]), size.w, size.h, 3);
      else {
        const t = await thumbSize(s.groundTruth!, width);
        out.groundTruth = await pngUri(await grayAt(s.groundTruth!, t.w, t.h), t.w, t.h, 1);
      }
    });
  }
  if (s.overlay) {
    await tryDo(`overlay ${s.overlay}`, async () => {
      out.prediction = await fileThumb(s.overlay!, width);
    });
  }
  if (!out.prediction && s.mask) {
    await tryDo(`mask ${s.mask}`, async () => {
      if (base && size) out.prediction = await pngUri(tint(base, await grayAt(s.mask!, size.w, size.h), [255, 0, 0]), size.w, size.h, 3);
      else {
        const t = await thumbSize(s.mask!, width);
        out.prediction = await pngUri(await grayAt(s.mask!, t.w, t.h), t.w, t.h, 1);
      }
    });
  }
  return out;
}

/** The cell and run whose predictions a dataset's gallery shows: the best-scoring cell with scored predictions. */
export function galleryRun(b: Bench, dataset: string): { cell: CellData; run: RunData } | null {
  const cells = b.cells
    .filter((c) => c.key.dataset === dataset && c.key.ablation === null && c.status === 'ok')
    .sort((x, y) => y.test!.mean - x.test!.mean);
  for (const cell of cells) {
    const run = cell.runs.find((r) => r.predictions && r.predictions.samples.some((s) => s.dice !== null));
    if (run) return { cell, run };
  }
  return null;
}

/** A dataset's gallery, or null when no cell of it has scored predictions. */
export async function buildGallery(b: Bench, dataset: string, o: GalleryOptions = {}): Promise<Gallery | null> {
  const k = o.k ?? 3;
  const width = o.thumbWidth ?? 160;
  const chosen = galleryRun(b, dataset);
  if (!chosen) return null;
  const scored = chosen.run.predictions!.samples.filter((s) => s.dice !== null);
  const byDice = [...scored].sort((x, y) => y.dice! - x.dice! || (x.name < y.name ? -1 : 1));
  const nBest = Math.min(k, Math.ceil(byDice.length / 2));
  const best = byDice.slice(0, nBest);
  const worst = byDice.slice(nBest).reverse().slice(0, k);
  const notes: string[] = [];
  const L = b.grid.labels;
  const g: Gallery = {
    dataset,
    datasetLabel: datasetLabel(dataset, L.datasets),
    cell: chosen.cell.id,
    method: `${modelLabel(chosen.cell.key.model, L.models)} ${learnerLabel(chosen.cell.key.learner, L.learners)}`,
    samples: scored.length,
    best: [],
    worst: [],
    notes,
  };
  for (const s of best) g.best.push(await item(s, width, notes));
  for (const s of worst) g.worst.push(await item(s, width, notes));
  return g;
}
