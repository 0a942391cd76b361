/**
 * Dynamic loss scaling for float16 mixed precision, with torch.cuda.amp.GradScaler's
 * arithmetic (torch/cuda/amp/grad_scaler.py and the _amp_update_scale_ kernel):
 *
 * - the loss is multiplied by `scale` (init 2^16) before backward, so small float16
 *   gradients do not flush to zero;
 * - `unscale` multiplies every gradient by float32(1 / scale) and records whether any is
 *   inf/NaN (call it before clipping: the clip threshold is in unscaled units);
 * - `step` runs the optimizer only when every gradient is finite (otherwise the step is
 *   skipped, the gradients are left for zeroGrad);
 * - `update` halves the scale after an overflow (backoff 0.5) and resets the growth tracker;
 *   after `growthInterval` (2000) consecutive finite steps it doubles the scale (growth 2.0),
 *   unless that would overflow float32.
 *
 * The scale lives in a JS number kept at float32 precision (Math.fround), as the kernel keeps
 * it in a float32 tensor; the per-step inf check needs one host sync either way. The state
 * is four numbers (`stateDict`), stored in the trainer's resume state.
 */
import { type Tensor, tidy, noGrad, optim } from '../torch/index.js';

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
}

export interface GradScalerState {
  scale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  growthTracker: number;
}

export class GradScaler {
  private scaleValue: number;
  private growthTracker = 0;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  /** Result of the last unscale (null: not unscaled since the last update). */
  private foundInf: boolean | null = null;

  constructor(o: GradScalerOptions = {}) {
    this.scaleValue = Math.fround(o.initScale ?? 2 ** 16);
    this.growthFactor = o.growthFactor ?? 2.0;
    this.backoffFactor = o.backoffFactor ?? 0.5;
    this.growthInterval = o.growthInterval ?? 2000;
    if (!(this.scaleValue > 0) || !Number.isFinite(this.scaleValue))
      throw new RangeError(`GradScaler: initScale must be a positive finite number, got ${o.initScale}`);
    if (!(this.growthFactor > 1)) throw new RangeError(`GradScaler: growthFactor must be > 1, got ${this.growthFactor}`);
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1))
      throw new RangeError(`GradScaler: backoffFactor must be in (0, 1), got ${this.backoffFactor}`);
    if (!Number.isInteger(this.growthInterval) || this.growthInterval < 1)
      throw new RangeError(`GradScaler: growthInterval must be a positive integer, got ${this.growthInterval}`);
  }

  /** The current loss scale. */
  get scale(): number {
    return this.scaleValue;
  }

  /** Consecutive finite steps since the last growth or backoff. */
  get tracker(): number {
    return this.growthTracker;
  }

  /** loss * scale (a new tensor; call backward on it). */
  scaleLoss(loss: Tensor): Tensor {
    return loss.mul(this.scaleValue);
  }

  /**
   * Divides the gradients of `params` by the scale in place and reports whether any gradient
   * holds inf/NaN (parameters without a gradient are skipped). Once per step, before clipping.
   */
  unscale(params: readonly Tensor[]): boolean {
    if (this.foundInf !== null) throw new Error('GradScaler.unscale() was already called since the last update()');
    const inv = Math.fround(1 / this.scaleValue);
    const bad = tidy(() =>
      noGrad(() => {
        let nonFinite = 0;
        for (const p of params) {
          const g = p.grad;
          if (g === null) continue;
          nonFinite += g.isfinite().logicalNot().any().item() ? 1 : 0;
          g.mul_(inv);
        }
        return nonFinite;
      }),
    );
    this.foundInf = bad > 0;
    return this.foundInf;
  }

  /** Runs optimizer.step() unless the unscaled gradients hold inf/NaN; returns whether it stepped. */
  step(optimizer: optim.Optimizer, params: readonly Tensor[]): boolean {
    if (this.foundInf === null) this.unscale(params);
    if (this.foundInf) return false;
    optimizer.step();
    return true;
  }

  /** Adjusts the scale after a step (backoff on overflow, growth after growthInterval finite steps). */
  update(): void {
    if (this.foundInf === null) throw new Error('GradScaler.update() needs a step (or unscale) first');
    if (this.foundInf) {
      this.scaleValue = Math.fround(this.scaleValue * this.backoffFactor);
      this.growthTracker = 0;
    } else {
      const successful = this.growthTracker + 1;
      if (successful === this.growthInterval) {
        const grown = Math.fround(this.scaleValue * this.growthFactor);
        if (Number.isFinite(grown)) this.scaleValue = grown;
        this.growthTracker = 0;
      } else {
        this.growthTracker = successful;
      }
    }
    this.foundInf = null;
  }

  stateDict(): GradScalerState {
    return {
      scale: this.scaleValue,
      growthFactor: this.growthFactor,
      backoffFactor: this.backoffFactor,
      growthInterval: this.growthInterval,
      growthTracker: this.growthTracker,
    };
  }

  loadStateDict(s: GradScalerState): void {
    if (s.growthFactor !== this.growthFactor || s.backoffFactor !== this.backoffFactor || s.growthInterval !== this.growthInterval) {
      throw new Error(
        `GradScaler: saved state has growth ${s.growthFactor}/backoff ${s.backoffFactor}/interval ${s.growthInterval}, ` +
          `this scaler ${this.growthFactor}/${this.backoffFactor}/${this.growthInterval}`,
      );
    }
    if (!(s.scale > 0) || !Number.isFinite(s.scale)) throw new Error(`GradScaler: saved scale must be positive and finite, got ${s.scale}`);
    this.scaleValue = Math.fround(s.scale);
    this.growthTracker = s.growthTracker;
    this.foundInf = null;
  }
}
