/**
 * Evaluation protocols: how probabilities become the Dice/IoU a table reports. The original
 * implementation has two, and which one a number comes from changes it (fixtures README,
 * `eval-protocol` and quirk 17); every number this project reports names its protocol.
 *
 * - `model-resolution-reference`: what Lightning logs as `val_dice`/`test_dice`. The mask is
 *   read as gray, /255, resized to the model side with nearest neighbour, and the target is
 *   `mask.long()`: only gray 255 is foreground. Prediction `p >= threshold`; per-sample Dice
 *   `2TP / (2TP + FP + FN)`, 1 when the denominator is 0 (torchmetrics `Dice(average='samples',
 *   zero_division=1)`), then the mean; IoU is torchmetrics' `JaccardIndex(task='binary')`: one
 *   `TP / (TP + FP + FN)` over every pixel of every sample (`iou_global`).
 * - `original-size`: the original's `save_utils.py` + `scripts/eval_metrics.py`. The
 *   probability map is resized to the mask's size bicubically without antialias
 *   (`interpolate(mode='bicubic', align_corners=False)`, no clamping), stored in 8 bits as
 *   torchvision's `save_image` does (`trunc(clamp(p·255 + 0.5, 0, 255))`), and both files are
 *   thresholded `> 127`; MONAI's `compute_dice`/`compute_iou` with `ignore_empty=False` per
 *   image (empty truth: 1 if the prediction is empty too, else 0), then the mean over images.
 * - `model-resolution`: this project's own metric: at the model side, truth `gray / 255 > 0.5`
 *   (gray >= 128), prediction `p > threshold`, per-sample Dice and IoU, then the means.
 *
 * Every function here works on what the loader yields (soft masks `gray / 255` at the model
 * side) and on the mask files themselves, so `eval`, the trainer and the `eval_protocol`
 * parity kind share one implementation.
 */
import { type Tensor, tidy, tensor, F } from '../torch/index.js';
import { quantize8 } from '../data/prediction-png.js';
import { diceIoUFromCounts } from './metrics.js';

// The names, default and descriptions live in a torch-free module (the report reads them without libtorch).
export { EVAL_PROTOCOLS, type EvalProtocol, DEFAULT_TABLE_PROTOCOL, PROTOCOL_DESCRIPTIONS, parseProtocol } from './protocol-names.js';
import type { EvalProtocol } from './protocol-names.js';

/** One sample's score under one protocol; `counts` (reference protocol) feed the global IoU. */
export interface ProtocolSample {
  dice: number;
  iou: number;
  counts?: { tp: number; fp: number; fn: number };
}

export interface ProtocolMeans {
  samples: number;
  dice: number;
  iou: number;
  /** How `iou` aggregates: the mean of per-sample IoU, or one IoU over every pixel (reference). */
  iouAggregate: 'mean' | 'global';
}

/**
 * Both model-side protocols for a batch: probabilities [B, ...] (after the sigmoid) and soft
 * masks [B, ...] (gray / 255 after the nearest resize) of the same shape.
 */
export function modelSideScores(
  probs: Tensor,
  softMasks: Tensor,
  threshold = 0.5,
): { 'model-resolution': ProtocolSample[]; 'model-resolution-reference': ProtocolSample[] } {
  const ps = probs.shape,
    ms = softMasks.shape;
  if (ps.length !== ms.length || ps.some((v, i) => v !== ms[i])) {
    throw new Error(`modelSideScores: probabilities [${ps.join(', ')}] and masks [${ms.join(', ')}] must have the same shape`);
  }
  const [ours, ref] = tidy(() => {
    const p = probs.flatten(1);
    const m = softMasks.flatten(1);
    const counts = (pred: Tensor, truth: Tensor): number[][] => {
      const pr = pred.to('float64'),
        tr = truth.to('float64');
      return [pr.mul(tr).sum(1).toArray(), pr.sum(1).toArray(), tr.sum(1).toArray()];
    };
    // Ours: truth gray/255 > 0.5, prediction strictly above the threshold.
    // Reference: mask.long() keeps only 1.0 (gray 255); torchmetrics thresholds with >=.
    return [counts(p.gt(threshold), m.gt(0.5)), counts(p.ge(threshold), m.ge(1))];
  });
  const mr: ProtocolSample[] = [];
  const mrr: ProtocolSample[] = [];
  for (let i = 0; i < ours[0]!.length; i++) {
    mr.push(diceIoUFromCounts(ours[0]![i]!, ours[1]![i]!, ours[2]![i]!));
    const tp = ref[0]![i]!,
      fp = ref[1]![i]! - tp,
      fn = ref[2]![i]! - tp;
    mrr.push({ ...referenceDiceIoU(tp, fp, fn), counts: { tp, fp, fn } });
  }
  return { 'model-resolution': mr, 'model-resolution-reference': mrr };
}

/** torchmetrics' per-sample Dice with zero_division 1 (and the sample's IoU, same rule). */
function referenceDiceIoU(tp: number, fp: number, fn: number): { dice: number; iou: number } {
  const d = 2 * tp + fp + fn;
  return d === 0 ? { dice: 1, iou: 1 } : { dice: (2 * tp) / d, iou: tp / (tp + fp + fn) };
}

/**
 * The original's 8-bit prediction at a mask's size: bicubic (a = -0.75, half-pixel centres,
 * no antialias, no clamping) from the model side to `height x width`, then torchvision's
 * `save_image` quantisation `trunc(clamp(p·255 + 0.5, 0, 255))`, computed in float32.
 * `probs` is one [S, S] probability map (row-major), as a tensor or an array.
 */
export function originalSizePrediction(probs: Tensor | Float32Array, side: number, width: number, height: number): Uint8Array {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new RangeError(`originalSizePrediction: invalid size ${width}x${height}`);
  }
  const big = tidy(() => {
    const t = probs instanceof Float32Array ? tensor(probs, [1, 1, side, side]) : probs.to('float32').to('cpu').reshape([1, 1, side, side]);
    const up = side === height && side === width ? t : F.interpolate(t, { size: [height, width], mode: 'bicubic', alignCorners: false });
    return up.toFloat32Array();
  });
  return quantize8(big);
}

/**
 * MONAI `compute_dice` / `compute_iou` with `ignore_empty=False` of an 8-bit prediction and
 * the mask's gray levels, both thresholded `> 127`: an empty truth scores 1 if the prediction
 * is empty too, else 0.
 */
export function originalSizeScores(prediction8: Uint8Array, truthGray: Uint8Array): ProtocolSample {
  if (prediction8.length !== truthGray.length) {
    throw new Error(`originalSizeScores: prediction has ${prediction8.length} pixels, the mask ${truthGray.length}`);
  }
  let tp = 0,
    p = 0,
    t = 0;
  for (let i = 0; i < truthGray.length; i++) {
    const a = prediction8[i]! > 127,
      b = truthGray[i]! > 127;
    if (a) p++;
    if (b) t++;
    if (a && b) tp++;
  }
  const union = p + t - tp;
  return { dice: p + t > 0 ? (2 * tp) / (p + t) : 1, iou: union > 0 ? tp / union : 1 };
}

/** The aggregate a table reports for one protocol, from its per-sample scores (in order). */
export function protocolMeans(protocol: EvalProtocol, samples: readonly ProtocolSample[]): ProtocolMeans {
  const n = samples.length;
  if (n === 0)
    return { samples: 0, dice: Number.NaN, iou: Number.NaN, iouAggregate: protocol === 'model-resolution-reference' ? 'global' : 'mean' };
  let dice = 0,
    iou = 0;
  for (const s of samples) {
    dice += s.dice;
    iou += s.iou;
  }
  if (protocol !== 'model-resolution-reference') return { samples: n, dice: dice / n, iou: iou / n, iouAggregate: 'mean' };
  let tp = 0,
    den = 0;
  for (const s of samples) {
    if (!s.counts) throw new Error('protocolMeans: the reference protocol needs per-sample counts');
    tp += s.counts.tp;
    den += s.counts.tp + s.counts.fp + s.counts.fn;
  }
  // torchmetrics' _safe_divide: 0 / 0 is 0.
  return { samples: n, dice: dice / n, iou: den === 0 ? 0 : tp / den, iouAggregate: 'global' };
}
