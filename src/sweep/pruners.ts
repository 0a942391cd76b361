/**
 * Pruners: decide, after a trial reports an intermediate value, whether to stop it early.
 * Semantics of Optuna 3.1's MedianPruner (PercentilePruner at 50) and
 * SuccessiveHalvingPruner (asynchronous successive halving).
 */

import type { Direction } from './tpe.js';
import type { TrialRecord } from './storage.js';

export interface PruneContext {
  /** The trial being decided on, with its intermediate values so far. */
  readonly trial: Pick<TrialRecord, 'number' | 'intermediate'>;
  /** All trials of the study (any state). */
  readonly trials: readonly Pick<TrialRecord, 'number' | 'state' | 'intermediate'>[];
  readonly direction: Direction;
}

export interface Pruner {
  prune(ctx: PruneContext): boolean;
}

export class NopPruner implements Pruner {
  prune(): boolean {
    return false;
  }
}

function lastStep(t: Pick<TrialRecord, 'intermediate'>): number | null {
  if (t.intermediate.length === 0) return null;
  return Math.max(...t.intermediate.map(([s]) => s));
}

function valueAt(t: Pick<TrialRecord, 'intermediate'>, step: number): number | undefined {
  for (const [s, v] of t.intermediate) if (s === step) return v;
  return undefined;
}

/** NumPy `nanpercentile` with linear interpolation. */
export function nanPercentile(values: readonly number[], q: number): number {
  const xs = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const pos = (q / 100) * (xs.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (xs[lo] as number) + ((xs[hi] as number) - (xs[lo] as number)) * (pos - lo);
}

export interface PercentilePrunerOptions {
  /** Trials in the best `percentile`% survive (0..100). */
  readonly percentile: number;
  /** No pruning until this many trials completed (5). */
  readonly nStartupTrials?: number;
  /** No pruning before this step (0). */
  readonly nWarmupSteps?: number;
  /** Check every this many steps after warm-up (1). */
  readonly intervalSteps?: number;
  /** Need this many completed trials with a value at the step (1). */
  readonly nMinTrials?: number;
}

/**
 * Prunes a trial whose best intermediate value so far is worse than the given percentile of
 * the completed trials' values at the same step.
 */
export class PercentilePruner implements Pruner {
  private readonly o: Required<PercentilePrunerOptions>;
  constructor(o: PercentilePrunerOptions) {
    this.o = { nStartupTrials: 5, nWarmupSteps: 0, intervalSteps: 1, nMinTrials: 1, ...o };
    if (!(this.o.percentile >= 0 && this.o.percentile <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${o.percentile}`);
    if (this.o.nStartupTrials < 0 || this.o.nWarmupSteps < 0) throw new RangeError('nStartupTrials and nWarmupSteps must be >= 0');
    if (this.o.intervalSteps < 1 || this.o.nMinTrials < 1) throw new RangeError('intervalSteps and nMinTrials must be >= 1');
  }

  prune({ trial, trials, direction }: PruneContext): boolean {
    const completed = trials.filter((t) => t.state === 'complete');
    if (completed.length === 0 || completed.length < this.o.nStartupTrials) return false;
    const step = lastStep(trial);
    if (step === null || step < this.o.nWarmupSteps) return false;
    // Only the first report at or after each checkpoint (warm-up + k * interval) is judged.
    const checkpoint = Math.floor((step - this.o.nWarmupSteps) / this.o.intervalSteps) * this.o.intervalSteps + this.o.nWarmupSteps;
    const previous = trial.intermediate.reduce((m, [s]) => (s > m && s !== step ? s : m), -1);
    if (previous >= checkpoint) return false;
    const own = trial.intermediate.map(([, v]) => v).filter((v) => !Number.isNaN(v));
    if (own.length === 0) return true;
    const best = direction === 'maximize' ? Math.max(...own) : Math.min(...own);
    const others = completed.map((t) => valueAt(t, step)).filter((v): v is number => v !== undefined);
    if (others.length < this.o.nMinTrials) return false;
    const p = nanPercentile(others, direction === 'maximize' ? 100 - this.o.percentile : this.o.percentile);
    if (Number.isNaN(p)) return false;
    return direction === 'maximize' ? best < p : best > p;
  }
}

/** Prunes trials worse than the median of completed trials at the same step. */
export class MedianPruner extends PercentilePruner {
  constructor(o: Omit<PercentilePrunerOptions, 'percentile'> = {}) {
    super({ ...o, percentile: 50 });
  }
}

export interface SuccessiveHalvingOptions {
  /** Steps before the first rung; "auto" = max(1, last step of the longest completed trial / 100). */
  readonly minResource?: number | 'auto';
  /** Keep the best 1/reductionFactor at each rung (4). */
  readonly reductionFactor?: number;
  /** Rungs start at minResource * reductionFactor^minEarlyStoppingRate (0). */
  readonly minEarlyStoppingRate?: number;
  /** A trial alone (or with fewer than this many peers) at a rung is pruned (0). */
  readonly bootstrapCount?: number;
}

/**
 * Asynchronous successive halving: rung k is reached at step
 * minResource * rf^(minEarlyStoppingRate + k); a trial reaching it continues only if its value
 * there is in the top 1/rf of all values recorded at that rung so far. A trial's value at a
 * rung is its value at the first reported step at or after the rung's step (Optuna records the
 * same value when it checks at every report, as `runStudy` does).
 */
export class SuccessiveHalvingPruner implements Pruner {
  private minResource: number | null;
  private readonly rf: number;
  private readonly rate: number;
  private readonly bootstrap: number;

  constructor(o: SuccessiveHalvingOptions = {}) {
    const mr = o.minResource ?? 'auto';
    this.minResource = mr === 'auto' ? null : mr;
    this.rf = o.reductionFactor ?? 4;
    this.rate = o.minEarlyStoppingRate ?? 0;
    this.bootstrap = o.bootstrapCount ?? 0;
    if (this.minResource !== null && !(this.minResource >= 1)) throw new RangeError("minResource must be >= 1 or 'auto'");
    if (!(this.rf >= 2)) throw new RangeError('reductionFactor must be >= 2');
    if (this.rate < 0 || this.bootstrap < 0) throw new RangeError('minEarlyStoppingRate and bootstrapCount must be >= 0');
  }

  private rungStep(rung: number): number {
    return (this.minResource as number) * this.rf ** (this.rate + rung);
  }

  /** The value a trial recorded at a rung, if it got there. */
  private rungValue(t: Pick<TrialRecord, 'intermediate'>, rung: number): number | undefined {
    const at = this.rungStep(rung);
    let best: [number, number] | undefined;
    for (const e of t.intermediate) if (e[0] >= at && (!best || e[0] < best[0])) best = [e[0], e[1]];
    return best?.[1];
  }

  prune({ trial, trials, direction }: PruneContext): boolean {
    const step = lastStep(trial);
    if (step === null) return false;
    if (this.minResource === null) {
      const steps = trials
        .filter((t) => t.state === 'complete')
        .map(lastStep)
        .filter((s): s is number => s !== null);
      if (steps.length === 0) return false;
      this.minResource = Math.max(Math.floor(Math.max(...steps) / 100), 1);
    }
    const value = valueAt(trial, step) as number;
    // Rungs this trial passed at earlier reports were judged then.
    const previous = trial.intermediate.filter(([s]) => s !== step);
    let rung = 0;
    while (previous.some(([s]) => s >= this.rungStep(rung))) rung++;
    for (;;) {
      if (step < this.rungStep(rung)) return false;
      if (Number.isNaN(value)) return true;
      const competing = trials
        .filter((t) => t.number !== trial.number)
        .map((t) => this.rungValue(t, rung))
        .filter((v): v is number => v !== undefined);
      competing.push(value);
      if (competing.length <= this.bootstrap) return true;
      let idx = Math.floor(competing.length / this.rf) - 1;
      if (idx === -1) idx = 0;
      competing.sort((a, b) => a - b);
      const promotable =
        direction === 'maximize' ? value >= (competing[competing.length - 1 - idx] as number) : value <= (competing[idx] as number);
      if (!promotable) return true;
      rung++;
    }
  }
}
