// Learning-rate schedules (torch.optim.lr_scheduler semantics), with JSON state for resume.
import type { Optimizer } from './optimizer.js';

/** ReduceLROnPlateau: after `patience` epochs without improvement, lr *= factor (not below minLr). */
export class ReduceLROnPlateau {
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  constructor(
    readonly optimizer: Optimizer,
    readonly o: {
      mode?: 'min' | 'max';
      factor?: number;
      patience?: number;
      threshold?: number;
      thresholdMode?: 'rel' | 'abs';
      cooldown?: number;
      minLr?: number;
      eps?: number;
    } = {},
  ) {
    if ((o.factor ?? 0.1) >= 1) throw new RangeError('ReduceLROnPlateau: factor must be < 1');
    this.best = (o.mode ?? 'min') === 'min' ? Infinity : -Infinity;
  }
  private isBetter(a: number, best: number): boolean {
    const mode = this.o.mode ?? 'min',
      th = this.o.threshold ?? 1e-4,
      tm = this.o.thresholdMode ?? 'rel';
    if (mode === 'min') return tm === 'rel' ? a < best * (1 - th) : a < best - th;
    return tm === 'rel' ? a > best * (th + 1) : a > best + th;
  }
  /** Feeds one epoch's metric; returns true when the learning rate was reduced. */
  step(metric: number): boolean {
    this.lastEpoch++;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > (this.o.patience ?? 10)) {
      let reduced = false;
      for (const g of this.optimizer.paramGroups) {
        const old = g.lr;
        const nw = Math.max(old * (this.o.factor ?? 0.1), this.o.minLr ?? 0);
        if (old - nw > (this.o.eps ?? 1e-8)) {
          g.lr = nw;
          reduced = true;
        }
      }
      this.cooldownCounter = this.o.cooldown ?? 0;
      this.numBadEpochs = 0;
      return reduced;
    }
    return false;
  }
  stateDict(): Record<string, number> {
    return { best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter, lastEpoch: this.lastEpoch };
  }
  loadStateDict(s: Record<string, number>): void {
    this.best = s.best ?? this.best;
    this.numBadEpochs = s.numBadEpochs ?? 0;
    this.cooldownCounter = s.cooldownCounter ?? 0;
    this.lastEpoch = s.lastEpoch ?? 0;
  }
}

/** Cosine annealing from each group's base lr to etaMin over tMax steps, after an optional linear warm-up. */
export class CosineSchedule {
  readonly baseLrs: number[];
  stepCount = 0;
  constructor(
    readonly optimizer: Optimizer,
    readonly tMax: number,
    readonly etaMin = 0,
    readonly warmupSteps = 0,
  ) {
    if (tMax <= 0) throw new RangeError('CosineSchedule: tMax must be > 0');
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.apply();
  }
  lrAt(step: number, base: number): number {
    if (step < this.warmupSteps) return (base * (step + 1)) / this.warmupSteps;
    const t = Math.min(step - this.warmupSteps, this.tMax - this.warmupSteps);
    const span = Math.max(1, this.tMax - this.warmupSteps);
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * t) / span))) / 2;
  }
  private apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.lrAt(this.stepCount, this.baseLrs[i]!)));
  }
  step(): void {
    this.stepCount++;
    this.apply();
  }
  stateDict(): Record<string, number> {
    return { stepCount: this.stepCount };
  }
  loadStateDict(s: Record<string, number>): void {
    this.stepCount = s.stepCount ?? 0;
    this.apply();
  }
}
