/**
 * A run's precision plan for training: the forward's autocast (src/inference/precision.ts) and,
 * for `16-mixed`, dynamic loss scaling (GradScaler), which only a backward pass needs.
 */
import { autocastFor, type Autocast, type Precision } from '../inference/precision.js';
import { GradScaler } from './grad-scaler.js';

export interface MixedPrecision extends Autocast {
  /** The loss scaler (16-mixed only). */
  readonly scaler: GradScaler | null;
}

/** Builds the precision plan of a training run on `device`; throws a readable error where it cannot run. */
export function mixedPrecision(precision: Precision, device: string): MixedPrecision {
  return { ...autocastFor(precision, device), scaler: precision === '16-mixed' ? new GradScaler() : null };
}
