/**
 * Training choices that follow the segmenter's quirks mode (docs/quirks.md). With `reference`
 * (the default) a run trains as the original implementation does; `fixed` does what the paper
 * says. The loss targets (quirk 18) are `lossTargets` in evaluate.ts and the augmentation
 * settings (quirk 20) `resolveAugment` in augment.ts; the rest is here.
 */
import { nn, type optim } from '../torch/index.js';
import type { Segmenter } from '../tuning/segmenter.js';
import type { EvalProtocol } from '../inference/protocols.js';

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
 * (`effectiveBatchSize`) when BatchNorms see batch statistics (the CoCoOp-CRIS scripts' batch 32
 * in one pass), else min(8, effective). A smaller pass with such BatchNorms is what Lightning's
 * `accumulate_grad_batches` does with the model in train mode (the CoOp-CRIS script's 16 x 2):
 * each pass is normalised with its own samples' statistics and moves the running statistics
 * once (docs/quirks.md); `note` says so.
 */
export function passBatchSize(
  configured: number | null,
  effectiveBatchSize: number,
  segmenter: Segmenter,
  note?: (line: string) => void,
): number {
  const norms = batchStatisticNorms(segmenter);
  if (configured === null) return norms.length > 0 ? effectiveBatchSize : Math.min(8, effectiveBatchSize);
  if (norms.length > 0 && configured < effectiveBatchSize) {
    note?.(
      `note: ${effectiveBatchSize / configured} passes of ${configured} per optimizer step with BatchNorm layers that use batch statistics in training ` +
        `(${norms.slice(0, 3).join(', ')}${norms.length > 3 ? `, ... ${norms.length} in all` : ''}): each pass is normalised with its own ${configured} samples' ` +
        `statistics and updates the running statistics once, as the original's accumulate_grad_batches does; one ${effectiveBatchSize}-sample pass ` +
        'normalises differently (batchSize null or equal to effectiveBatchSize for that)',
    );
  }
  return configured;
}
