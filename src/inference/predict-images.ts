/**
 * `predictImages`: what `tunevlseg predict` does, as a library function beside `train()`. Images
 * (one folder, or files read where they are) segmented with a prompt, or with several class
 * prompts into label maps, by a base model zero-shot or a tuned checkpoint; the outputs at each
 * image's original size (predict.ts, multiclass.ts). The exported-ONNX road is src/export.
 */
import { resolve } from 'node:path';
import { buildSegmenter } from '../tuning/factory.js';
import { loadTuned } from '../tuning/checkpoint.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { assertNoOverwrite } from '../util/output-guard.js';
import { moduleDevice } from './forward.js';
import { parseClassList, predictClasses } from './multiclass.js';
import { predictFolder, type PredictProgress } from './predict.js';
import { imageInputs } from './prediction-inputs.js';
import { applyTf32For, type Precision } from './precision.js';
import type { TF32_MODES } from './precision-modes.js';

export interface PredictImagesOptions {
  /** The model config (`--model`): a base model and/or model config keys. */
  model: Record<string, unknown>;
  /** A tuned checkpoint file; `model` then overrides where its base model is. */
  tuned?: string | undefined;
  prompt?: string | undefined;
  /** Several classes: "a,b,c", @labels.txt or @<dataset dir>. */
  prompts?: string | undefined;
  out: string;
  tokenizer?: string | undefined;
  imageSize?: number | undefined;
  batchSize?: number | undefined;
  threshold?: number | undefined;
  overlays: boolean;
  device?: string | undefined;
  /** Build the architecture with random weights (smoke tests). */
  randomWeights?: boolean | undefined;
  precision: Precision;
  tf32: (typeof TF32_MODES)[number];
  /** Progress in images written, with their rate (per class pass and image with `prompts`). */
  onProgress?: (done: number, total: number, perSecond?: number) => void;
}

export interface PredictImagesResult {
  outDir: string;
  /** Images predicted. */
  images: number;
  /** Label maps of several classes (`prompts`) rather than one mask per image. */
  classes: boolean;
}

/** The segmenter asked for: a tuned checkpoint's, or a base model zero-shot. */
async function segmenterOf(o: PredictImagesOptions): Promise<Segmenter> {
  if (o.tuned) {
    const { model: base, ...overrides } = o.model;
    return (await loadTuned(o.tuned, base as string | undefined, { ...overrides, ...(o.device ? { device: o.device } : {}) })).segmenter;
  }
  return buildSegmenter({
    learner: 'none',
    ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
    ...(o.imageSize ? { imageSize: o.imageSize } : {}),
    ...(o.device ? { device: o.device } : {}),
    ...(o.randomWeights ? { randomWeights: true } : {}),
    ...o.model,
  });
}

/** Segments `inputs` (see the file's header); outputs are checked before the model is built. */
export async function predictImages(inputs: readonly string[], o: PredictImagesOptions): Promise<PredictImagesResult> {
  if (!o.prompt && !o.prompts)
    throw new Error('predict: --prompt is required (e.g. --prompt "polyp"), or --prompts "a,b,c" for several classes');
  if (o.model.model === undefined && !o.tuned)
    throw new Error('predict: give --model <preset|folder|hub id> (zero-shot) or --tuned <checkpoint.safetensors | run folder>');
  const source = imageInputs(inputs);
  const outDir = resolve(o.out);
  if (o.prompts) {
    if (source.images) throw new Error('predict --prompts: give one folder of images (several classes are predicted per folder)');
    // Several classes write under --out too: never inside the input folder.
    assertNoOverwrite({
      command: 'predict',
      outputs: [outDir],
      inputs: [],
      protectedDirs: [{ dir: source.input, what: 'the input folder' }],
      hint: 'choose an --out folder outside the inputs',
    });
  }
  const seg = await segmenterOf(o);
  try {
    seg.eval();
    applyTf32For(o.tf32, moduleDevice(seg));
    const common = {
      precision: o.precision,
      ...(o.batchSize ? { batchSize: o.batchSize } : {}),
      ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
    };
    if (o.prompts) {
      const res = await predictClasses(seg, {
        ...common,
        input: source.input,
        classes: await parseClassList(o.prompts),
        outDir,
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      });
      return { outDir: res.outDir, images: res.files.length, classes: true };
    }
    const onBatch = o.onProgress
      ? (_d: number, _t: number, p: PredictProgress): void => o.onProgress!(p.images, p.totalImages, p.imagesPerSecond)
      : undefined;
    const res = await predictFolder(seg, {
      ...source,
      ...common,
      prompt: o.prompt,
      outDir,
      overlays: o.overlays,
      ...(onBatch ? { onBatch } : {}),
    });
    return { outDir: res.outDir, images: res.files.length, classes: false };
  } finally {
    seg.dispose();
  }
}
