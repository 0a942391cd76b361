/**
 * Training choices that follow the segmenter's quirks mode (docs/quirks.md). With `reference`
 * (the default) a run trains as the original implementation does; `fixed` does what the paper
 * says. The loss targets (quirk 18) are `lossTargets` in evaluate.ts and the augmentation
 * settings (quirk 20) `resolveAugment` in augment.ts; the rest is here.
 */
import { nn, type optim } from '../torch/index.js';
import type { Segmenter } from '../tuning/segmenter.js';
import type { EvalProtocol } from './protocols.js';

/**
 * The validation Dice that picks the best checkpoint: the original's ModelCheckpoint monitors
 * Lightning's `val_dice`, i.e. `model-resolution-reference` (only gray 255 is foreground,
 * quirk 17); `fixed` uses this project's `model-resolution`. Identical on clean 0/255 masks.
 */
export function checkpointSelectionProtocol(quirks: 'reference' | 'fixed'): EvalProtocol {
  return quirks === 'reference' ? 'model-resolution-reference' : 'model-resolution';
}

/** torch.optim.AdamW's default weight decay, which the reference falls back to (quirk 19). */
export const TORCH_DEFAULT_WEIGHT_DECAY = 0.01;

/**
 * AdamW parameter groups. Quirk 19: when the configured weight decay is 0, the reference hands
 * every trainable tensor to AdamW without a `weight_decay`, so torch's default 0.01 applies to
 * all of them (context vectors, biases, norms, `residual_ratio`); with a weight decay > 0 only
 * Linear/Conv weights decay (the segmenter's groups). `fixed`: always the segmenter's groups.
 */
export function optimizerGroups(segmenter: Segmenter, weightDecay: number): optim.ParamGroupInput[] {
  // A method trained with its own original's AdamW (the adapters) takes its weight decay as given.
  if ((segmenter.quirks ?? 'reference') === 'reference' && weightDecay === 0 && segmenter.decaysEveryTensor !== true) {
    const all = segmenter.parameterGroups(0).flatMap((g) => g.params);
    return [{ params: all, weightDecay: TORCH_DEFAULT_WEIGHT_DECAY }];
  }
  return segmenter.parameterGroups(weightDecay);
}

/**
 * BatchNorm layers that normalise with the batch's own statistics in training mode (the
 * segmenter is put in training mode to find out, then restored). With `quirks: reference` the
 * frozen CRIS is one (Lightning's `net.train()` reaches it, quirk 16).
 */
export function batchStatisticNorms(segmenter: Segmenter): string[] {
  const was = segmenter.training;
  segmenter.train();
  try {
    return [...segmenter.namedModules()]
      .filter(([, m]) => (m instanceof nn.BatchNorm1d || m instanceof nn.BatchNorm2d) && m.training)
      .map(([name]) => name);
  } finally {
    if (!was) segmenter.eval();
  }
}

/**
 * Samples per forward/backward pass. `configured` null: one pass per optimizer step
 * (`effectiveBatchSize`) when BatchNorms see batch statistics, else min(8, effective). A
 * pass smaller than the step with such BatchNorms is refused: each pass would normalise with
 * its own few samples, so an accumulated step is not the 32-sample batch the reference trains
 * on, and the numbers would silently differ.
 */
export function passBatchSize(configured: number | null, effectiveBatchSize: number, segmenter: Segmenter): number {
  const norms = batchStatisticNorms(segmenter);
  if (configured === null) return norms.length > 0 ? effectiveBatchSize : Math.min(8, effectiveBatchSize);
  if (norms.length > 0 && configured < effectiveBatchSize) {
    throw new Error(`batchSize ${configured} < effectiveBatchSize ${effectiveBatchSize} with BatchNorm layers that use batch statistics in training ` +
      `(${norms.slice(0, 3).join(', ')}${norms.length > 3 ? `, ... ${norms.length} in all` : ''}): gradient accumulation would normalise each ` +
      `${configured}-sample pass on its own, which is not one ${effectiveBatchSize}-sample batch. Use batchSize ${effectiveBatchSize} ` +
      '(one pass per step; leave batchSize unset for that), or model.quirks: fixed (frozen BatchNorms keep their running statistics).');
  }
  return configured;
}
