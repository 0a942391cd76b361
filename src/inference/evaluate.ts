/**
 * The evaluation loop with any `Segmenter`: `evaluateLoader` / `evaluate` give the DiceCE loss,
 * Dice and IoU per sample and their means over samples, under `noGrad`, one `tidy` per batch, in
 * eval mode. `dice`/`iou` are the `model-resolution` protocol; `protocols` adds any of the named
 * evaluation protocols (protocols.ts), each kept apart in the result. Prediction (the PNGs
 * written at each image's original size) is predict.ts.
 */
import type { BatchLoader } from '../data/loader.js';
import { loadSplit, promptOptions, type Split, type PromptOptions } from '../data/format.js';
import { warnAboutRepairs } from '../data/repairs.js';
import { tidy, noGrad } from '../torch/index.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { augmentBatch, type AugmentConfig } from './augment.js';
import {
  meansOf,
  originalSizeBatch,
  pickProtocols,
  scoreBatch,
  softTargetsOf,
  type EvalResult,
  type SampleResult,
} from './batch-scores.js';
import { moduleDevice, segmenterLogits, withEvalMode } from './forward.js';
import { batchTensors, loaderFor } from './inputs.js';
import type { DiceCEOptions } from './loss.js';
import { autocastFor, type Precision } from './precision.js';
import type { EvalProtocol } from './protocols.js';

export type { EvalMeans, EvalResult, SampleResult } from './batch-scores.js';

export interface EvalLoopOptions {
  /** Dice/IoU probability threshold. Default 0.5. */
  threshold?: number;
  loss?: DiceCEOptions;
  /** Device of the model inputs. Default: the device of the segmenter's first parameter. */
  device?: string;
  /** Epoch passed to the loader (prompt choice for random keys). Default 0. */
  epoch?: number;
  /** Called after each batch (progress). */
  onBatch?: (done: number, total: number) => void;
  /** Autocast of the forward ('32': none); scores always compute on float32 logits. Default '32'. */
  precision?: Precision;
  /**
   * Evaluation protocols to score besides `model-resolution` (which `dice`/`iou` always are).
   * `original-size` reads each mask file at full size.
   */
  protocols?: readonly EvalProtocol[];
  /**
   * Loss targets: the soft masks (gray / 255, as the reference trains: quirk 18) or the masks
   * thresholded at 0.5. Default: soft unless the segmenter's quirks mode is `fixed`.
   */
  softTargets?: boolean;
  /**
   * Augment the inputs (images and masks at model resolution) before the forward, drawn per
   * (seed, epoch, batch): the original evaluates VOC and Cityscapes through its training
   * transforms (issue 24 row 8). The `original-size` protocol still reads the mask files as
   * they are, as the original's eval_metrics.py does. Default: none.
   */
  augment?: { config: AugmentConfig; seed: number; epoch: number };
}

/** Runs a segmenter over every batch of a loader epoch; per-sample and mean loss/Dice/IoU. */
export async function evaluateLoader(segmenter: Segmenter, loader: BatchLoader, o: EvalLoopOptions = {}): Promise<EvalResult> {
  const device = o.device ?? moduleDevice(segmenter);
  const amp = autocastFor(o.precision ?? '32', device);
  const soft = o.softTargets ?? softTargetsOf(segmenter);
  const protocols = [...new Set(o.protocols ?? [])];
  const perSample: SampleResult[] = [];
  const total = loader.length;
  let done = 0;
  await withEvalMode(segmenter, async () => {
    for await (const b of loader.epoch(o.epoch ?? 0)) {
      const aug = o.augment;
      const step = done;
      const r = noGrad(() =>
        tidy(() => {
          let { images, masks } = batchTensors(b, device);
          if (aug && aug.config.p > 0)
            ({ images, masks } = augmentBatch(images, masks, aug.config, { seed: aug.seed, epoch: aug.epoch, step }));
          const logits = segmenterLogits(segmenter, images, b.prompts, amp);
          return scoreBatch(logits, masks, {
            threshold: o.threshold ?? 0.5,
            soft,
            loss: o.loss,
            cpuProbs: protocols.includes('original-size'),
          });
        }),
      );
      b.release();
      const orig = r.probs ? await originalSizeBatch(r.probs, b) : null;
      for (let i = 0; i < b.size; i++) {
        const mr = r.side['model-resolution'][i]!;
        const rec: SampleResult = {
          name: b.names[i]!,
          index: b.indices[i]!,
          prompt: b.prompts[i]!,
          loss: r.losses[i]!,
          dice: mr.dice,
          iou: mr.iou,
        };
        if (protocols.length > 0) rec.protocols = pickProtocols(protocols, r.side, orig, i, i);
        perSample.push(rec);
      }
      o.onBatch?.(++done, total);
    }
  });
  return { ...meansOf(perSample, protocols), perSample };
}

export interface EvaluateOptions extends EvalLoopOptions, PromptOptions {
  batchSize?: number;
  /** The loader's seed (the prompt a `random` prompt key picks): a run's, to read as its training did. */
  seed?: number;
  workers?: number;
  /** Model input side; default the segmenter's `info.imageSize`. */
  imageSize?: number;
}

/** Evaluates a segmenter on one split of a dataset folder. */
export async function evaluate(segmenter: Segmenter, dataDir: string, split: Split, o: EvaluateOptions = {}): Promise<EvalResult> {
  const samples = await loadSplit(dataDir, split, o);
  await warnAboutRepairs(
    samples.map((s) => s.imagePath),
    { root: dataDir },
  );
  const loader = loaderFor(segmenter, samples, {
    ...promptOptions(o),
    imageSize: o.imageSize ?? null,
    batchSize: o.batchSize ?? 8,
    shuffle: false,
    train: false,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  });
  try {
    return await evaluateLoader(segmenter, loader, o);
  } finally {
    await loader.close();
  }
}
