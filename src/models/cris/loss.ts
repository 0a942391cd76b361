// Dice + BCE loss with MONAI 1.3.2 DiceCELoss(sigmoid=True, lambda_dice, lambda_ce) semantics for
// single-channel logits (fixtures README "Loss"). Local to CRIS until a shared one exists in src/train/.
import { Tensor, tidy } from '../../torch/index.js';
import { F } from '../../torch/index.js';

export interface DiceCeOptions {
  lambdaDice?: number;
  lambdaCe?: number;
  smoothNr?: number;
  smoothDr?: number;
}

export interface DiceCeResult {
  /** lambdaDice * dice + lambdaCe * bce, a scalar. */
  loss: Tensor;
  dice: Tensor;
  bce: Tensor;
}

/**
 * logits, target: [B, 1, H, W]. p = sigmoid(logits); per (b, c):
 * dice = 1 - (2 Σ p t + smoothNr) / (Σ p + Σ t + smoothDr), averaged over b and c;
 * bce = BCEWithLogits(logits, target), mean over every element.
 */
export function diceCeLoss(logits: Tensor, target: Tensor, o: DiceCeOptions = {}): DiceCeResult {
  const ls = logits.shape, ts = target.shape;
  if (ls.length !== 4 || ls[1] !== 1) throw new Error(`diceCeLoss: logits must be [B, 1, H, W], got [${ls.join(', ')}]`);
  if (ts.length !== ls.length || ts.some((v, i) => v !== ls[i])) throw new Error(`diceCeLoss: target [${ts.join(', ')}] must match logits [${ls.join(', ')}]`);
  const { lambdaDice = 1, lambdaCe = 0.2, smoothNr = 1e-5, smoothDr = 1e-5 } = o;
  return tidy(() => {
    const t = target.dtype === logits.dtype ? target : target.to(logits.dtype);
    const p = logits.sigmoid();
    const inter = p.mul(t).sum([2, 3]);
    const denom = p.sum([2, 3]).add(t.sum([2, 3]));
    const dice = inter.mul(2).add(smoothNr).div(denom.add(smoothDr)).rsub(1).mean();
    const bce = F.binaryCrossEntropyWithLogits(logits, t, 'mean');
    const loss = dice.mul(lambdaDice).add(bce.mul(lambdaCe));
    return { loss, dice, bce };
  });
}
