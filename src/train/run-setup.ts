/**
 * The first two stages of a training run (trainer.ts runs them in order):
 * - `loadRunData`: the splits, checked before anything is built or written;
 * - `setupRun`: device, precision, loaders, optimizer and scheduler around a built segmenter,
 *   gathered in one `TrainingRun` that the epoch and final-evaluation stages read;
 * - `startState` / `resumeState`: a fresh run's state (and its first resume state on disk), or
 *   the state of an interrupted run read back exactly.
 */
import { appendFileSync, existsSync, statSync, truncateSync } from 'node:fs';
import type { BatchLoader } from '../data/loader.js';
import {
  DatasetError,
  loadSplit,
  promptOptions,
  readDatasetDescription,
  splitFile,
  type DatasetSample,
  type Split,
} from '../data/format.js';
import { checkTrainingPairs, preflightHint } from '../data/preflight.js';
import { warnAboutRepairs } from '../data/repairs.js';
import { dispose, optim, type Tensor } from '../torch/index.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { resolveAugment, type AugmentConfig } from '../inference/augment.js';
import { loadResumeState, saveCheckpoint, saveResumeState } from './checkpoint.js';
import { stringifyJson } from '../util/json.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { TrainConfig } from './config.js';
import { quirksOfModel } from './reference-defaults.js';
import { peakMemoryMeter, refuseBatchThatCannotFit } from './device-memory.js';
import { softTargetsOf } from '../inference/batch-scores.js';
import { moduleDevice } from '../inference/forward.js';
import { loaderFor } from '../inference/inputs.js';
import { applyTf32For } from '../inference/precision.js';
import { mixedPrecision } from './precision.js';
import type { ProgressReporter } from './progress.js';
import type { EvalProtocol } from '../inference/protocols.js';
import type { TrainerState } from './records.js';
import { monitorStart, validationEvery as validationEveryOf } from './validation-rules.js';
import { evalAugmentOf, evalAugmentStreams, splitRead, type EvalAugmentStreams } from './run-evaluation.js';
import { checkpointSelectionProtocol, passBatchSize } from './reference-semantics.js';
import type { RunFiles } from './run-folder.js';
import { buildOptimizer } from './step.js';

/** Appends one JSON line to metrics.jsonl (write errors name the file: Node's ENOSPC names none). */
export function appendLine(file: string, rec: unknown): void {
  try {
    appendFileSync(file, `${stringifyJson(rec)}\n`);
  } catch (e) {
    throw new Error(`${file}: cannot write file: ${(e as Error).message}`, { cause: e });
  }
}

export interface RunData {
  train: DatasetSample[];
  val: DatasetSample[];
  /** null: no test split (none configured, or its file is missing: noted). */
  test: DatasetSample[] | null;
  /** the split `test` was read from (the configured one, or the dataset's reference test split) */
  testSplit: Split | null;
  /** val and test go through the training augmentation (`data.evalAugment`, resolved) */
  evalAugment: boolean;
}

/**
 * The run's splits, checked (non-empty train/val, image/mask pairs) before anything is built or
 * written. With quirks reference, a dataset whose dataset.json describes the original's
 * evaluation (VOC, Cityscapes: `configs/data/image_dir_text_mask_*.yaml`) is evaluated as the
 * original does: val/test augmented, and its reference test split (val) when it has no test split.
 */
export async function loadRunData(config: TrainConfig, note: (line: string) => void): Promise<RunData> {
  const promptOpts = promptOptions(config.data);
  const { reference } = await readDatasetDescription(config.data.dir);
  // What the original's data config says, followed under quirks reference only.
  const ref = quirksOfModel(config.model) === 'reference' ? reference : null;
  const train = await loadSplit(config.data.dir, config.data.trainSplit, promptOpts);
  const val = await loadSplit(config.data.dir, config.data.valSplit, promptOpts);
  let test: DatasetSample[] | null = null;
  let testSplit: Split | null = null;
  if (config.data.testSplit !== null) {
    const own = config.data.testSplit;
    const read = splitRead(config.data.dir, own, ref);
    if (read.note) note(read.note);
    if (existsSync(splitFile(config.data.dir, read.split))) testSplit = read.split;
    else note(`note: ${splitFile(config.data.dir, own)} not found: no test evaluation`);
    if (testSplit !== null) test = testSplit === config.data.valSplit ? val : await loadSplit(config.data.dir, testSplit, promptOpts);
  }
  const evalAugment = evalAugmentOf(config, reference);
  if (evalAugment && config.data.evalAugment === null) {
    note(
      `note: val and test go through the training augmentation, as the original's ${ref!.dataConfig} (dataset.json "reference"; data.evalAugment: false to turn it off)`,
    );
  }
  if (train.length === 0) throw new Error(`${splitFile(config.data.dir, config.data.trainSplit)}: the training split is empty`);
  if (val.length === 0) throw new Error(`${splitFile(config.data.dir, config.data.valSplit)}: the validation split is empty`);
  const pairIssues = await checkTrainingPairs([...train, ...val, ...(test ?? [])]);
  if (pairIssues.length > 0) throw DatasetError.fromIssues(`dataset ${config.data.dir} (${preflightHint(config.data.dir)})`, pairIssues);
  await warnAboutRepairs([...new Set([...train, ...val, ...(test ?? [])].map((s) => s.imagePath))], { root: config.data.dir });
  return { train, val, test, testSplit, evalAugment };
}

/** Everything the epoch and final-evaluation stages share. */
export interface TrainingRun {
  config: TrainConfig;
  files: RunFiles;
  segmenter: Segmenter;
  device: string;
  amp: ReturnType<typeof mixedPrecision>;
  tf32: ReturnType<typeof applyTf32For>;
  memory: ReturnType<typeof peakMemoryMeter>;
  quirks: 'reference' | 'fixed';
  /** samples per forward/backward pass */
  batchSize: number;
  softTargets: boolean;
  /** the protocol of the validation Dice that picks the best checkpoint */
  selectBy: EvalProtocol;
  /** validation after every this many training passes of an epoch (validation-rules.ts) */
  validationEvery: number;
  augment: AugmentConfig;
  /** val/test inputs augmented as in training (null: not) with these settings and streams */
  evalAugment: EvalAugmentStreams | null;
  /** the split the test loader reads (null: no test evaluation) */
  testSplit: Split | null;
  loaders: { train: BatchLoader; val: BatchLoader; test: BatchLoader | null };
  opt: optim.AdamW;
  sched: optim.ReduceLROnPlateau;
  params: Tensor[];
  trainableParams: number;
  lossCfg: TrainConfig['loss'];
  sizes: { train: number; val: number; test: number };
  progress: ProgressReporter;
  /** Seconds of training over all sessions so far (set once the state is known). */
  elapsed: () => number;
}

/**
 * Builds the run around a built segmenter. Loaders and the optimizer are handed to `own` as
 * soon as they exist, so that the caller closes them even when a later step fails.
 */
export function setupRun(
  config: TrainConfig,
  files: RunFiles,
  segmenter: Segmenter,
  data: RunData,
  progress: ProgressReporter,
  sessionStart: number,
  own: { loaders: BatchLoader[]; optimizer: optim.AdamW | null },
): TrainingRun {
  if (config.device !== 'auto') segmenter.to(config.device);
  const device = moduleDevice(segmenter);
  const amp = mixedPrecision(config.precision, device);
  const tf32 = applyTf32For(config.tf32, device);
  const memory = peakMemoryMeter(device);
  const common = {
    ...promptOptions(config.data),
    imageSize: config.data.imageSize,
    ...(config.data.workers !== null ? { workers: config.data.workers } : {}),
  };
  const quirks = segmenter.quirks ?? 'reference';
  const batchSize = passBatchSize(config.batchSize, config.effectiveBatchSize, segmenter, (line) => progress.message(line));
  if (config.effectiveBatchSize % batchSize !== 0)
    throw new Error(`effectiveBatchSize ${config.effectiveBatchSize} must be a multiple of the pass size ${batchSize}`);
  const evalBatch = config.evalBatchSize ?? batchSize;
  const loaders = {
    train: loaderFor(segmenter, data.train, { ...common, batchSize, shuffle: true, train: true, seed: config.seed }),
    val: loaderFor(segmenter, data.val, { ...common, batchSize: evalBatch, shuffle: false, train: false, seed: config.seed }),
    test:
      data.test && data.test.length > 0
        ? loaderFor(segmenter, data.test, { ...common, batchSize: evalBatch, shuffle: false, train: false, seed: config.seed })
        : null,
  };
  own.loaders.push(loaders.train, loaders.val, ...(loaders.test ? [loaders.test] : []));
  const validationEvery = validationEveryOf(config.valCheckInterval, loaders.train.length);

  const opt = (own.optimizer = buildOptimizer(segmenter, {
    lr: config.lr,
    weightDecay: config.weightDecay,
    betas: config.betas,
    eps: config.eps,
  }));
  const params = opt.paramGroups.flatMap((g) => g.params);
  if (params.length === 0) throw new Error('the segmenter has no trainable parameters (parameterGroups returned none)');
  refuseBatchThatCannotFit(
    segmenter,
    amp,
    device,
    batchSize,
    config.data.imageSize ?? segmenter.info.imageSize,
    [data.train[0]!.prompts[config.data.promptKey] ?? 'a photo'].flat()[0]!,
    params,
  );
  const sched = new optim.ReduceLROnPlateau(opt, {
    mode: 'min',
    factor: config.plateau.factor,
    patience: config.plateau.patience,
    threshold: config.plateau.threshold,
    minLr: config.plateau.minLr,
  });
  const augment = resolveAugment(config.augment, quirks);
  return {
    config,
    files,
    segmenter,
    device,
    amp,
    tf32,
    memory,
    quirks,
    batchSize,
    softTargets: softTargetsOf(segmenter),
    selectBy: checkpointSelectionProtocol(quirks),
    validationEvery,
    augment,
    evalAugment: data.evalAugment ? evalAugmentStreams(config, quirks) : null,
    testSplit: data.testSplit,
    loaders,
    opt,
    sched,
    params,
    trainableParams: params.reduce((s, p) => s + p.numel, 0),
    lossCfg: { ...config.loss },
    sizes: { train: data.train.length, val: data.val.length, test: data.test?.length ?? 0 },
    progress,
    elapsed: () => (performance.now() - sessionStart) / 1000,
  };
}

/** A fresh run's state; writes the empty metrics file, the initial checkpoint and the first resume state. */
export function startState(run: TrainingRun): TrainerState {
  const { config, files, segmenter, opt, sched } = run;
  const st: TrainerState = {
    epoch: 0,
    batch: 0,
    stepInEpoch: 0,
    globalStep: 0,
    done: false,
    stopReason: null,
    scheduler: sched.stateDict(),
    early: { best: monitorStart(config.earlyStopping.monitor), wait: 0, triggered: false },
    best: { dice: -Infinity, epoch: 0, batch: 0, globalStep: 0, index: -1 },
    validations: 0,
    lastVal: null,
    epochBest: false,
    epochSums: null,
    metricsBytes: 0,
    elapsedSeconds: 0,
    resumes: 0,
    history: [],
    rng: { seed: config.seed, note: 'loader order/prompts: (seed, epoch); augmentation and libtorch generator: (seed, epoch, batch)' },
    dataset: run.sizes,
  };
  writeFileAtomic(files.metrics, '');
  saveCheckpoint(files.last, segmenter, { kind: 'initial', model: config.model, metrics: {}, epoch: 0, globalStep: 0 });
  saveResumeState(files.resume, segmenter, opt, st);
  return st;
}

/** An interrupted run's state, model, optimizer, scheduler and loss scaler, read back exactly. */
export function resumeState(run: TrainingRun): TrainerState {
  const { files, segmenter, opt, sched, amp, sizes } = run;
  const runDir = files.dir;
  const r = loadResumeState<TrainerState>(files.resume);
  try {
    segmenter.loadLearnableState(r.model, files.resume);
    opt.loadStateDict(r.optimizer);
  } finally {
    dispose([...r.model.values(), ...r.optimizer.tensors.values()]);
  }
  const st = withValidationState(r.trainer);
  if (st.dataset.train !== sizes.train || st.dataset.val !== sizes.val || st.dataset.test !== sizes.test) {
    throw new Error(
      `${runDir}: the dataset changed since the run started (train/val/test samples ${st.dataset.train}/${st.dataset.val}/${st.dataset.test}, ` +
        `now ${sizes.train}/${sizes.val}/${sizes.test}): the run cannot be resumed exactly`,
    );
  }
  sched.loadStateDict(st.scheduler);
  if (amp.scaler && st.scaler) amp.scaler.loadStateDict(st.scaler);
  if (existsSync(files.metrics)) truncateSync(files.metrics, st.metricsBytes);
  st.resumes++;
  appendLine(files.metrics, { type: 'resume', epoch: st.epoch + 1, batch: st.batch, globalStep: st.globalStep, resumes: st.resumes });
  st.metricsBytes = statSync(files.metrics).size;
  run.progress.message(
    st.done
      ? `resuming ${runDir}: training done, final evaluation`
      : `resuming ${runDir} at epoch ${st.epoch + 1}, batch ${st.batch}/${run.loaders.train.length} (global step ${st.globalStep})`,
  );
  return st;
}

/**
 * A resume state written before validations could run inside an epoch: one validation per
 * completed epoch, the best one at its epoch's end.
 */
function withValidationState(st: TrainerState): TrainerState {
  const legacy = st as Omit<TrainerState, 'validations' | 'lastVal' | 'epochBest'> &
    Partial<Pick<TrainerState, 'validations' | 'lastVal' | 'epochBest'>>;
  const best = st.best as { dice: number; epoch: number } & Partial<TrainerState['best']>;
  const last = st.history[st.history.length - 1];
  return {
    ...st,
    validations: legacy.validations ?? st.epoch,
    lastVal:
      legacy.lastVal !== undefined
        ? legacy.lastVal
        : last
          ? { loss: last.valLoss, dice: last.valDice, iou: last.valIou, selectDice: last.valSelectDice }
          : null,
    epochBest: legacy.epochBest ?? false,
    best: {
      dice: best.dice,
      epoch: best.epoch,
      batch: best.batch ?? 0,
      globalStep: best.globalStep ?? 0,
      index: best.index ?? best.epoch - 1,
    },
  };
}

/** Counts the run's wall time from the sessions before this one (`st.elapsedSeconds`). */
export function startClock(run: TrainingRun, st: TrainerState, sessionStart: number): void {
  const base = st.elapsedSeconds;
  run.elapsed = () => base + (performance.now() - sessionStart) / 1000;
}

/** Writes the resume state (scheduler, loss scaler, elapsed time with it). */
export function saveState(run: TrainingRun, st: TrainerState): void {
  st.scheduler = run.sched.stateDict();
  st.scaler = run.amp.scaler?.stateDict() ?? null;
  st.elapsedSeconds = run.elapsed();
  saveResumeState(run.files.resume, run.segmenter, run.opt, st);
}
