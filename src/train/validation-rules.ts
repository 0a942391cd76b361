/**
 * Lightning 2.x's rules for validation inside training, as the original's runs had them
 * (`_FitLoop.setup_data`, `_TrainingEpochLoop._should_check_val_fx`, `EarlyStopping`): after
 * which training passes a validation runs (config `valCheckInterval`), and when the early-stopping
 * monitor improves. Pure functions; validation.ts runs a validation, epoch.ts places them.
 *
 * - a fraction f validates after every `max(1, floor(n * f))`-th of the epoch's n training
 *   batches (our passes, not optimizer steps), counted within the epoch; an integer k after every
 *   k-th. With f = 0.5 and n odd the epoch's last pass is not followed by a validation;
 * - early stopping and the best checkpoint act after every validation (with one per epoch that
 *   is the epoch's end), so `patience` counts validations;
 * - ReduceLROnPlateau (interval "epoch") steps at each epoch's end on the latest validation's
 *   loss, and not in an epoch that early stopping ends before its last pass;
 * - training stops as soon as early stopping has triggered and `minEpochs` epochs are complete:
 *   after a mid-epoch validation that is the epochs before the current one.
 */
import type { EarlyStoppingMonitor } from './config.js';
import type { ValidationScores } from './records.js';

/**
 * After how many of an epoch's `passes` a validation runs (validation after pass i, 0-based,
 * when `(i + 1) % every == 0`). Throws when a whole number of passes exceeds the epoch, as
 * Lightning does (no validation would ever run).
 */
export function validationEvery(interval: number, passes: number): number {
  if (interval <= 1) return Math.max(1, Math.floor(passes * interval));
  if (interval > passes) {
    throw new Error(
      `config key "valCheckInterval": ${interval} training passes is more than an epoch has (${passes}): ` +
        "no validation would run. Use a fraction of the epoch (0.5: twice per epoch) or at most the epoch's passes",
    );
  }
  return interval;
}

/** Validations per epoch at that interval (the last pass of the epoch may have none). */
export function validationsPerEpoch(every: number, passes: number): number {
  return Math.floor(passes / every);
}

/** min for the loss, max for the Dice (Lightning's `mode`). */
export function monitorMode(monitor: EarlyStoppingMonitor): 'min' | 'max' {
  return monitor === 'val_dice' ? 'max' : 'min';
}

/** The monitor's value before any validation (Lightning's `best_score` starts at ±inf). */
export function monitorStart(monitor: EarlyStoppingMonitor): number {
  return monitorMode(monitor) === 'min' ? Infinity : -Infinity;
}

/** The monitored value of a validation. */
export function monitored(monitor: EarlyStoppingMonitor, s: ValidationScores): number {
  return monitor === 'val_dice' ? s.selectDice : s.loss;
}

/**
 * Whether `value` improves on `best` by more than `minDelta`, written as Lightning's
 * `monitor_op(current - min_delta, best)` with min_delta negated for mode min.
 */
export function monitorImproves(monitor: EarlyStoppingMonitor, value: number, best: number, minDelta: number): boolean {
  return monitorMode(monitor) === 'min' ? value + minDelta < best : value - minDelta > best;
}
