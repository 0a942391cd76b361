/**
 * What a non-finite training loss (or gradient norm) does to a run, per quirks mode:
 *
 * - `fixed`: the run stops with a NonFiniteLossError naming the epoch, step and samples; no
 *   update is applied, and the run folder keeps its last good checkpoint and a resume state
 *   (`train` exits 1 with that message; a sweep trial fails with it). A validation loss that
 *   comes out NaN or inf (finite but diverged weights) stops the run the same way, before the
 *   epoch's checkpoints are written.
 * - `reference`: what the original does. Its Lightning module logs
 *   `torch.nan_to_num(loss, nan=float("inf"))` as `val_loss` (src/models/image_text_mask_module.py,
 *   naamiinepal/tunevlseg@7956bcd), and EarlyStopping's `check_finite` (Lightning's default)
 *   stops training on a non-finite monitored value; the sweep's objective, the last `val_loss`,
 *   is then inf and Optuna records the trial as complete with value inf. A non-finite training
 *   loss ends the epoch there with `valLoss = inf`; a validation loss that is NaN or inf is
 *   recorded as inf; either way early stopping ends the run (stop reason `early_stopping`) and
 *   it finishes as usual, so the trial completes with value inf. Two differences, both declared
 *   in docs/quirks.md: no update is applied on a non-finite step (the original steps on NaN
 *   gradients), and the run ends at once, where Lightning goes on with the diverged weights
 *   until `min_epochs` (the value is inf either way); when no epoch has ended yet, the current
 *   weights become best.safetensors so that the final evaluation has a checkpoint to score.
 */
import { existsSync, statSync } from 'node:fs';
import type { optim } from '../torch/index.js';
import { saveCheckpoint } from './checkpoint.js';
import { NonFiniteLossError, type EpochRecord, type TrainerState } from './records.js';
import type { RunFiles } from './run-folder.js';
import { appendLine, saveState, type TrainingRun } from './run-setup.js';

/** Where in the run the non-finite value appeared (for the message and metrics.jsonl). */
export interface NonFiniteAt {
  /** e.g. `loss (NaN)` or `gradient norm (Infinity)` */
  what: string;
  value: number;
  /** 0-based epoch, 1-based step in the epoch, 1-based global step */
  epoch: number;
  step: number;
  globalStep: number;
  /** 0-based batch of the epoch, and the epoch's batch count */
  batch: number;
  batches: number;
  names: string[];
}

/** Thrown through `optimizerStep` (step.ts) when a `reference` run's gradient norm is non-finite: the epoch ends as below. */
export class DivergedStep extends Error {
  constructor(readonly at: NonFiniteAt) {
    super(`non-finite ${at.what}`);
    this.name = 'DivergedStep';
  }
}

/** The `fixed` error: zeroes the gradients, records the event in metrics.jsonl, names the last good checkpoint. */
export function nonFiniteError(at: NonFiniteAt, files: RunFiles, st: TrainerState, opt: optim.Optimizer): NonFiniteLossError {
  opt.zeroGrad();
  const lastEpoch = st.history.length;
  const { what, epoch, step, globalStep, batch, batches, names } = at;
  const sample = names.slice(0, 4).join(', ') + (names.length > 4 ? `, ... (${names.length})` : '');
  const msg =
    `non-finite ${what} at epoch ${epoch + 1}, step ${step} (batch ${batch + 1}/${batches}, global step ${globalStep}; samples: ${sample}). ` +
    `No update was applied. The run folder keeps the last good checkpoint: ${files.last} ` +
    `(${lastEpoch > 0 ? `after epoch ${lastEpoch}` : 'the initial weights'}), and a resume state at ${files.resume}. ` +
    'Lower the learning rate, enable gradClipNorm, or check the data.';
  appendLine(files.metrics, {
    type: 'error',
    error: 'non_finite',
    what,
    epoch: epoch + 1,
    step,
    globalStep,
    batch: batch + 1,
    samples: names,
  });
  return new NonFiniteLossError(msg, epoch + 1, step, globalStep, at.value, files.last);
}

/**
 * The `reference` ending: the epoch is recorded with `valLoss = inf`, early stopping ends the
 * run, and the state is saved so that the final evaluation (or a resume) takes it from there.
 */
export function endOnNonFiniteReference(run: TrainingRun, st: TrainerState, at: NonFiniteAt, epochStart: number): EpochRecord {
  const { files, segmenter, opt, config } = run;
  opt.zeroGrad();
  appendLine(files.metrics, {
    type: 'error',
    error: 'non_finite',
    what: at.what,
    epoch: at.epoch + 1,
    step: at.step,
    globalStep: at.globalStep,
    batch: at.batch + 1,
    samples: at.names,
    quirks: 'reference',
  });
  if (!existsSync(files.best)) {
    st.best = { dice: Number.NaN, epoch: at.epoch + 1, batch: at.batch, globalStep: st.globalStep, index: st.validations };
    saveCheckpoint(files.best, segmenter, {
      kind: 'best',
      model: config.model,
      metrics: {},
      epoch: at.epoch + 1,
      globalStep: st.globalStep,
    });
  }
  st.early.wait++;
  st.early.triggered = true;
  const rec: EpochRecord = {
    type: 'epoch',
    epoch: at.epoch + 1,
    globalStep: st.globalStep,
    trainLoss: Infinity,
    trainDice: Number.NaN,
    valLoss: Infinity,
    valDice: Number.NaN,
    valIou: Number.NaN,
    valSelectDice: Number.NaN,
    lr: opt.paramGroups[0]!.lr,
    lrReduced: false,
    best: false,
    earlyStoppingWait: st.early.wait,
    seconds: (performance.now() - epochStart) / 1000,
    imagesPerSecond: 0,
  };
  appendLine(files.metrics, rec);
  st.history.push(rec);
  st.epoch = at.epoch + 1;
  st.batch = 0;
  st.stepInEpoch = 0;
  st.epochSums = null;
  st.done = true;
  st.stopReason = 'early_stopping';
  st.diverged =
    `non-finite ${at.what} at epoch ${at.epoch + 1}, step ${at.step} (global step ${at.globalStep}): validation loss recorded as inf and early stopping ended the run ` +
    '(quirks: reference, as the original logs nan_to_num(loss, nan=inf) and stops on a non-finite val_loss)';
  st.metricsBytes = statSync(files.metrics).size;
  saveState(run, st);
  run.progress.message(st.diverged);
  return rec;
}

/**
 * The epoch's validation loss as the run goes on with it: finite as is; NaN or inf (diverged
 * weights) throws under `fixed`, and under `reference` is inf with early stopping triggered
 * (Lightning's `check_finite`), which ends the run whatever `minEpochs` says.
 */
export function validationLoss(run: TrainingRun, st: TrainerState, loss: number, epoch: number): number {
  if (Number.isFinite(loss)) return loss;
  const { files } = run;
  appendLine(files.metrics, {
    type: 'error',
    error: 'non_finite',
    what: `validation loss (${loss})`,
    epoch: epoch + 1,
    globalStep: st.globalStep,
    ...(run.quirks === 'reference' ? { quirks: 'reference' } : {}),
  });
  if (run.quirks !== 'reference') {
    const lastEpoch = st.history.length;
    throw new NonFiniteLossError(
      `non-finite validation loss (${loss}) after epoch ${epoch + 1} (global step ${st.globalStep}): the weights diverged. ` +
        `The run folder keeps the last good checkpoint: ${files.last} (${lastEpoch > 0 ? `after epoch ${lastEpoch}` : 'the initial weights'}). ` +
        'Lower the learning rate, enable gradClipNorm, or check the data.',
      epoch + 1,
      0,
      st.globalStep,
      loss,
      files.last,
    );
  }
  st.early.triggered = true;
  st.diverged =
    `validation loss ${loss} after epoch ${epoch + 1}: recorded as inf and early stopping ended the run ` +
    '(quirks: reference, as the original logs nan_to_num(val_loss, nan=inf) and stops on a non-finite val_loss)';
  run.progress.message(st.diverged);
  return Infinity;
}
