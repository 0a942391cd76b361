/**
 * Dice + BCE loss with MONAI 1.3.2 `DiceCELoss(sigmoid=True, lambda_dice=1, lambda_ce=0.2)`
 * semantics for one-channel logits (the loss the TuneVLSeg reference trains with):
 *   p = sigmoid(logits); per (b, c): dice = 1 - (2·Σ p·t + smooth_nr) / (Σ p + Σ t + smooth_dr)
 *   (sums over the spatial dims, batch=False, squared_pred=False), mean over b and c;
 *   bce = BCEWithLogits(logits, t), mean over every element (MONAI's one-channel CE path);
 *   loss = lambda_dice·dice + lambda_ce·bce.
 */
import { Tensor, tidy, F } from '../../torch/index.js';

export interface DiceCEOptions {
  lambdaDice?: number;
  lambdaCe?: number;
  smoothNr?: number;
  smoothDr?: number;
}

export interface DiceCEResult {
  /** lambdaDice·dice + lambdaCe·bce, shape [] */
  loss: Tensor;
  dice: Tensor;
  bce: Tensor;
}

/** logits and target [B, 1, ...spatial] (target float in [0, 1]). */
export function diceCELoss(logits: Tensor, target: Tensor, o: DiceCEOptions = {}): DiceCEResult {
  const ls = logits.shape, ts = target.shape;
  if (ls.length < 3 || ls.length !== ts.length || ls.some((v, i) => v !== ts[i])) {
    throw new Error(`diceCELoss: logits [${ls.join(', ')}] and target [${ts.join(', ')}] must have the same [B, C, ...spatial] shape`);
  }
  if (ls[1] !== 1) throw new Error(`diceCELoss: only one-channel (sigmoid) logits are supported, got ${ls[1]} channels`);
  const lambdaDice = o.lambdaDice ?? 1, lambdaCe = o.lambdaCe ?? 0.2;
  const smoothNr = o.smoothNr ?? 1e-5, smoothDr = o.smoothDr ?? 1e-5;
  return tidy(() => {
    const t = target.dtype === logits.dtype ? target : target.to(logits.dtype);
    const p = logits.sigmoid();
    const axes = ls.slice(2).map((_, i) => i + 2);
    const inter = p.mul(t).sum(axes);
    const denom = p.sum(axes).add(t.sum(axes));
    const dice = inter.mul(2).add(smoothNr).div(denom.add(smoothDr)).rsub(1).mean();
    const bce = F.binaryCrossEntropyWithLogits(logits, t, 'mean');
    const loss = dice.mul(lambdaDice).add(bce.mul(lambdaCe));
    return { loss, dice, bce };
  });
}
