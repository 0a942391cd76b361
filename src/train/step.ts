/**
 * One optimizer step of training, as library functions: the optimizer a run builds, the weight
 * of each micro-batch (pass) in its step, the forward/loss/backward of one micro-batch, which
 * micro-batches close a step, and the step itself. `runEpoch` (epoch.ts) drives them over a
 * loader, and the `training` parity kind (src/parity/kinds/training.ts) over the fixtures'
 * micro-batches, so those fixtures pin the trainer's own code path.
 *
 * Accumulation (`A` micro-batches per step, Lightning's `accumulate_grad_batches`): the
 * gradients are zero when a window starts (the previous step set them to none), every
 * micro-batch adds `weight · d loss`, and the optimizer steps after the micro-batch that ends a
 * window, `(i + 1) % A == 0`, or the epoch's last one (an incomplete window still steps).
 */
import { type Tensor, noGrad, optim, tidy } from '../torch/index.js';
import type { Segmenter, TextInputs } from '../tuning/segmenter.js';
import type { GradScaler } from './grad-scaler.js';
import { diceCELoss, type DiceCEOptions } from '../inference/loss.js';
import type { MixedPrecision } from './precision.js';
import { optimizerGroups } from './reference-semantics.js';

export interface OptimizerSettings {
  lr: number;
  /** The configured weight decay (0 means torch's 0.01 on every tensor under `quirks: reference`, quirk 19). */
  weightDecay: number;
  betas: [number, number];
  eps: number;
}

/** AdamW over the segmenter's trainable tensors, grouped as its quirks mode says (reference-semantics.ts). */
export function buildOptimizer(segmenter: Segmenter, o: OptimizerSettings): optim.AdamW {
  return new optim.AdamW(optimizerGroups(segmenter, o.weightDecay), { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay });
}

/**
 * How a micro-batch's loss is weighted in its step's gradient:
 * - `per-micro-batch` (quirks `reference`): `loss / A`, whatever the micro-batch's size, as
 *   Lightning's automatic optimization does; a smaller last micro-batch (drop_last false)
 *   weighs as much as a full one, and an incomplete last window gives a gradient `k/A` of a
 *   full one's;
 * - `per-sample` (`fixed`): `loss · size / (samples of the step)`, so a step's gradient is the
 *   gradient of the mean loss over the step's samples, however they were split.
 */
export type AccumulationWeighting = 'per-micro-batch' | 'per-sample';

export function accumulationWeighting(quirks: 'reference' | 'fixed'): AccumulationWeighting {
  return quirks === 'reference' ? 'per-micro-batch' : 'per-sample';
}

/** An epoch's micro-batches as the step logic sees them. */
export interface AccumulationPlan {
  /** micro-batches per optimizer step (A >= 1) */
  accumulate: number;
  /** micro-batches in the epoch */
  microBatches: number;
  /** samples in micro-batch i */
  sizeAt: (i: number) => number;
  weighting: AccumulationWeighting;
}

/** Whether the optimizer steps after micro-batch `i` (0-based within the epoch). */
export function closesStep(plan: Pick<AccumulationPlan, 'accumulate' | 'microBatches'>, i: number): boolean {
  return (i + 1) % plan.accumulate === 0 || i === plan.microBatches - 1;
}

/** The factor micro-batch `i`'s loss is multiplied by before its backward. */
export function microBatchWeight(plan: AccumulationPlan, i: number): number {
  if (plan.weighting === 'per-micro-batch') return 1 / plan.accumulate;
  const first = Math.floor(i / plan.accumulate) * plan.accumulate;
  let samples = 0;
  for (let j = first; j < Math.min(plan.microBatches, first + plan.accumulate); j++) samples += plan.sizeAt(j);
  return plan.sizeAt(i) / samples;
}

/** One micro-batch as the model takes it. */
export interface MicroBatchInputs {
  /** normalised images [B, 3, S, S] */
  pixels: Tensor;
  text: TextInputs;
  /** loss targets [B, 1, S, S] (soft or thresholded masks: `lossTargets`) */
  targets: Tensor;
}

export interface MicroBatchResult {
  /** float32 logits [B, 1, S, S] */
  logits: Tensor;
  /** DiceCE and its parts, shape [] (before the weighting) */
  loss: Tensor;
  dice: Tensor;
  bce: Tensor;
  /** `loss` as a number; when it is not finite no backward ran */
  value: number;
}

/**
 * Forward (under the run's autocast), DiceCE, and the backward of `weight · loss` (through the
 * loss scaler under 16-mixed), adding into the parameters' gradients. A non-finite loss skips
 * the backward: the caller decides what a non-finite loss means. The returned tensors belong
 * to the caller's scope (call it inside `tidy`).
 */
export function backwardMicroBatch(
  segmenter: Segmenter,
  inputs: MicroBatchInputs,
  o: { weight: number; amp: MixedPrecision; loss?: DiceCEOptions },
): MicroBatchResult {
  const { logits, l } = o.amp.run(() => {
    const logits = segmenter.forward(inputs.pixels, inputs.text);
    const f32 = logits.dtype === 'float32' ? logits : logits.to('float32');
    return { logits: f32, l: diceCELoss(f32, inputs.targets, o.loss) };
  });
  const value = l.loss.item();
  if (Number.isFinite(value)) {
    tidy(() => {
      const weighted = l.loss.mul(o.weight);
      (o.amp.scaler ? o.amp.scaler.scaleLoss(weighted) : weighted).backward();
    });
  }
  return { logits, loss: l.loss, dice: l.dice, bce: l.bce, value };
}

export interface StepOutcome {
  /** 16-mixed: the loss scale of this step */
  lossScale?: number;
  /** 16-mixed: inf/NaN gradients, the step was skipped and the scale lowered */
  skipped: boolean;
  /** the global gradient norm before clipping (NaN when skipped) */
  gradNorm: number;
}

/**
 * The optimizer step that closes a window: unscale (16-mixed), clip or measure the gradient
 * norm, step unless the scaler skipped it, update the scaler, and set every gradient to none.
 * A non-finite norm (outside a skipped 16-mixed step) throws `onNonFinite(norm)` before the
 * step, so the parameters keep their last good values.
 */
export function optimizerStep(
  opt: optim.Optimizer,
  params: Tensor[],
  o: { scaler: GradScaler | null; gradClipNorm: number | null; onNonFinite: (gradNorm: number) => Error },
): StepOutcome {
  const lossScale = o.scaler?.scale;
  const skipped = o.scaler ? o.scaler.unscale(params) : false;
  const gradNorm = o.gradClipNorm !== null ? optim.clipGradNorm_(params, o.gradClipNorm) : skipped ? NaN : globalGradNorm(params);
  if (!skipped && !Number.isFinite(gradNorm)) throw o.onNonFinite(gradNorm);
  if (!skipped) opt.step();
  o.scaler?.update();
  opt.zeroGrad();
  return { ...(lossScale !== undefined ? { lossScale } : {}), skipped, gradNorm };
}

/** L2 norm of all gradients (parameters without a gradient are skipped), without modifying them. */
export function globalGradNorm(params: Tensor[]): number {
  return noGrad(() =>
    tidy(() => {
      let total = 0;
      for (const p of params) {
        const g = p.grad;
        if (g === null) continue;
        total += g.to('float64').square().sum().item();
      }
      return Math.sqrt(total);
    }),
  );
}
