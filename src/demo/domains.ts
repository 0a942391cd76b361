/**
 * The demo's two domains, written in the benchmark's dataset format (docs/data.md) by the
 * synthetic generators of src/data/synthetic.ts, plus the two model-free baselines the demo
 * reports.
 *
 * - **natural** (source, pretraining): 64x64 RGB, textured backgrounds, 2-3 rotated circles /
 *   squares / triangles in red / green / blue / yellow; every object shares its colour or its
 *   shape with another one, so a model must read both words of "<colour> <shape>". One entry
 *   (mask) per object.
 * - **ultrasound** (target, prompt tuning): 64x64 gray, fan-shaped field of view, tissue
 *   layers, depth attenuation, Rayleigh speckle; one dark irregular lesion with a bright rim and
 *   an acoustic shadow; half the images carry a dark vessel-like tube as a distractor. Prompt
 *   "tumor": a word the base model never saw in pretraining.
 *
 * Baselines (no model involved):
 * - `textBlindDice` (source): predict, for every prompt, the union of all objects of the image
 *   (what a perfect object segmenter that ignores the text would output).
 * - `fieldOfViewDice` (target): predict the whole field of view, i.e. the non-black part of the
 *   image (closed with a 3x3 structuring element so speckle zeros inside the fan count).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { generateSyntheticDataset, type SyntheticSummary } from '../data/synthetic.js';
import { loadSplit, type Split } from '../data/format.js';
import type { AnnotationEntry } from '../data/format.js';

export type DemoDomain = 'natural' | 'ultrasound';
export const DEMO_DOMAINS: readonly DemoDomain[] = ['natural', 'ultrasound'];

export interface DomainSpec {
  /** The synthetic generator that renders it. */
  kind: 'shapes' | 'ultrasound';
  /** Images per split (the natural domain has 2-3 entries per image). */
  counts: Record<Split, number>;
  /** Generator seed. */
  seed: number;
  /** Evaluation prompt key. */
  promptKey: string;
  description: string;
}

/** The demo's domains at full size (the recipe's counts; val added for the trainer). */
export const DOMAIN_SPECS: Readonly<Record<DemoDomain, DomainSpec>> = Object.freeze({
  natural: {
    kind: 'shapes',
    counts: { train: 8000, val: 200, test: 400 },
    seed: 11,
    promptKey: 'p1',
    description: 'coloured shapes on textured backgrounds, prompt "<colour> <shape>"',
  },
  ultrasound: {
    kind: 'ultrasound',
    counts: { train: 300, val: 50, test: 200 },
    seed: 23,
    promptKey: 'p1',
    description: 'synthetic ultrasound, one dark lesion with a bright rim, prompt "tumor"',
  },
});

export interface GenerateDomainOptions {
  /** Images per split (default: the domain's full counts). */
  counts?: Partial<Record<Split, number>>;
  /** Generator seed (default: the domain's). */
  seed?: number;
}

export function isDemoDomain(s: string): s is DemoDomain {
  return (DEMO_DOMAINS as readonly string[]).includes(s);
}

/** Writes a demo domain into `dir` (images/, masks/, anns/{train,val,test}.json). Deterministic. */
export async function generateDomain(domain: DemoDomain, dir: string, o: GenerateDomainOptions = {}): Promise<SyntheticSummary> {
  const spec = DOMAIN_SPECS[domain];
  return generateSyntheticDataset(spec.kind, dir, {
    size: 64,
    counts: { ...spec.counts, ...o.counts },
    seed: o.seed ?? spec.seed,
  });
}

/** Reads an 8-bit gray image (or the luma of a colour one) as raw pixels. */
async function readGray(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(file).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height), width: info.width, height: info.height };
}

function dice(pred: Uint8Array, truth: Uint8Array): number {
  let inter = 0,
    p = 0,
    t = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i]!,
      b = truth[i]!;
    p += a;
    t += b;
    inter += a & b;
  }
  return p + t === 0 ? 1 : (2 * inter) / (p + t);
}

/** 3x3 morphological closing of a 0/1 image (dilate, then erode; borders count as outside). */
export function close3x3(m: Uint8Array, w: number, h: number): Uint8Array {
  const pass = (src: Uint8Array, dilate: boolean): Uint8Array => {
    const out = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let any = 0,
          all = 1;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy,
              xx = x + dx;
            const v = yy >= 0 && yy < h && xx >= 0 && xx < w ? src[yy * w + xx]! : 0;
            any |= v;
            all &= v;
          }
        }
        out[y * w + x] = dilate ? any : all;
      }
    }
    return out;
  };
  return pass(pass(m, true), false);
}

/** The field of view of an ultrasound image: its non-black pixels, closed 3x3. */
export function fieldOfView(gray: Uint8Array, w: number, h: number): Uint8Array {
  return close3x3(
    Uint8Array.from(gray, (v) => (v > 0 ? 1 : 0)),
    w,
    h,
  );
}

export interface BaselineResult {
  samples: number;
  dice: number;
}

const binary = (g: Uint8Array): Uint8Array => Uint8Array.from(g, (v) => (v >= 128 ? 1 : 0));

/** Mean Dice of "the whole field of view" on a split of an ultrasound-style dataset. */
export async function fieldOfViewDice(dir: string, split: Split): Promise<BaselineResult> {
  const samples = await loadSplit(dir, split, { promptKey: 'p1' });
  let sum = 0;
  for (const s of samples) {
    const img = await readGray(s.imagePath);
    const mask = await readGray(s.maskPath);
    sum += dice(fieldOfView(img.data, img.width, img.height), binary(mask.data));
  }
  return { samples: samples.length, dice: samples.length ? sum / samples.length : Number.NaN };
}

/** Mean Dice of "every object of the image, whatever the prompt" on a split of a multi-object dataset. */
export async function textBlindDice(dir: string, split: Split): Promise<BaselineResult> {
  const samples = await loadSplit(dir, split, { promptKey: 'p1' });
  const masks = new Map<string, Uint8Array>();
  const union = new Map<string, Uint8Array>();
  for (const s of samples) {
    const m = binary((await readGray(s.maskPath)).data);
    masks.set(s.maskPath, m);
    const u = union.get(s.imagePath);
    if (!u) union.set(s.imagePath, m.slice());
    else for (let i = 0; i < u.length; i++) u[i] = u[i]! | m[i]!;
  }
  let sum = 0;
  for (const s of samples) sum += dice(union.get(s.imagePath)!, masks.get(s.maskPath)!);
  return { samples: samples.length, dice: samples.length ? sum / samples.length : Number.NaN };
}

/** The entries of a split as written (for tests and summaries). */
export async function readEntries(dir: string, split: Split): Promise<AnnotationEntry[]> {
  return JSON.parse(await fs.readFile(path.join(dir, 'anns', `${split}.json`), 'utf8')) as AnnotationEntry[];
}
