/**
 * The loss that training minimises and evaluation reports: Dice + BCE with MONAI 1.3.2 `DiceCELoss(sigmoid=True, lambda_dice=1,
 * lambda_ce=0.2)` semantics for one-channel logits (what the TuneVLSeg reference trains with):
 *
 *   p = sigmoid(logits)
 *   dice(b, c) = 1 - (2·Σ p·t + smooth_nr) / (Σ p + Σ t + smooth_dr)   sums over the spatial dims
 *   dice = mean over b and c                                             (batch=False, squared_pred=False)
 *   bce  = BCEWithLogits(logits, t), mean over every element             (MONAI's one-channel CE path)
 *   loss = lambda_dice·dice + lambda_ce·bce                               smooth_nr = smooth_dr = 1e-5
 *
 * The only copy: the trainer, evaluation, the parity kinds and the tests use it. The fixtures'
 * `dicece_loss` / `dice_loss` / `bce_loss` pin it.
 *
 * `appliedTo: 'probabilities'` is VLSM-Adapter's training step (`BaseModule.step`): the loss gets
 * `p = sigmoid(logits)` and MONAI's DiceCELoss runs *without* `sigmoid=True`, so Dice is taken on
 * p itself and the one-channel CE is BCEWithLogits(p, t), a second sigmoid (docs/quirks.md):
 *
 *   dice = 1 - (2·Σ p·t + smooth_nr) / (Σ p + Σ t + smooth_dr),   bce = mean(softplus(p) - p·t)
 */
import { type Tensor, tidy, F } from '../torch/index.js';

export interface DiceCEOptions {
  /** Weight of the Dice term. Default 1. */
  lambdaDice?: number;
  /** Weight of the BCE term. Default 0.2. */
  lambdaCe?: number;
  /** Numerator smoothing. Default 1e-5. */
  smoothNr?: number;
  /** Denominator smoothing. Default 1e-5. */
  smoothDr?: number;
  /** What DiceCELoss receives: the logits (`sigmoid=True`, default) or sigmoid(logits) as they are (VLSM-Adapter). */
  appliedTo?: LossInput;
}

/** What DiceCELoss receives: `logits` (sigmoid=True), or `probabilities` = sigmoid(logits) as VLSM-Adapter does. */
export type LossInput = 'logits' | 'probabilities';

export interface DiceCEResult {
  /** lambdaDice·dice + lambdaCe·bce, shape [] */
  loss: Tensor;
  /** the Dice term (mean over samples and channels), shape [] */
  dice: Tensor;
  /** the BCE term (mean over elements), shape [] */
  bce: Tensor;
}

export const DEFAULT_LOSS: Required<DiceCEOptions> = Object.freeze({
  lambdaDice: 1,
  lambdaCe: 0.2,
  smoothNr: 1e-5,
  smoothDr: 1e-5,
  appliedTo: 'logits',
});

function checkShapes(name: string, logits: Tensor, target: Tensor): number[] {
  const ls = logits.shape,
    ts = target.shape;
  if (ls.length < 3 || ls.length !== ts.length || ls.some((v, i) => v !== ts[i])) {
    throw new Error(`${name}: logits [${ls.join(', ')}] and target [${ts.join(', ')}] must have the same [B, C, ...spatial] shape`);
  }
  if (ls[1] !== 1) throw new Error(`${name}: only one-channel (sigmoid) logits are supported, got ${ls[1]} channels`);
  return ls;
}

/** 1 - soft Dice per (sample, channel) [B, C]: sums over the spatial dims of `p` (the probabilities). */
function diceTerms(p: Tensor, t: Tensor, shape: number[], smoothNr: number, smoothDr: number): Tensor {
  const axes = shape.slice(2).map((_, i) => i + 2);
  const inter = p.mul(t).sum(axes);
  const denom = p.sum(axes).add(t.sum(axes));
  return inter.mul(2).add(smoothNr).div(denom.add(smoothDr)).rsub(1);
}

/**
 * What MONAI's one-channel CE (BCEWithLogits) sees: the logits, or sigmoid(logits) when the loss
 * is handed probabilities, which it then treats as logits (a second sigmoid).
 */
function ceInput(logits: Tensor, appliedTo: LossInput): Tensor {
  return appliedTo === 'probabilities' ? logits.sigmoid() : logits;
}

/** DiceCE of logits and a target, both [B, 1, ...spatial] (target float in [0, 1]). */
export function diceCELoss(logits: Tensor, target: Tensor, o: DiceCEOptions = {}): DiceCEResult {
  const ls = checkShapes('diceCELoss', logits, target);
  const { lambdaDice, lambdaCe, smoothNr, smoothDr, appliedTo } = { ...DEFAULT_LOSS, ...o };
  return tidy(() => {
    const t = target.dtype === logits.dtype ? target : target.to(logits.dtype);
    // Dice sees sigmoid(logits) either way (MONAI applies it, or is handed it); the CE sees its input as logits.
    const dice = diceTerms(logits.sigmoid(), t, ls, smoothNr, smoothDr).mean();
    const bce = F.binaryCrossEntropyWithLogits(ceInput(logits, appliedTo), t, 'mean');
    const loss = dice.mul(lambdaDice).add(bce.mul(lambdaCe));
    return { loss, dice, bce };
  });
}

/**
 * Per-sample DiceCE values [B] (Dice of the sample + BCE mean over the sample's elements): the
 * mean of these over a batch equals `diceCELoss(...).loss` when every sample has the same size.
 * Used to average validation loss over samples whatever the batch split.
 */
export function diceCELossPerSample(logits: Tensor, target: Tensor, o: DiceCEOptions = {}): Tensor {
  const ls = checkShapes('diceCELossPerSample', logits, target);
  const { lambdaDice, lambdaCe, smoothNr, smoothDr, appliedTo } = { ...DEFAULT_LOSS, ...o };
  return tidy(() => {
    const t = target.dtype === logits.dtype ? target : target.to(logits.dtype);
    const dice = diceTerms(logits.sigmoid(), t, ls, smoothNr, smoothDr).mean(1); // [B]
    const bce = F.binaryCrossEntropyWithLogits(ceInput(logits, appliedTo), t, 'none').flatten(1).mean(1); // [B]
    return dice.mul(lambdaDice).add(bce.mul(lambdaCe));
  });
}
