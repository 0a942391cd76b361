/**
 * Validation inside the training loop (epoch.ts calls it): when it runs (config
 * `valCheckInterval`, Lightning's `val_check_interval`), and what one validation does: score the
 * val split, update early stopping on its monitor, write best.safetensors on a new best Dice.
 *
 * Lightning 2.x's semantics, which the original's runs had (`_FitLoop.setup_data`,
 * `_TrainingEpochLoop._should_check_val_fx`, `EarlyStopping`, `ModelCheckpoint`):
 * - a fraction f validates after every `max(1, floor(n * f))`-th of the epoch's n training
 *   batches (our passes, not optimizer steps), counted within the epoch; an integer k after every
 *   k-th. With f = 0.5 and n odd the epoch's last pass is not followed by a validation;
 * - early stopping and the best checkpoint act after every validation (with one per epoch that
 *   is the epoch's end, as before), so `patience` counts validations;
 * - ReduceLROnPlateau (interval "epoch") steps at each epoch's end on the latest validation's
 *   loss, and not in an epoch that early stopping ends before its last pass;
 * - training stops as soon as early stopping has triggered and `minEpochs` epochs are complete:
 *   after a mid-epoch validation that is the epochs before the current one.
 */
import { saveCheckpoint } from './checkpoint.js';
import type { EarlyStoppingMonitor } from './config.js';
import { evaluateLoader } from './evaluate.js';
import { validationLoss } from './non-finite.js';
import { valDraws } from './run-evaluation.js';
import type { TrainerState, ValidationScores } from './records.js';
import type { TrainingRun } from './run-setup.js';

/**
 * After how many of an epoch's `passes` a validation runs (validation after pass i, 0-based,
 * when `(i + 1) % every == 0`). Throws when a whole number of passes exceeds the epoch, as
 * Lightning does (no validation would ever run).
 */
export function validationEvery(interval: number, passes: number): number {
  if (interval <= 1) return Math.max(1, Math.floor(passes * interval));
  if (interval > passes) {
    throw new Error(`config key "valCheckInterval": ${interval} training passes is more than an epoch has (${passes}): ` +
      'no validation would run. Use a fraction of the epoch (0.5: twice per epoch) or at most the epoch\'s passes');
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

export interface ValidationOutcome {
  scores: ValidationScores;
  /** best.safetensors was written */
  best: boolean;
}

/**
 * One validation of the run, after `batch` passes of epoch `epoch` (0-based): scores, early
 * stopping, best checkpoint; updates `st` (`validations`, `lastVal`, `epochBest`, `early`,
 * `best`). `train` holds the training means so far (the checkpoint's metadata).
 */
export async function validate(
  run: TrainingRun, st: TrainerState, at: { epoch: number; batch: number }, train: { trainLoss: number; trainDice: number },
): Promise<ValidationOutcome> {
  const { config, files, segmenter, device, lossCfg, selectBy } = run;
  run.progress.validating();
  const index = st.validations;
  const val = await evaluateLoader(segmenter, run.loaders.val, {
    threshold: config.threshold, loss: lossCfg, device, protocols: [selectBy], precision: config.precision,
    // An augmented validation draws anew each time, keyed by its index (one per epoch: the epoch).
    ...(run.evalAugment ? { augment: valDraws(run.evalAugment, index) } : {}),
  });
  // fixed: a NaN/inf loss throws; reference: it is inf and early stopping is triggered (non-finite.ts)
  const loss = validationLoss(run, st, val.loss, at.epoch);
  const scores: ValidationScores = { loss, dice: val.dice, iou: val.iou, selectDice: val.protocols![selectBy]!.dice };
  const es = config.earlyStopping;
  const value = monitored(es.monitor, scores);
  if (monitorImproves(es.monitor, value, st.early.best, es.minDelta)) {
    st.early.best = value;
    st.early.wait = 0;
  } else {
    st.early.wait++;
    if (es.enabled && st.early.wait >= es.patience) st.early.triggered = true;
  }
  const isBest = scores.selectDice > st.best.dice;
  if (isBest) {
    st.best = { dice: scores.selectDice, epoch: at.epoch + 1, batch: at.batch, globalStep: st.globalStep, index };
    saveCheckpoint(files.best, segmenter, {
      kind: 'best', model: config.model, epoch: at.epoch + 1, globalStep: st.globalStep,
      metrics: { ...train, valLoss: scores.loss, valDice: scores.dice, valIou: scores.iou },
    });
  }
  st.validations = index + 1;
  st.lastVal = scores;
  st.epochBest ||= isBest;
  return { scores, best: isBest };
}
