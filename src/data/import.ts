/**
 * `data import`: a dataset in the benchmark layout from any folder of images and a folder of
 * masks, matched by file stem (a mask may add `_mask`, `_gt`, `_segmentation`, `-mask` to it).
 *
 * Masks accepted: 0/1, 0/255 and other grayscale (foreground where gray > 127, or where the
 * value is 1 in 0/1 masks), RGB (gray > 127), and palette PNGs (foreground where the palette
 * index is not 0). With a labels file, each mask is a label map: every listed label present
 * in it becomes one entry, `<class>/<stem>.png`; palette PNGs are read by index.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { type BuildResult, buildDataset } from './convert/build.js';
import { binarizeGray, hasForeground, labelMask, readPixels, type RawPixels } from './convert/masks.js';
import { listFiles, pairByStem, stem } from './convert/scan.js';
import type { BinaryMask, MaskOut, RawSample } from './convert/types.js';
import { DatasetError } from './format.js';
import { pngPalette } from './indexed-png.js';

export interface ImportOptions {
  images: string;
  masks: string;
  /** The class of binary masks (the prompt). Exactly one of className and classesFile. */
  className?: string;
  /** A labels file: one `<value> <name>` per line (or just `<name>`, value = line number from 0). */
  classesFile?: string;
  out: string;
  /** Split ratios train,val,test. Default 0.8, 0.1, 0.1. */
  split?: readonly [number, number, number];
  seed?: number;
  /** Prompts p0..p6 from the masks and images (else p0 "" and p1 the class). */
  attributes?: boolean;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

const MASK_SUFFIX = /[_-](mask|gt|segmentation|label|labels)$/i;

/** Parses a labels file; names `background`, `_background_` and `-` mark values that are not classes. */
export function parseLabels(text: string, file: string): { value: number; name: string }[] {
  const out: { value: number; name: string }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const m = /^(\d+)\s*[:=,\s]\s*(.+)$/.exec(line);
    const value = m !== null ? Number(m[1]) : i;
    const name = (m !== null ? (m[2] as string) : line).trim();
    if (value > 255) throw new DatasetError(`${file}: line ${i + 1}: label value ${value} is above 255 (8-bit label maps)`);
    if (/^(_?background_?|-)$/i.test(name)) return;
    if (out.some((o) => o.value === value)) throw new DatasetError(`${file}: line ${i + 1}: label value ${value} is listed twice`);
    out.push({ value, name });
  });
  if (out.length === 0) throw new DatasetError(`${file}: no labels (expected lines such as "1 polyp" or one class name per line)`);
  return out;
}

/** A mask file as one-channel values: palette indices for palette PNGs, else the decoded pixels. */
async function readLabelValues(file: string): Promise<RawPixels & { palette: boolean }> {
  const p = await readPixels(file);
  const palette = pngPalette(await fs.readFile(file));
  if (palette.length === 0 || p.channels < 3) return { ...p, palette: false };
  const index = new Map<number, number>();
  palette.forEach(([r, g, b], i) => {
    const k = (r << 16) | (g << 8) | b;
    if (!index.has(k)) index.set(k, i);
  });
  const n = p.width * p.height;
  const data = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += p.channels) {
    data[i] = index.get(((p.data[j] as number) << 16) | ((p.data[j + 1] as number) << 8) | (p.data[j + 2] as number)) ?? 0;
  }
  return { data, width: p.width, height: p.height, channels: 1, format: p.format, palette: true };
}

function binaryOf(v: RawPixels & { palette: boolean }): { mask: BinaryMask; exact: boolean } {
  if (!v.palette) return binarizeGray(v);
  const data = new Uint8Array(v.width * v.height);
  for (let i = 0; i < data.length; i++) data[i] = v.data[i] !== 0 ? 255 : 0;
  return { mask: { data, width: v.width, height: v.height }, exact: false };
}

/** Builds a dataset folder from an image folder and a mask folder; see the module comment. */
export async function importDataset(opts: ImportOptions): Promise<BuildResult> {
  if ((opts.className === undefined) === (opts.classesFile === undefined)) {
    throw new Error('give exactly one of --class <name> (binary masks) and --classes <labels.txt> (label maps)');
  }
  const labels = opts.classesFile === undefined ? null : parseLabels(await fs.readFile(opts.classesFile, 'utf8'), opts.classesFile);
  const split = opts.split ?? [0.8, 0.1, 0.1];
  if (split.length !== 3 || split.some((x) => !(x >= 0)) || split[0] + split[1] + split[2] <= 0) {
    throw new Error(`--split expects three non-negative ratios train,val,test, got ${split.join(',')}`);
  }
  const images = await listFiles(path.resolve(opts.images)).catch(() => Promise.reject(new Error(`--images ${opts.images}: folder not found`)));
  const masks = await listFiles(path.resolve(opts.masks)).catch(() => Promise.reject(new Error(`--masks ${opts.masks}: folder not found`)));
  if (images.length === 0) throw new Error(`--images ${opts.images}: no image files (expected .jpg, .png, .tif, .bmp, .webp or .gif)`);
  const root = path.dirname(path.resolve(opts.images));
  const paired = pairByStem(images, masks, (m) => stem(m).replace(MASK_SUFFIX, ''), root);
  const samples: RawSample[] = paired.pairs.map(({ image, masks: [maskFile] }) => {
    const m = maskFile as string;
    const s = stem(image);
    return {
      id: path.relative(root, image),
      imageName: path.basename(image),
      image: { kind: 'copy', file: image },
      masks: async (): Promise<MaskOut[]> => {
        const values = await readLabelValues(m);
        if (labels === null) {
          const { mask, exact } = binaryOf(values);
          const copy = exact && values.format === 'png';
          return [{ maskName: `${s}.png`, className: opts.className as string, mask, ...(copy ? { copyFrom: m } : {}) }];
        }
        const out: MaskOut[] = [];
        for (const l of labels) {
          const mask = labelMask(values, l.value);
          if (hasForeground(mask)) out.push({ maskName: `${l.name}/${s}.png`, className: l.name, mask });
        }
        return out;
      },
    };
  });
  if (samples.length === 0) throw new Error(`no image in ${opts.images} has a mask in ${opts.masks} with the same stem`);
  return buildDataset(samples, paired.skipped, {
    dataset: 'import',
    out: opts.out,
    sizes: { train: split[0], val: split[1], test: split[2] },
    seed: opts.seed ?? 0,
    attributes: opts.attributes ?? false,
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
  });
}
