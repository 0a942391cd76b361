/**
 * One training epoch of a run (trainer.ts's third stage): the seeded batches from where the
 * state says (mid-epoch after a resume), augmentation on pixels, normalisation, then the
 * micro-batch and step logic of step.ts (autocast, gradient accumulation weighted as the quirks
 * mode says, optional clipping, the loss scaler), step records; validation where
 * `valCheckInterval` puts it (validation.ts: early stopping, the best checkpoint), and at the
 * epoch's end the scheduler, the last checkpoint, the epoch record and the resume state.
 */
import { statSync } from 'node:fs';
import { hashSeed } from '../data/rng.js';
import { shellCommand } from '../util/shell-quote.js';
import { manualSeed, noGrad, tidy } from '../torch/index.js';
import { augmentBatch } from '../inference/augment.js';
import { saveCheckpoint } from './checkpoint.js';
import { lossTargets } from '../inference/batch-scores.js';
import { batchTensors, normalise } from '../inference/inputs.js';
import { diceIoU, MeanAccumulator } from '../inference/metrics.js';
import {
  TrainingInterruptedError,
  type EpochRecord,
  type StepRecord,
  type TrainOptions,
  type TrainerState,
  type ValidationRecord,
} from './records.js';
import { DivergedStep, endOnNonFiniteReference, nonFiniteError } from './non-finite.js';
import { appendLine, saveState, type TrainingRun } from './run-setup.js';
import { accumulationWeighting, backwardMicroBatch, closesStep, microBatchWeight, optimizerStep, type AccumulationPlan } from './step.js';
import { validate } from './validation.js';

/** Runs epoch `st.epoch` (from batch `st.batch`) and updates `st`; throws on an abort or (quirks fixed) a non-finite loss (non-finite.ts). */
export async function runEpoch(
  run: TrainingRun,
  st: TrainerState,
  opts: Pick<TrainOptions, 'onStep' | 'onEpoch' | 'onValidation' | 'signal'>,
): Promise<void> {
  const { config, files, segmenter, device, amp, opt, sched, params, progress, augment, softTargets, lossCfg, batchSize } = run;
  const trainLoader = run.loaders.train;
  const runDir = files.dir;
  const save = (): void => saveState(run, st);
  const accum = config.effectiveBatchSize / batchSize;
  const nb = trainLoader.length;
  const N = trainLoader.sampleCount;
  const plan: AccumulationPlan = {
    accumulate: accum,
    microBatches: nb,
    weighting: accumulationWeighting(run.quirks),
    sizeAt: (i) => (i < nb - 1 ? batchSize : N - (nb - 1) * batchSize),
  };
  const valEvery = run.validationEvery;

  const E = st.epoch;
  const acc = st.epochSums ? MeanAccumulator.fromState(st.epochSums) : new MeanAccumulator();
  if (st.batch === 0) st.epochBest = false;
  progress.epochStart(E + 1, config.maxEpochs, nb, st.batch);
  segmenter.train();
  const epochStart = performance.now();
  let epochImages = 0;
  let stepStart = performance.now();
  let stepLoss = 0,
    stepDice = 0,
    stepSamples = 0;
  let i = -1;
  let passes = nb;
  let stoppedEarly = false;
  let validationSeconds = 0; // inside the epoch: not training time
  for await (const b of trainLoader.epoch(E)) {
    i++;
    if (i < st.batch) {
      b.release();
      stepStart = performance.now();
      continue; // already done before the interruption (same order: the loader is seeded)
    }
    const r = tidy(() => {
      let { images, masks } = batchTensors(b, device);
      if (augment.p > 0) ({ images, masks } = augmentBatch(images, masks, augment, { seed: config.seed, epoch: E, step: i }));
      manualSeed(hashSeed(config.seed, E, i, 0x70c4));
      const { logits, value } = backwardMicroBatch(
        segmenter,
        { pixels: normalise(images, segmenter.info), text: segmenter.tokenize(b.prompts), targets: lossTargets(masks, softTargets) },
        { weight: microBatchWeight(plan, i), amp, loss: lossCfg },
      );
      if (!Number.isFinite(value)) return { value, dice: [] as number[] };
      return { value, dice: noGrad(() => diceIoU(logits, masks, { threshold: config.threshold }).dice) };
    });
    b.release(); // the tensors hold copies
    // Where a non-finite value turned up: this batch, at the step it belongs to.
    const nonFiniteAt = (what: string, value: number) => ({
      what: `${what} (${value})`,
      value,
      epoch: E,
      step: st.stepInEpoch + 1,
      globalStep: st.globalStep + 1,
      batch: i,
      batches: nb,
      names: b.names,
    });
    if (!Number.isFinite(r.value)) {
      const at = nonFiniteAt('loss', r.value);
      if (run.quirks !== 'reference') throw nonFiniteError(at, files, st, opt);
      const rec = endOnNonFiniteReference(run, st, at, epochStart); // not inside `onEpoch?.(...)`: that skips its argument when absent
      opts.onEpoch?.(rec);
      return;
    }
    acc.add('loss', r.value, b.size);
    acc.add('dice', r.dice);
    stepLoss += r.value * b.size;
    for (const d of r.dice) stepDice += d;
    stepSamples += b.size;
    epochImages += b.size;
    const stepped = closesStep(plan, i);
    if (stepped) {
      // 16-mixed: unscale before clipping; inf/NaN gradients skip the step and lower the scale.
      let outcome: ReturnType<typeof optimizerStep>;
      try {
        outcome = optimizerStep(opt, params, {
          scaler: amp.scaler,
          gradClipNorm: config.gradClipNorm,
          onNonFinite: (gradNorm) => {
            const at = nonFiniteAt('gradient norm', gradNorm);
            return run.quirks !== 'reference' ? nonFiniteError(at, files, st, opt) : new DivergedStep(at);
          },
        });
      } catch (e) {
        if (!(e instanceof DivergedStep)) throw e;
        const rec = endOnNonFiniteReference(run, st, e.at, epochStart);
        opts.onEpoch?.(rec);
        return;
      }
      const { lossScale, skipped } = outcome;
      st.globalStep++;
      st.stepInEpoch++;
      st.batch = i + 1;
      const now = performance.now();
      const rec: StepRecord = {
        type: 'step',
        epoch: E + 1,
        step: st.stepInEpoch,
        globalStep: st.globalStep,
        samples: stepSamples,
        loss: stepLoss / stepSamples,
        dice: stepDice / stepSamples,
        lr: opt.paramGroups[0]!.lr,
        imagesPerSecond: stepSamples / Math.max(1e-9, (now - stepStart) / 1000),
        ...(lossScale !== undefined ? { lossScale, skipped } : {}),
      };
      appendLine(files.metrics, rec);
      opts.onStep?.(rec);
      stepStart = now;
      stepLoss = stepDice = stepSamples = 0;
    }
    progress.batch(i + 1, {
      loss: acc.mean('loss'),
      dice: acc.mean('dice'),
      imagesPerSecond: epochImages / Math.max(1e-9, (performance.now() - epochStart) / 1000),
    });
    const midEpoch = i < nb - 1;
    // Lightning validates after the batch (and its optimizer step), then the callbacks act; the
    // validation after the epoch's last pass comes with the epoch's end, below.
    let validated = false;
    if ((i + 1) % valEvery === 0 && midEpoch) {
      const t0 = performance.now();
      const v = await validate(run, st, { epoch: E, batch: i + 1 }, { trainLoss: acc.mean('loss'), trainDice: acc.mean('dice') });
      validated = true;
      const vr: ValidationRecord = {
        type: 'validation',
        epoch: E + 1,
        batch: i + 1,
        globalStep: st.globalStep,
        index: st.validations - 1,
        valLoss: v.scores.loss,
        valDice: v.scores.dice,
        valIou: v.scores.iou,
        valSelectDice: v.scores.selectDice,
        best: v.best,
        earlyStoppingWait: st.early.wait,
        seconds: (performance.now() - t0) / 1000,
      };
      validationSeconds += vr.seconds;
      appendLine(files.metrics, vr);
      opts.onValidation?.(vr);
      progress.message(formatValidationLine(vr, nb));
      segmenter.train();
      if (st.early.triggered && (E >= config.minEpochs || !Number.isFinite(v.scores.loss))) {
        // Lightning's epoch loop ends here: the epochs before this one satisfy min_epochs (a
        // non-finite validation loss ends a reference run at once: non-finite.ts).
        passes = i + 1;
        stoppedEarly = true;
        opt.zeroGrad(); // a window cut short never steps
        break;
      }
      progress.epochStart(E + 1, config.maxEpochs, nb, i + 1);
    }
    // A resume state where the loader position is a step boundary: after a mid-epoch
    // validation (so that it is not run again), every N steps, or on an abort.
    if (
      stepped &&
      midEpoch &&
      (validated || opts.signal?.aborted || (config.checkpointEverySteps > 0 && st.stepInEpoch % config.checkpointEverySteps === 0))
    ) {
      st.epochSums = acc.state();
      st.metricsBytes = statSync(files.metrics).size;
      save();
      if (opts.signal?.aborted) {
        throw new TrainingInterruptedError(
          `training interrupted at epoch ${E + 1}, step ${st.stepInEpoch} (global step ${st.globalStep}); ` +
            `resume with: tunevlseg train --resume ${runDir}`,
          runDir,
        );
      }
    }
  }
  const trainSeconds = (performance.now() - epochStart) / 1000 - validationSeconds;
  const train = { trainLoss: acc.mean('loss'), trainDice: acc.mean('dice') };
  if (!stoppedEarly && nb % valEvery === 0) await validate(run, st, { epoch: E, batch: nb }, train);
  const val = st.lastVal!;
  const lrUsed = opt.paramGroups[0]!.lr;
  // ReduceLROnPlateau on the latest validation's loss, once per completed epoch.
  const lrReduced = stoppedEarly ? false : sched.step(val.loss);
  const rec: EpochRecord = {
    type: 'epoch',
    epoch: E + 1,
    globalStep: st.globalStep,
    ...train,
    valLoss: val.loss,
    valDice: val.dice,
    valIou: val.iou,
    valSelectDice: val.selectDice,
    lr: lrUsed,
    lrReduced,
    best: st.epochBest,
    earlyStoppingWait: st.early.wait,
    seconds: (performance.now() - epochStart) / 1000,
    imagesPerSecond: epochImages / Math.max(1e-9, trainSeconds),
    ...(passes < nb ? { batches: passes } : {}),
  };
  const metrics = { ...train, valLoss: val.loss, valDice: val.dice, valIou: val.iou };
  saveCheckpoint(files.last, segmenter, { kind: 'last', model: config.model, metrics, epoch: E + 1, globalStep: st.globalStep });
  appendLine(files.metrics, rec);
  st.history.push(rec);
  st.epoch = E + 1;
  st.batch = 0;
  st.stepInEpoch = 0;
  st.epochSums = null;
  if (st.epoch >= config.maxEpochs) {
    st.done = true;
    st.stopReason = 'max_epochs';
  } else if (st.early.triggered && (st.epoch >= config.minEpochs || !Number.isFinite(val.loss))) {
    st.done = true;
    st.stopReason = 'early_stopping';
  }
  if (stoppedEarly) {
    st.done = true;
    st.stopReason = 'early_stopping';
  }
  st.metricsBytes = statSync(files.metrics).size;
  save();
  progress.epochEnd({ ...rec, maxEpochs: config.maxEpochs });
  opts.onEpoch?.(rec);
  if (st.done && st.stopReason === 'early_stopping' && Number.isFinite(val.loss)) {
    const es = config.earlyStopping;
    progress.message(
      `early stopping ${stoppedEarly ? `in epoch ${st.epoch} after pass ${passes}/${nb}` : `after epoch ${st.epoch}`}: ` +
        `no ${es.monitor === 'val_dice' ? 'validation-Dice' : 'validation-loss'} improvement > ${es.minDelta} for ${st.early.wait} validations`,
    );
  }
  if (opts.signal?.aborted && !st.done) {
    throw new TrainingInterruptedError(
      `training interrupted after epoch ${st.epoch}; resume with: ${shellCommand(['tunevlseg', 'train', '--resume', runDir])}`,
      runDir,
    );
  }
}

/** One line for a validation inside an epoch (the epoch's own line comes at its end). */
function formatValidationLine(r: ValidationRecord, passes: number): string {
  return (
    `  epoch ${r.epoch} pass ${r.batch}/${passes}: val loss ${r.valLoss.toFixed(4)} dice ${r.valDice.toFixed(4)}` +
    `${r.best ? ' (best)' : ''}  wait ${r.earlyStoppingWait}`
  );
}
