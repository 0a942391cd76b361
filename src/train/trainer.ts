/**
 * The training loop over any `Segmenter` (see docs/train.md):
 *
 * - AdamW over `segmenter.parameterGroups(weightDecay)`, gradient accumulation of `batchSize`
 *   passes up to `effectiveBatchSize` samples per step (each pass's loss weighted by its share
 *   of the step's samples, so a step's gradient equals the big batch's), optional norm clipping;
 * - ReduceLROnPlateau on the validation loss (factor 0.2, patience 5), min/max epochs, early
 *   stopping on the validation loss (patience 12, min delta 1e-4, Lightning semantics);
 * - `best.safetensors` (highest validation Dice) and `last.safetensors` checkpoints, a resume
 *   state at every epoch end (and every `checkpointEverySteps` optimizer steps), metrics.jsonl,
 *   summary.json with the best checkpoint's validation and test scores;
 * - determinism: `manualSeed(seed)` before the segmenter is built, a seeded loader (order,
 *   prompts), augmentation seeded per (seed, epoch, batch), and libtorch's generator re-seeded
 *   per (seed, epoch, batch) before each forward pass (dropout). A resumed run therefore
 *   replays exactly what an uninterrupted run does;
 * - a non-finite loss or gradient norm stops the run with an error naming the epoch and step;
 *   the optimizer never steps on it, and the run folder keeps its last good checkpoint;
 * - every training step runs inside `tidy`, evaluation under `noGrad`.
 */
import { appendFileSync, existsSync, readFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { hashSeed } from '../data/rng.js';
import type { BatchLoader } from '../data/loader.js';
import { loadSplit, splitFile, type PromptOptions, type DatasetSample } from '../data/format.js';
import { type Tensor, tidy, manualSeed, optim, dispose, noGrad } from '../torch/index.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { augmentBatch, resolveAugment } from './augment.js';
import {
  saveCheckpoint, loadCheckpointInto, saveResumeState, loadResumeState, writeFileAtomic,
  stringifyJson, parseJson, tunevlsegVersion,
} from './checkpoint.js';
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from './config.js';
import { batchTensors, loaderFor, normalise } from './inputs.js';
import { evaluateLoader, moduleDevice, lossTargets, softTargetsOf, type EvalMeans, type EvalResult } from './evaluate.js';
import { EVAL_PROTOCOLS, type EvalProtocol } from './protocols.js';
import { checkpointSelectionProtocol, optimizerGroups, passBatchSize } from './reference-semantics.js';
import { diceCELoss } from './loss.js';
import { mixedPrecision, float32, applyTf32For, type Precision } from './precision.js';
import type { GradScalerState } from './grad-scaler.js';
import { peakMemoryMeter, releaseCachedMemory, refuseBatchThatCannotFit, type PeakMemory } from './device-memory.js';
import { diceIoU, MeanAccumulator } from './metrics.js';
import { createProgress } from './progress.js';
import { runFiles, runDirOf, type RunFiles } from './run-folder.js';
import { acquireRunLock } from './run-lock.js';
import { checkRunFolderPlacement, startRunFolder, withAbsolutePaths, type RunFolderStart } from './run-start.js';
import { ensureOutputDir } from '../data/output-guard.js';
import { checkTrainingPairs, preflightHint } from '../data/preflight.js';
import { DatasetError } from '../data/format.js';

/** Builds the segmenter of a run from its `model` config section (the factory in src/tuning). */
export type BuildSegmenter = (model: Record<string, unknown>, config: TrainConfig) => Segmenter | Promise<Segmenter>;

export interface StepRecord {
  type: 'step';
  /** 1-based epoch */
  epoch: number;
  /** 1-based optimizer step within the epoch */
  step: number;
  /** optimizer steps done in the run */
  globalStep: number;
  /** samples in this step */
  samples: number;
  /** DiceCE of the step's samples (the loss its gradient is of) */
  loss: number;
  /** mean Dice (threshold 0.5) of the step's samples, on the augmented inputs */
  dice: number;
  lr: number;
  imagesPerSecond: number;
  /** 16-mixed: the loss scale used for this step, and whether the step was skipped (inf/NaN gradients) */
  lossScale?: number;
  skipped?: boolean;
}

export interface EpochRecord {
  type: 'epoch';
  /** 1-based epoch */
  epoch: number;
  globalStep: number;
  trainLoss: number;
  trainDice: number;
  valLoss: number;
  /** `model-resolution` validation Dice and IoU */
  valDice: number;
  valIou: number;
  /** the validation Dice that picks the best checkpoint (protocol: the summary's `checkpointSelection`) */
  valSelectDice: number;
  /** learning rate(s) used during the epoch (first group) */
  lr: number;
  /** ReduceLROnPlateau lowered the learning rate after this epoch */
  lrReduced: boolean;
  /** new best validation Dice (best.safetensors written) */
  best: boolean;
  /** epochs without validation-loss improvement */
  earlyStoppingWait: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainSummary {
  name: string;
  runDir: string;
  status: 'completed';
  stopReason: 'max_epochs' | 'early_stopping';
  epochs: number;
  globalSteps: number;
  bestEpoch: number;
  /**
   * the best checkpoint on the validation split: `dice`/`iou` under `metricsProtocol`, and
   * every evaluation protocol apart in `protocols` (src/train/protocols.ts)
   */
  val: EvalMeans;
  /** the best checkpoint on the test split (null: none), like `val` */
  test: EvalMeans | null;
  /** the protocol of the top-level `dice`/`iou` (and of every per-epoch validation score) */
  metricsProtocol: 'model-resolution';
  /** the segmenter's quirks mode: what the training semantics followed */
  quirks: 'reference' | 'fixed';
  /** samples per forward/backward pass (resolved: see config batchSize) */
  batchSize: number;
  /** the protocol of the validation Dice that picked `bestEpoch` (reference: Lightning's `val_dice`) */
  checkpointSelection: EvalProtocol;
  /** the last epoch's record */
  lastEpoch: EpochRecord;
  trainableParams: number;
  wallSeconds: number;
  resumes: number;
  seed: number;
  device: string;
  precision: Precision;
  /** TF32 flags in force on CUDA (null on CPU) */
  tf32: { matmul: boolean; cudnn: boolean } | null;
  /** peak memory of this session (since the last start or resume) */
  peakMemory: PeakMemory;
  /** training images per second over the run's epochs (forward + backward + optimizer) */
  imagesPerSecond: number;
  tunevlsegVersion: string;
  checkpoints: { best: string; last: string };
}

export interface TrainOptions {
  buildSegmenter: BuildSegmenter;
  /** Continue the interrupted run in `<runsDir>/<name>` from its resume state. */
  resume?: boolean;
  /** Replace an existing run folder of the same name (otherwise that is an error). */
  overwrite?: boolean;
  onStep?: (r: StepRecord) => void;
  onEpoch?: (r: EpochRecord) => void;
  /** Aborting stops at the next optimizer step, after writing a resume state there. */
  signal?: AbortSignal;
  /** Progress bar stream (default stderr). */
  stream?: NodeJS.WritableStream;
  /** Where "lines" progress goes (default console.log). */
  log?: (line: string) => void;
}

/** The loss (or gradient norm) became NaN/Inf. */
export class NonFiniteLossError extends Error {
  constructor(
    message: string,
    readonly epoch: number,
    readonly step: number,
    readonly globalStep: number,
    readonly value: number,
    readonly lastGoodCheckpoint: string,
  ) {
    super(message);
    this.name = 'NonFiniteLossError';
  }
}

/** Training stopped by its AbortSignal; the run can be resumed. */
export class TrainingInterruptedError extends Error {
  constructor(message: string, readonly runDir: string) {
    super(message);
    this.name = 'TrainingInterruptedError';
  }
}

/** What the resume state stores besides tensors (JSON in its metadata). */
export interface TrainerState {
  /** 0-based index of the epoch in progress (or the next one, at an epoch boundary). */
  epoch: number;
  /** Batches (forward/backward passes) of that epoch already done: the loader position. */
  batch: number;
  stepInEpoch: number;
  globalStep: number;
  /** The epoch loop is over (stopReason says why); what remains is the final evaluation. */
  done: boolean;
  stopReason: 'max_epochs' | 'early_stopping' | null;
  scheduler: Record<string, number>;
  early: { best: number; wait: number; triggered: boolean };
  best: { dice: number; epoch: number };
  /** Running train loss/Dice sums of the epoch in progress (mid-epoch state). */
  epochSums: { sums: Record<string, number>; counts: Record<string, number> } | null;
  /** Size of metrics.jsonl at this point (a resume truncates it here). */
  metricsBytes: number;
  elapsedSeconds: number;
  resumes: number;
  history: EpochRecord[];
  /** The seeds every random choice derives from: loader (order, prompts), augmentation, libtorch. */
  rng: { seed: number; note: string };
  /** Samples per split when the run started (a resume checks the dataset did not change). */
  dataset: { train: number; val: number; test: number };
  /** 16-mixed: the loss scaler's state (null otherwise). */
  scaler?: GradScalerState | null;
}

/** Reads a run folder's resolved configuration (config.json). */
export function readRunConfig(runDir: string): TrainConfig {
  const file = runFiles(runDir).config;
  if (!existsSync(file)) throw new Error(`${runDir}: not a run folder (no config.json)`);
  return parseTrainConfig(parseJson<unknown>(readFileSync(file, 'utf8')));
}

/** Continues an interrupted run (its folder holds config.json and a resume state). */
export async function resumeRun(runDir: string, opts: Omit<TrainOptions, 'resume' | 'overwrite'>): Promise<TrainSummary> {
  const config = readRunConfig(runDir);
  // The folder may have moved since: resume where it is now.
  const dir = path.resolve(runDir);
  return train({ ...config, runsDir: path.dirname(dir), name: path.basename(dir) }, { ...opts, resume: true });
}

const appendLine = (file: string, rec: unknown): void => {
  try {
    appendFileSync(file, `${stringifyJson(rec)}\n`);
  } catch (e) {
    // Node's write errors (ENOSPC, EIO) name no file; say which one.
    throw new Error(`${file}: cannot write file: ${(e as Error).message}`, { cause: e });
  }
};

function promptOptionsOf(c: TrainConfig): PromptOptions {
  return {
    promptKey: c.data.promptKey,
    appendFullStop: c.data.appendFullStop,
    ...(c.data.overridePrompt !== null ? { overridePrompt: c.data.overridePrompt } : {}),
  };
}

/**
 * Trains a segmenter as configured; see the file header and docs/train.md. The run folder is
 * locked against other processes for the whole run (src/train/run-lock.ts).
 */
export async function train(input: TrainConfigInput | TrainConfig, opts: TrainOptions): Promise<TrainSummary> {
  const typed = parseTrainConfig(input);
  // An unusable runs folder (/proc/x, read-only, a file) fails here, named as the user typed it.
  ensureOutputDir(typed.runsDir, 'runs folder (runsDir)');
  const config = withAbsolutePaths(typed);
  checkRunFolderPlacement(runDirOf(config), config);
  const lock = acquireRunLock(runDirOf(config));
  try {
    return await trainLocked(config, opts);
  } finally {
    lock.release();
  }
}

async function trainLocked(config: TrainConfig, opts: TrainOptions): Promise<TrainSummary> {
  const files = runFiles(runDirOf(config));
  const runDir = files.dir;
  if (opts.resume) {
    if (!existsSync(files.resume)) throw new Error(`${runDir}: nothing to resume (no checkpoints/resume/state.safetensors)`);
    if (existsSync(files.summary)) throw new Error(`${runDir}: the run has already finished (summary.json exists)`);
  } else {
    if (existsSync(runDir) && readdirSync(runDir).length > 0 && !opts.overwrite) {
      throw new Error(`run folder ${runDir} already exists: resume it (--resume), pick another name, or overwrite it`);
    }
  }
  const sessionStart = performance.now();
  const progress = createProgress(config.progress, { ...(opts.stream ? { stream: opts.stream } : {}), ...(opts.log ? { log: opts.log } : {}) });

  // Data first: a dataset problem should fail before a run folder is made or a large model built.
  const promptOpts = promptOptionsOf(config);
  const trainSamples = await loadSplit(config.data.dir, config.data.trainSplit, promptOpts);
  const valSamples = await loadSplit(config.data.dir, config.data.valSplit, promptOpts);
  let testSamples: DatasetSample[] | null = null;
  if (config.data.testSplit !== null) {
    if (existsSync(splitFile(config.data.dir, config.data.testSplit))) testSamples = await loadSplit(config.data.dir, config.data.testSplit, promptOpts);
    else progress.message(`note: ${splitFile(config.data.dir, config.data.testSplit)} not found: no test evaluation`);
  }
  if (trainSamples.length === 0) throw new Error(`${splitFile(config.data.dir, config.data.trainSplit)}: the training split is empty`);
  if (valSamples.length === 0) throw new Error(`${splitFile(config.data.dir, config.data.valSplit)}: the validation split is empty`);
  const pairIssues = await checkTrainingPairs([...trainSamples, ...valSamples, ...(testSamples ?? [])]);
  if (pairIssues.length > 0) throw DatasetError.fromIssues(`dataset ${config.data.dir} (${preflightHint(config.data.dir)})`, pairIssues);

  // The model is built before the run folder is touched: a bad model config must not cost a run.
  manualSeed(config.seed);
  const segmenter = await opts.buildSegmenter(config.model, config);
  const loaders: BatchLoader[] = [];
  let optimizer: optim.AdamW | null = null;
  let folder: RunFolderStart | null = null;
  try {
    if (!opts.resume) {
      folder = startRunFolder(runDir, opts.overwrite === true);
      writeFileAtomic(files.config, `${stringifyJson(config, 2)}\n`);
    }
    if (config.device !== 'auto') segmenter.to(config.device);
    const device = moduleDevice(segmenter);
    const amp = mixedPrecision(config.precision, device);
    const tf32 = applyTf32For(config.tf32, device);
    const memory = peakMemoryMeter(device);
    const common = {
      ...promptOpts, imageSize: config.data.imageSize,
      ...(config.data.workers !== null ? { workers: config.data.workers } : {}),
    };
    const quirks = segmenter.quirks ?? 'reference';
    const batchSize = passBatchSize(config.batchSize, config.effectiveBatchSize, segmenter);
    if (config.effectiveBatchSize % batchSize !== 0) throw new Error(`effectiveBatchSize ${config.effectiveBatchSize} must be a multiple of the pass size ${batchSize}`);
    const softTargets = softTargetsOf(segmenter);
    const selectBy = checkpointSelectionProtocol(quirks);
    const augment = resolveAugment(config.augment, quirks);
    const evalBatch = config.evalBatchSize ?? batchSize;
    const trainLoader = loaderFor(segmenter, trainSamples, { ...common, batchSize, shuffle: true, train: true, seed: config.seed });
    const valLoader = loaderFor(segmenter, valSamples, { ...common, batchSize: evalBatch, shuffle: false, train: false, seed: config.seed });
    const testLoader = testSamples && testSamples.length > 0
      ? loaderFor(segmenter, testSamples, { ...common, batchSize: evalBatch, shuffle: false, train: false, seed: config.seed }) : null;
    loaders.push(trainLoader, valLoader, ...(testLoader ? [testLoader] : []));

    const opt = (optimizer = new optim.AdamW(optimizerGroups(segmenter, config.weightDecay), {
      lr: config.lr, betas: config.betas, eps: config.eps, weightDecay: config.weightDecay,
    }));
    const params = opt.paramGroups.flatMap((g) => g.params);
    if (params.length === 0) throw new Error('the segmenter has no trainable parameters (parameterGroups returned none)');
    const trainableParams = params.reduce((s, p) => s + p.numel, 0);
    refuseBatchThatCannotFit(segmenter, amp, device, batchSize, config.data.imageSize ?? segmenter.info.imageSize, [trainSamples[0]!.prompts[config.data.promptKey] ?? 'a photo'].flat()[0]!, params);
    const sched = new optim.ReduceLROnPlateau(opt, {
      mode: 'min', factor: config.plateau.factor, patience: config.plateau.patience, threshold: config.plateau.threshold, minLr: config.plateau.minLr,
    });

    const sizes = { train: trainSamples.length, val: valSamples.length, test: testSamples?.length ?? 0 };
    let st: TrainerState;
    if (opts.resume) {
      const r = loadResumeState<TrainerState>(files.resume);
      try {
        segmenter.loadLearnableState(r.model, files.resume);
        opt.loadStateDict(r.optimizer);
      } finally {
        dispose([...r.model.values(), ...r.optimizer.tensors.values()]);
      }
      st = r.trainer;
      if (st.dataset.train !== sizes.train || st.dataset.val !== sizes.val || st.dataset.test !== sizes.test) {
        throw new Error(`${runDir}: the dataset changed since the run started (train/val/test samples ${st.dataset.train}/${st.dataset.val}/${st.dataset.test}, ` +
          `now ${sizes.train}/${sizes.val}/${sizes.test}): the run cannot be resumed exactly`);
      }
      sched.loadStateDict(st.scheduler);
      if (amp.scaler && st.scaler) amp.scaler.loadStateDict(st.scaler);
      if (existsSync(files.metrics)) truncateSync(files.metrics, st.metricsBytes);
      st.resumes++;
      appendLine(files.metrics, { type: 'resume', epoch: st.epoch + 1, batch: st.batch, globalStep: st.globalStep, resumes: st.resumes });
      st.metricsBytes = statSync(files.metrics).size;
      progress.message(st.done ? `resuming ${runDir}: training done, final evaluation`
        : `resuming ${runDir} at epoch ${st.epoch + 1}, batch ${st.batch}/${trainLoader.length} (global step ${st.globalStep})`);
    } else {
      st = {
        epoch: 0, batch: 0, stepInEpoch: 0, globalStep: 0, done: false, stopReason: null,
        scheduler: sched.stateDict(),
        early: { best: Infinity, wait: 0, triggered: false },
        best: { dice: -Infinity, epoch: 0 },
        epochSums: null, metricsBytes: 0, elapsedSeconds: 0, resumes: 0, history: [],
        rng: { seed: config.seed, note: 'loader order/prompts: (seed, epoch); augmentation and libtorch generator: (seed, epoch, batch)' },
        dataset: sizes,
      };
      writeFileAtomic(files.metrics, '');
      saveCheckpoint(files.last, segmenter, { kind: 'initial', model: config.model, metrics: {}, epoch: 0, globalStep: 0 });
      saveResumeState(files.resume, segmenter, opt, st);
      folder?.commit(); // resumable from here on
    }
    const elapsedBase = st.elapsedSeconds;
    const elapsed = (): number => elapsedBase + (performance.now() - sessionStart) / 1000;
    const save = (): void => {
      st.scheduler = sched.stateDict();
      st.scaler = amp.scaler?.stateDict() ?? null;
      st.elapsedSeconds = elapsed();
      saveResumeState(files.resume, segmenter, opt, st);
    };

    const accum = config.effectiveBatchSize / batchSize;
    const nb = trainLoader.length;
    const N = trainLoader.sampleCount;
    const batchSizeAt = (i: number): number => (i < nb - 1 ? batchSize : N - (nb - 1) * batchSize);
    const groupSamples = (g: number): number => {
      let s = 0;
      for (let i = g * accum; i < Math.min(nb, (g + 1) * accum); i++) s += batchSizeAt(i);
      return s;
    };
    const lossCfg = { lambdaDice: config.loss.lambdaDice, lambdaCe: config.loss.lambdaCe };

    while (!st.done) {
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
        const g = Math.floor(i / accum);
        const weight = b.size / groupSamples(g);
        const r = tidy(() => {
          let { images, masks } = batchTensors(b, device);
          if (augment.p > 0) ({ images, masks } = augmentBatch(images, masks, augment, { seed: config.seed, epoch: E, step: i }));
          manualSeed(hashSeed(config.seed, E, i, 0x70c4));
          const { logits, loss } = amp.run(() => {
            const logits = float32(segmenter.forward(normalise(images, segmenter.info), segmenter.tokenize(b.prompts)));
            return { logits, loss: diceCELoss(logits, lossTargets(masks, softTargets), lossCfg).loss };
          });
          const value = loss.item();
          if (!Number.isFinite(value)) return { value, dice: [] as number[] };
          const weighted = loss.mul(weight);
          (amp.scaler ? amp.scaler.scaleLoss(weighted) : weighted).backward();
          return { value, dice: noGrad(() => diceIoU(logits, masks, { threshold: config.threshold }).dice) };
        });
        b.release(); // the tensors hold copies
        if (!Number.isFinite(r.value)) {
          throw nonFinite(`loss (${r.value})`, r.value, E, st.stepInEpoch + 1, st.globalStep + 1, i, nb, b.names, files, st, opt);
        }
        acc.add('loss', r.value, b.size);
        acc.add('dice', r.dice);
        stepLoss += r.value * b.size;
        for (const d of r.dice) stepDice += d;
        stepSamples += b.size;
        epochImages += b.size;
        if ((i + 1) % accum === 0 || i === nb - 1) {
          // 16-mixed: unscale before clipping; inf/NaN gradients skip the step and lower the scale.
          const lossScale = amp.scaler?.scale;
          const skipped = amp.scaler ? amp.scaler.unscale(params) : false;
          const gradNorm = config.gradClipNorm !== null ? optim.clipGradNorm_(params, config.gradClipNorm) : skipped ? NaN : globalGradNorm(params);
          if (!skipped && !Number.isFinite(gradNorm)) {
            throw nonFinite(`gradient norm (${gradNorm})`, gradNorm, E, st.stepInEpoch + 1, st.globalStep + 1, i, nb, b.names, files, st, opt);
          }
          if (!skipped) opt.step();
          amp.scaler?.update();
          opt.zeroGrad();
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
                `resume with: tunevlseg train --resume ${runDir}`, runDir);
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
      const val = await evaluateLoader(segmenter, valLoader, { threshold: config.threshold, loss: lossCfg, device, protocols: [selectBy], precision: config.precision });
      const selectDice = val.protocols![selectBy]!.dice;
      const lrUsed = opt.paramGroups[0]!.lr;
      const lrReduced = sched.step(val.loss);
      if (val.loss < st.early.best - config.earlyStopping.minDelta) {
        st.early.best = val.loss;
        st.early.wait = 0;
      } else {
        st.early.wait++;
        if (config.earlyStopping.enabled && st.early.wait >= config.earlyStopping.patience) st.early.triggered = true;
      }
      const isBest = selectDice > st.best.dice;
      const rec: EpochRecord = {
        type: 'epoch', epoch: E + 1, globalStep: st.globalStep, trainLoss: acc.mean('loss'), trainDice: acc.mean('dice'),
        valLoss: val.loss, valDice: val.dice, valIou: val.iou, valSelectDice: selectDice, lr: lrUsed, lrReduced, best: isBest,
        earlyStoppingWait: st.early.wait, seconds: (performance.now() - epochStart) / 1000,
        imagesPerSecond: epochImages / Math.max(1e-9, trainSeconds),
      };
      const metrics = { trainLoss: rec.trainLoss, trainDice: rec.trainDice, valLoss: val.loss, valDice: val.dice, valIou: val.iou };
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
      } else if (st.early.triggered && st.epoch >= config.minEpochs) {
        st.done = true;
        st.stopReason = 'early_stopping';
      }
      st.metricsBytes = statSync(files.metrics).size;
      save();
      progress.epochEnd({ ...rec, maxEpochs: config.maxEpochs });
      opts.onEpoch?.(rec);
      if (st.done && st.stopReason === 'early_stopping') {
        progress.message(`early stopping after epoch ${st.epoch}: no validation-loss improvement > ${config.earlyStopping.minDelta} for ${st.early.wait} epochs`);
      }
      if (opts.signal?.aborted && !st.done) {
        throw new TrainingInterruptedError(`training interrupted after epoch ${st.epoch}; resume with: tunevlseg train --resume ${runDir}`, runDir);
      }
    }

    // Final evaluation of the best checkpoint.
    progress.message(`evaluating the best checkpoint (epoch ${st.best.epoch}, val Dice ${st.best.dice.toFixed(4)})`);
    loadCheckpointInto(segmenter, files.best);
    const evalOpts = { threshold: config.threshold, loss: lossCfg, device, protocols: EVAL_PROTOCOLS, precision: config.precision };
    const valRes = await evaluateLoader(segmenter, valLoader, evalOpts);
    const testRes = testLoader ? await evaluateLoader(segmenter, testLoader, evalOpts) : null;
    writeEval(path.join(files.evalDir, 'val.json'), config.data.valSplit, valRes);
    if (testRes && config.data.testSplit) writeEval(path.join(files.evalDir, 'test.json'), config.data.testSplit, testRes);
    const means = (r: EvalResult): EvalMeans => ({ samples: r.samples, loss: r.loss, dice: r.dice, iou: r.iou, ...(r.protocols ? { protocols: r.protocols } : {}) });
    const summary: TrainSummary = {
      name: config.name, runDir, status: 'completed', stopReason: st.stopReason ?? 'max_epochs',
      epochs: st.epoch, globalSteps: st.globalStep, bestEpoch: st.best.epoch,
      val: means(valRes), test: testRes ? means(testRes) : null,
      lastEpoch: st.history[st.history.length - 1]!,
      metricsProtocol: 'model-resolution', quirks, batchSize, checkpointSelection: selectBy,
      trainableParams, wallSeconds: elapsed(), resumes: st.resumes, seed: config.seed, device,
      precision: config.precision, tf32: tf32 ? { matmul: tf32.tf32Matmul, cudnn: tf32.tf32Cudnn } : null,
      peakMemory: memory.read(), imagesPerSecond: trainImagesPerSecond(st.history, trainSamples.length),
      tunevlsegVersion: tunevlsegVersion(),
      checkpoints: { best: path.relative(runDir, files.best), last: path.relative(runDir, files.last) },
    };
    appendLine(files.metrics, { type: 'final', val: summary.val, test: summary.test, bestEpoch: summary.bestEpoch });
    writeFileAtomic(files.summary, `${stringifyJson(summary, 2)}\n`);
    const t = summary.test;
    const orig = t?.protocols?.['original-size'];
    progress.message(`done: ${summary.epochs} epochs (${summary.stopReason}), best epoch ${summary.bestEpoch}: val Dice ${summary.val.dice.toFixed(4)} IoU ${summary.val.iou.toFixed(4)}` +
      (t ? `, test Dice ${t.dice.toFixed(4)} IoU ${t.iou.toFixed(4)} (model-resolution)` : '') +
      (orig ? `, ${orig.dice.toFixed(4)} / ${orig.iou.toFixed(4)} (original-size)` : '') + ` -> ${files.summary}`);
    return summary;
  } catch (e) {
    folder?.rollback();
    throw e;
  } finally {
    progress.close();
    await Promise.all(loaders.map((l) => l.close()));
    optimizer?.dispose();
    segmenter.dispose();
    releaseCachedMemory(); // CUDA: hand the cached blocks back (a sweep's next trial starts clean)
  }
}

/** Training images per second over all epochs: N images per epoch over each epoch's training time. */
function trainImagesPerSecond(history: readonly EpochRecord[], n: number): number {
  const seconds = history.reduce((s, r) => s + (r.imagesPerSecond > 0 ? n / r.imagesPerSecond : 0), 0);
  return seconds > 0 ? (n * history.length) / seconds : 0;
}

function writeEval(file: string, split: string, r: EvalResult): void {
  writeFileAtomic(file, `${stringifyJson({ split, samples: r.samples, loss: r.loss, dice: r.dice, iou: r.iou, metricsProtocol: 'model-resolution', protocols: r.protocols ?? null, perSample: r.perSample }, 1)}\n`);
}

/** L2 norm of all gradients (parameters without a gradient are skipped), without modifying them. */
function globalGradNorm(params: Tensor[]): number {
  return tidy(() => {
    let total = 0;
    for (const p of params) {
      const g = p.grad;
      if (g === null) continue;
      total += g.to('float64').square().sum().item();
    }
    return Math.sqrt(total);
  });
}

function nonFinite(
  what: string, value: number, epoch: number, step: number, globalStep: number, batch: number, batches: number,
  names: string[], files: RunFiles, st: TrainerState, opt: optim.Optimizer,
): NonFiniteLossError {
  opt.zeroGrad();
  const lastEpoch = st.history.length;
  const sample = names.slice(0, 4).join(', ') + (names.length > 4 ? `, ... (${names.length})` : '');
  const msg = `non-finite ${what} at epoch ${epoch + 1}, step ${step} (batch ${batch + 1}/${batches}, global step ${globalStep}; samples: ${sample}). ` +
    `No update was applied. The run folder keeps the last good checkpoint: ${files.last} ` +
    `(${lastEpoch > 0 ? `after epoch ${lastEpoch}` : 'the initial weights'}), and a resume state at ${files.resume}. ` +
    'Lower the learning rate, enable gradClipNorm, or check the data.';
  appendLine(files.metrics, { type: 'error', error: 'non_finite', what, epoch: epoch + 1, step, globalStep, batch: batch + 1, samples: names });
  return new NonFiniteLossError(msg, epoch + 1, step, globalStep, value, files.last);
}
