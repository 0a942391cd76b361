/**
 * One training epoch of a run (trainer.ts's third stage): the seeded batches from where the
 * state says (mid-epoch after a resume), augmentation on pixels, normalisation, then the
 * micro-batch and step logic of step.ts (autocast, gradient accumulation weighted as the quirks
 * mode says, optional clipping, the loss scaler), step records; then validation, the
 * scheduler, early stopping, the best/last checkpoints, the epoch record and the resume state.
 */
import { statSync } from 'node:fs';
import { hashSeed } from '../data/rng.js';
import { shellCommand } from '../hub/shell-quote.js';
import { manualSeed, noGrad, type optim, tidy } from '../torch/index.js';
import { augmentBatch } from './augment.js';
import { saveCheckpoint } from './checkpoint.js';
import { evaluateLoader, lossTargets } from './evaluate.js';
import { batchTensors, normalise } from './inputs.js';
import { diceIoU, MeanAccumulator } from './metrics.js';
import { TrainingInterruptedError, type EpochRecord, type StepRecord, type TrainOptions, type TrainerState } from './records.js';
import { DivergedStep, endOnNonFiniteReference, nonFiniteError, validationLoss } from './non-finite.js';
import { appendLine, saveState, type TrainingRun } from './run-setup.js';
import { accumulationWeighting, backwardMicroBatch, closesStep, microBatchWeight, optimizerStep, type AccumulationPlan } from './step.js';

/** Runs epoch `st.epoch` (from batch `st.batch`) and updates `st`; throws on an abort or (quirks fixed) a non-finite loss (non-finite.ts). */
export async function runEpoch(run: TrainingRun, st: TrainerState, opts: Pick<TrainOptions, 'onStep' | 'onEpoch' | 'signal'>): Promise<void> {
  const { config, files, segmenter, device, amp, opt, sched, params, progress, augment, softTargets, selectBy, lossCfg, batchSize } = run;
  const trainLoader = run.loaders.train, valLoader = run.loaders.val;
  const runDir = files.dir;
  const save = (): void => saveState(run, st);
  const accum = config.effectiveBatchSize / batchSize;
  const nb = trainLoader.length;
  const N = trainLoader.sampleCount;
  const plan: AccumulationPlan = {
    accumulate: accum, microBatches: nb, weighting: accumulationWeighting(run.quirks),
    sizeAt: (i) => (i < nb - 1 ? batchSize : N - (nb - 1) * batchSize),
  };

  const E = st.epoch;
  const acc = st.epochSums ? MeanAccumulator.fromState(st.epochSums) : new MeanAccumulator();
  progress.epochStart(E + 1, config.maxEpochs, nb, st.batch);
  segmenter.train();
  const epochStart = performance.now();
  let epochImages = 0;
  let stepStart = performance.now();
  let stepLoss = 0, stepDice = 0, stepSamples = 0;
  let i = -1;
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
      const { logits, value } = backwardMicroBatch(segmenter,
        { pixels: normalise(images, segmenter.info), text: segmenter.tokenize(b.prompts), targets: lossTargets(masks, softTargets) },
        { weight: microBatchWeight(plan, i), amp, loss: lossCfg });
      if (!Number.isFinite(value)) return { value, dice: [] as number[] };
      return { value, dice: noGrad(() => diceIoU(logits, masks, { threshold: config.threshold }).dice) };
    });
    b.release(); // the tensors hold copies
    if (!Number.isFinite(r.value)) {
      const at = { what: `loss (${r.value})`, value: r.value, epoch: E, step: st.stepInEpoch + 1, globalStep: st.globalStep + 1, batch: i, batches: nb, names: b.names };
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
    if (closesStep(plan, i)) {
      // 16-mixed: unscale before clipping; inf/NaN gradients skip the step and lower the scale.
      let stepped: ReturnType<typeof optimizerStep>;
      try {
        stepped = optimizerStep(opt, params, {
          scaler: amp.scaler, gradClipNorm: config.gradClipNorm,
          onNonFinite: (gradNorm) => {
            const at = { what: `gradient norm (${gradNorm})`, value: gradNorm, epoch: E, step: st.stepInEpoch + 1, globalStep: st.globalStep + 1, batch: i, batches: nb, names: b.names };
            return run.quirks !== 'reference' ? nonFiniteError(at, files, st, opt) : new DivergedStep(at);
          },
        });
      } catch (e) {
        if (!(e instanceof DivergedStep)) throw e;
        const rec = endOnNonFiniteReference(run, st, e.at, epochStart);
        opts.onEpoch?.(rec);
        return;
      }
      const { lossScale, skipped } = stepped;
      st.globalStep++;
      st.stepInEpoch++;
      st.batch = i + 1;
      const now = performance.now();
      const rec: StepRecord = {
        type: 'step', epoch: E + 1, step: st.stepInEpoch, globalStep: st.globalStep, samples: stepSamples,
        loss: stepLoss / stepSamples, dice: stepDice / stepSamples, lr: opt.paramGroups[0]!.lr,
        imagesPerSecond: stepSamples / Math.max(1e-9, (now - stepStart) / 1000),
        ...(lossScale !== undefined ? { lossScale, skipped } : {}),
      };
      appendLine(files.metrics, rec);
      opts.onStep?.(rec);
      stepStart = now;
      stepLoss = stepDice = stepSamples = 0;
      const midEpoch = i < nb - 1;
      if (midEpoch && (opts.signal?.aborted || (config.checkpointEverySteps > 0 && st.stepInEpoch % config.checkpointEverySteps === 0))) {
        st.epochSums = acc.state();
        st.metricsBytes = statSync(files.metrics).size;
        save();
        if (opts.signal?.aborted) {
          throw new TrainingInterruptedError(`training interrupted at epoch ${E + 1}, step ${st.stepInEpoch} (global step ${st.globalStep}); ` +
            `resume with: ${shellCommand(['tunevlseg', 'train', '--resume', runDir])}`, runDir);
        }
      }
    }
    progress.batch(i + 1, {
      loss: acc.mean('loss'), dice: acc.mean('dice'),
      imagesPerSecond: epochImages / Math.max(1e-9, (performance.now() - epochStart) / 1000),
    });
  }
  const trainSeconds = (performance.now() - epochStart) / 1000;
  progress.validating();
  const val = await evaluateLoader(segmenter, valLoader, {
    threshold: config.threshold, loss: lossCfg, device, protocols: [selectBy], precision: config.precision,
    ...(run.evalAugment ? { augment: { ...run.evalAugment, epoch: E } } : {}),
  });
  const valLoss = validationLoss(run, st, val.loss, E); // fixed: throws on NaN/inf; reference: inf (non-finite.ts)
  const selectDice = val.protocols![selectBy]!.dice;
  const lrUsed = opt.paramGroups[0]!.lr;
  const lrReduced = sched.step(valLoss);
  if (valLoss < st.early.best - config.earlyStopping.minDelta) {
    st.early.best = valLoss;
    st.early.wait = 0;
  } else {
    st.early.wait++;
    if (config.earlyStopping.enabled && st.early.wait >= config.earlyStopping.patience) st.early.triggered = true;
  }
  const isBest = selectDice > st.best.dice;
  const rec: EpochRecord = {
    type: 'epoch', epoch: E + 1, globalStep: st.globalStep, trainLoss: acc.mean('loss'), trainDice: acc.mean('dice'),
    valLoss, valDice: val.dice, valIou: val.iou, valSelectDice: selectDice, lr: lrUsed, lrReduced, best: isBest,
    earlyStoppingWait: st.early.wait, seconds: (performance.now() - epochStart) / 1000,
    imagesPerSecond: epochImages / Math.max(1e-9, trainSeconds),
  };
  const metrics = { trainLoss: rec.trainLoss, trainDice: rec.trainDice, valLoss, valDice: val.dice, valIou: val.iou };
  if (isBest) {
    st.best = { dice: selectDice, epoch: E + 1 };
    saveCheckpoint(files.best, segmenter, { kind: 'best', model: config.model, metrics, epoch: E + 1, globalStep: st.globalStep });
  }
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
  } else if (st.early.triggered && (st.epoch >= config.minEpochs || !Number.isFinite(valLoss))) {
    st.done = true;
    st.stopReason = 'early_stopping';
  }
  st.metricsBytes = statSync(files.metrics).size;
  save();
  progress.epochEnd({ ...rec, maxEpochs: config.maxEpochs });
  opts.onEpoch?.(rec);
  if (st.done && st.stopReason === 'early_stopping' && Number.isFinite(valLoss)) {
    progress.message(`early stopping after epoch ${st.epoch}: no validation-loss improvement > ${config.earlyStopping.minDelta} for ${st.early.wait} epochs`);
  }
  if (opts.signal?.aborted && !st.done) {
    throw new TrainingInterruptedError(`training interrupted after epoch ${st.epoch}; resume with: ${shellCommand(['tunevlseg', 'train', '--resume', runDir])}`, runDir);
  }
}
