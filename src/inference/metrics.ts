/**
 * Segmentation metrics at a probability threshold, per sample, then averaged over samples
 * (torchmetrics' `Dice(average="micro")` per sample / `BinaryJaccardIndex` per sample, as the
 * reference's evaluation loop computes them):
 *
 *   pred = sigmoid(logits) > threshold  (strict, torchmetrics' rule; default 0.5)
 *   truth = target > 0.5
 *   dice = 2·|pred ∧ truth| / (|pred| + |truth|)
 *   iou  = |pred ∧ truth| / |pred ∨ truth|
 *
 * An empty prediction of an empty mask scores 1 for both (nothing to find, nothing found);
 * an empty prediction of a non-empty mask (or the reverse) scores 0.
 */
import { type Tensor, tidy } from '../torch/index.js';

export interface SampleScores {
  dice: number[];
  iou: number[];
}

/** Dice and IoU from the counts of one sample. */
export function diceIoUFromCounts(intersection: number, predicted: number, truth: number): { dice: number; iou: number } {
  const union = predicted + truth - intersection;
  if (predicted + truth === 0) return { dice: 1, iou: 1 };
  return { dice: (2 * intersection) / (predicted + truth), iou: intersection / union };
}

/**
 * Per-sample Dice and IoU of logits [B, 1, ...] (or [B, ...]) against a binary target of the
 * same shape. `fromProbabilities` treats the input as probabilities (no sigmoid).
 */
export function diceIoU(logits: Tensor, target: Tensor, o: { threshold?: number; fromProbabilities?: boolean } = {}): SampleScores {
  const ls = logits.shape,
    ts = target.shape;
  if (ls.length !== ts.length || ls.some((v, i) => v !== ts[i])) {
    throw new Error(`diceIoU: logits [${ls.join(', ')}] and target [${ts.join(', ')}] must have the same shape`);
  }
  const threshold = o.threshold ?? 0.5;
  const counts = tidy(() => {
    const p = o.fromProbabilities ? logits : logits.sigmoid();
    const pred = p.gt(threshold).flatten(1).to('float64');
    const truth = target.gt(0.5).flatten(1).to('float64');
    const inter = pred.mul(truth).sum(1);
    return [inter.toArray(), pred.sum(1).toArray(), truth.sum(1).toArray()] as const;
  });
  const [inter, pr, tr] = counts;
  const dice: number[] = [];
  const iou: number[] = [];
  for (let i = 0; i < inter.length; i++) {
    const s = diceIoUFromCounts(inter[i]!, pr[i]!, tr[i]!);
    dice.push(s.dice);
    iou.push(s.iou);
  }
  return { dice, iou };
}

/** Running per-sample means (sums in float64, in arrival order, so results are reproducible). */
export class MeanAccumulator {
  private sums = new Map<string, number>();
  private counts = new Map<string, number>();

  /** Adds values (one per sample) or a batch value weighted by `weight` samples. */
  add(key: string, value: number | number[], weight = 1): void {
    const vs = Array.isArray(value) ? value : [value];
    const w = Array.isArray(value) ? 1 : weight;
    let s = this.sums.get(key) ?? 0;
    for (const v of vs) s += v * w;
    this.sums.set(key, s);
    this.counts.set(key, (this.counts.get(key) ?? 0) + vs.length * w);
  }
  mean(key: string): number {
    const n = this.counts.get(key) ?? 0;
    return n === 0 ? Number.NaN : (this.sums.get(key) ?? 0) / n;
  }
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  /** JSON-safe state (for resuming mid-epoch). */
  state(): { sums: Record<string, number>; counts: Record<string, number> } {
    return { sums: Object.fromEntries(this.sums), counts: Object.fromEntries(this.counts) };
  }
  static fromState(s: { sums: Record<string, number>; counts: Record<string, number> }): MeanAccumulator {
    const a = new MeanAccumulator();
    for (const [k, v] of Object.entries(s.sums)) a.sums.set(k, v);
    for (const [k, v] of Object.entries(s.counts)) a.counts.set(k, v);
    return a;
  }
}
