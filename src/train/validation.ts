/**
 * One validation inside the training loop (epoch.ts decides where, by validation-rules.ts, as
 * Lightning's val_check_interval): score the val split, update early stopping on its monitor
 * (patience counts validations), write best.safetensors on a new best Dice.
 */
import { saveCheckpoint } from './checkpoint.js';
import { evaluateLoader } from '../inference/evaluate.js';
import { validationLoss } from './non-finite.js';
import { valDraws } from './run-evaluation.js';
import type { TrainerState, ValidationScores } from './records.js';
import type { TrainingRun } from './run-setup.js';
import { monitored, monitorImproves } from './validation-rules.js';

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
  run: TrainingRun,
  st: TrainerState,
  at: { epoch: number; batch: number },
  train: { trainLoss: number; trainDice: number },
): Promise<ValidationOutcome> {
  const { config, files, segmenter, device, lossCfg, selectBy } = run;
  run.progress.validating();
  const index = st.validations;
  const val = await evaluateLoader(segmenter, run.loaders.val, {
    threshold: config.threshold,
    loss: lossCfg,
    device,
    protocols: [selectBy],
    precision: config.precision,
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
      kind: 'best',
      model: config.model,
      epoch: at.epoch + 1,
      globalStep: st.globalStep,
      metrics: { ...train, valLoss: scores.loss, valDice: scores.dice, valIou: scores.iou },
    });
  }
  st.validations = index + 1;
  st.lastVal = scores;
  st.epochBest ||= isBest;
  return { scores, best: isBest };
}
