/**
 * Several classes out: `predict --prompts` and `eval --prompts`. The segmenter is binary (one
 * prompt, one probability map), so a multi-class prediction is one `predictFolder` pass per
 * class prompt, combined per pixel into a label map: the argmax over the classes where its
 * probability exceeds the background threshold, else background (0). The label map is an
 * indexed PNG whose palette and `legend.json` name each index. Evaluation scores each class's
 * region of the label map against the dataset's binary mask of that class (per-class Dice,
 * and their mean), the way clinicians read CAMUS's three structures at once.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeIndexedPng } from '../data/indexed-png.js';
import { readMaskGray } from '../data/image.js';
import { loadSplit, type Split } from '../data/format.js';
import { parseLabels } from '../data/import.js';
import { vocColour } from '../data/convert/pascal-voc-2012.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { predictFolder } from './predict.js';
import type { Precision } from './precision.js';

export interface LegendEntry {
  index: number;
  name: string;
  colour: [number, number, number];
}

export interface ClassPredictOptions {
  /** A folder of images. */
  input: string;
  /** One prompt per class, in label order (label i + 1). */
  classes: readonly string[];
  outDir: string;
  /** A pixel is background unless its best class's probability exceeds this. Default 0.5. */
  threshold?: number;
  batchSize?: number;
  imageSize?: number;
  workers?: number;
  /** Autocast of the forward ('32': none). Default '32'. */
  precision?: Precision;
  /** Progress over all class passes: (images done, images x classes). */
  onProgress?: (done: number, total: number) => void;
  /** Receives each label map (used by evaluation; the PNG is written either way). */
  onLabels?: (name: string, labels: Uint8Array, width: number, height: number) => Promise<void> | void;
}

export interface ClassPrediction {
  /** Image path relative to the input folder. */
  name: string;
  /** The label-map PNG (palette; index = class + 1, 0 = background). */
  labels: string;
  /** Per class, the 8-bit probability PNG of its pass. */
  probs: string[];
  width: number;
  height: number;
  /** Pixels per label (index 0 = background). */
  pixels: number[];
}

export interface ClassPredictResult {
  outDir: string;
  legend: LegendEntry[];
  files: ClassPrediction[];
}

/** The legend of a label map: background, then the classes with VOC's colour map. */
export function classLegend(classes: readonly string[]): LegendEntry[] {
  return [
    { index: 0, name: 'background', colour: [0, 0, 0] },
    ...classes.map((name, i) => ({ index: i + 1, name, colour: vocColour(i + 1) })),
  ];
}

/** Per pixel: 1 + argmax over the class maps (8-bit probabilities) where above threshold, else 0. */
export function labelMapFromProbs(probs: readonly Uint8Array[], threshold: number): Uint8Array {
  const n = probs[0]?.length ?? 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestK = -1;
    for (let k = 0; k < probs.length; k++) {
      const v = (probs[k] as Uint8Array)[i] as number;
      if (v > best) {
        best = v;
        bestK = k;
      }
    }
    out[i] = best / 255 > threshold ? bestK + 1 : 0;
  }
  return out;
}

const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '') || 'class';

/** Predicts every class on every image of a folder and writes the label maps; see the module comment. */
export async function predictClasses(segmenter: Segmenter, o: ClassPredictOptions): Promise<ClassPredictResult> {
  if (o.classes.length === 0) throw new Error('predictClasses: give at least one class prompt');
  if (o.classes.length > 255) throw new Error(`predictClasses: ${o.classes.length} classes; a label map holds at most 255`);
  const threshold = o.threshold ?? 0.5;
  const outDir = path.resolve(o.outDir);
  const passes: Map<string, { prob: string; width: number; height: number }>[] = [];
  let total = 0;
  for (const [k, prompt] of o.classes.entries()) {
    const res = await predictFolder(segmenter, {
      input: o.input,
      prompt,
      outDir: path.join(outDir, 'classes', `${k + 1}_${slug(prompt)}`),
      overlays: false,
      threshold,
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
      ...(o.imageSize !== undefined ? { imageSize: o.imageSize } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(o.precision !== undefined ? { precision: o.precision } : {}),
      onBatch: (done, n) => {
        total = n * o.classes.length;
        o.onProgress?.(k * n + done, total);
      },
    });
    passes.push(new Map(res.files.map((f) => [f.name, { prob: f.prob, width: f.width, height: f.height }])));
  }
  const legend = classLegend(o.classes);
  const palette = legend.map((l) => l.colour);
  const files: ClassPrediction[] = [];
  for (const name of (passes[0] as Map<string, unknown>).keys()) {
    const maps = await Promise.all(passes.map(async (p) => (await readMaskGray((p.get(name) as { prob: string }).prob)).gray));
    const { width, height } = (passes[0] as Map<string, { width: number; height: number }>).get(name) as { width: number; height: number };
    const labels = labelMapFromProbs(maps, threshold);
    const file = path.join(outDir, `${name.replace(/\.[^./]+$/, '')}_labels.png`);
    await writeIndexedPng(file, labels, width, height, palette, { Legend: legend.map((l) => `${l.index}=${l.name}`).join('; ') });
    const pixels = new Array<number>(legend.length).fill(0);
    for (const v of labels) pixels[v] = (pixels[v] as number) + 1;
    await o.onLabels?.(name, labels, width, height);
    files.push({ name, labels: file, probs: passes.map((p) => (p.get(name) as { prob: string }).prob), width, height, pixels });
  }
  await fs.writeFile(path.join(outDir, 'legend.json'), `${JSON.stringify({ threshold, legend }, null, 2)}\n`);
  return { outDir, legend, files };
}

export interface ClassEvalResult {
  split: Split;
  classes: { name: string; entries: number; dice: number }[];
  /** Mean over the classes that have entries. */
  meanDice: number;
  /** Entries whose p1 names none of the classes (left out of the scores). */
  unmatched: number;
  outDir: string;
}

/** Lower-case, trimmed, without a final full stop: how a class prompt is matched to an entry's p1. */
const norm = (s: string): string => s.trim().replace(/\.$/, '').trim().toLowerCase();

/**
 * Per-class Dice of a multi-class dataset split (one entry per image and class, as the
 * benchmark stores CAMUS): each image is predicted with every class prompt, and each entry's
 * mask is compared with its class's region of the label map. An entry's class is the class
 * prompt equal to its `p1` (first element when a list; case and a final full stop ignored).
 * Dice of an empty prediction against an empty mask is 1.
 */
export async function evaluateClasses(
  segmenter: Segmenter,
  dataDir: string,
  split: Split,
  o: Omit<ClassPredictOptions, 'input' | 'outDir' | 'onLabels'> & { outDir?: string },
): Promise<ClassEvalResult> {
  const samples = await loadSplit(dataDir, split, { promptKey: 'p1' });
  const index = new Map(o.classes.map((c, k) => [norm(c), k]));
  const images = new Map<string, string>();
  const byImage = new Map<string, { k: number; mask: string }[]>();
  let unmatched = 0;
  for (const s of samples) {
    const p1 = s.prompts.p1;
    const k = index.get(norm(typeof p1 === 'string' ? p1 : (p1?.[0] ?? '')));
    if (k === undefined) {
      unmatched++;
      continue;
    }
    let link = images.get(s.imagePath);
    if (link === undefined) images.set(s.imagePath, (link = `${images.size}${path.extname(s.imagePath)}`));
    let list = byImage.get(link);
    if (list === undefined) byImage.set(link, (list = []));
    list.push({ k, mask: s.maskPath });
  }
  if (images.size === 0) throw new Error(`evaluateClasses: no entry of ${split} has a p1 equal to one of: ${o.classes.join(', ')}`);
  // The split's images under short unique names (two splits' folders may share names).
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tvs-classes-'));
  const sums = o.classes.map(() => ({ entries: 0, dice: 0 }));
  try {
    const input = path.join(tmp, 'images');
    await fs.mkdir(input);
    // Hard links (copies across file systems): predictFolder lists regular files only.
    for (const [file, link] of images) await fs.link(file, path.join(input, link)).catch(() => fs.copyFile(file, path.join(input, link)));
    const res = await predictClasses(segmenter, {
      ...o,
      input,
      outDir: o.outDir ?? path.join(tmp, 'out'),
      onLabels: async (name, labels, width, height) => {
        for (const { k, mask } of byImage.get(name) ?? []) {
          const truth = await readMaskGray(mask);
          if (truth.width !== width || truth.height !== height) {
            throw new Error(`${mask}: mask is ${truth.width}x${truth.height} but its image is ${width}x${height}`);
          }
          let inter = 0;
          let pred = 0;
          let gt = 0;
          for (let i = 0; i < labels.length; i++) {
            const p = labels[i] === k + 1;
            const t = (truth.gray[i] as number) > 127;
            if (p) pred++;
            if (t) gt++;
            if (p && t) inter++;
          }
          const s = sums[k] as { entries: number; dice: number };
          s.entries++;
          s.dice += pred + gt === 0 ? 1 : (2 * inter) / (pred + gt);
        }
      },
    });
    const classes = o.classes.map((name, k) => {
      const s = sums[k] as { entries: number; dice: number };
      return { name, entries: s.entries, dice: s.entries > 0 ? s.dice / s.entries : Number.NaN };
    });
    const scored = classes.filter((c) => c.entries > 0);
    return {
      split,
      classes,
      meanDice: scored.reduce((a, c) => a + c.dice, 0) / scored.length,
      unmatched,
      outDir: o.outDir === undefined ? '' : res.outDir,
    };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Class prompts from a flag: "a,b,c"; `@labels.txt` (one class per line, or `<value> <name>`
 * lines as `data import --classes` reads them); or `@<dataset dir>`: the distinct p1 of its
 * train split, in order of first appearance (a converted dataset's class names).
 */
export async function parseClassList(flag: string): Promise<string[]> {
  if (flag.startsWith('@')) {
    const target = flag.slice(1);
    if ((await fs.stat(target).catch(() => null))?.isDirectory()) {
      const samples = await loadSplit(target, 'train', { promptKey: 'p1', checkFiles: false });
      const names = samples.map((s) => (typeof s.prompts.p1 === 'string' ? s.prompts.p1 : (s.prompts.p1?.[0] ?? '')));
      return [...new Set(names)];
    }
    return parseLabels(await fs.readFile(target, 'utf8'), target)
      .sort((a, b) => a.value - b.value)
      .map((l) => l.name);
  }
  const list = flag
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new Error(`--prompts: no class in ${JSON.stringify(flag)} (expected "a,b,c" or @labels.txt)`);
  return list;
}
