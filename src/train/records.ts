/**
 * What a training run records and reports: the per-step and per-epoch records of
 * metrics.jsonl, summary.json, the resume state's JSON part, the trainer's options and its two
 * errors. The loop that produces them is trainer.ts (setup, resume, epochs, final evaluation).
 */
import type { Segmenter } from '../tuning/segmenter.js';
import type { EarlyStoppingMonitor, TrainConfig } from './config.js';
import type { EvalMeans } from '../inference/batch-scores.js';
import type { EvalProtocol } from '../inference/protocols.js';
import type { Precision } from '../inference/precision.js';
import type { GradScalerState } from './grad-scaler.js';
import type { PeakMemory } from './device-memory.js';

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

/**
 * A validation before the end of an epoch's passes (`valCheckInterval` < 1 or a pass count):
 * what it scored and what it changed. The validation at an epoch's end is in its epoch record.
 */
export interface ValidationRecord {
  type: 'validation';
  /** 1-based epoch */
  epoch: number;
  /** training passes of the epoch done before it */
  batch: number;
  globalStep: number;
  /** 0-based index among the run's validations */
  index: number;
  valLoss: number;
  valDice: number;
  valIou: number;
  valSelectDice: number;
  /** new best validation Dice (best.safetensors written) */
  best: boolean;
  earlyStoppingWait: number;
  seconds: number;
}

export interface EpochRecord {
  type: 'epoch';
  /** 1-based epoch */
  epoch: number;
  globalStep: number;
  trainLoss: number;
  trainDice: number;
  /** the epoch's latest validation (its end, or a `validation` record's when the interval does not divide the epoch) */
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
  /** a validation of this epoch found a new best validation Dice (best.safetensors written) */
  best: boolean;
  /** validations without improvement of the early-stopping monitor, after the epoch's latest */
  earlyStoppingWait: number;
  /** passes trained (less than the epoch's when early stopping ended it at a mid-epoch validation) */
  batches?: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainSummary {
  name: string;
  runDir: string;
  status: 'completed';
  stopReason: 'max_epochs' | 'early_stopping';
  /**
   * Set when a `quirks: reference` run ended on a non-finite loss the way the original does
   * (val_loss inf, early stopping): what diverged and where. The library returns the summary
   * (a sweep trial completes with value inf); `tunevlseg train` prints this and exits 1.
   */
  diverged?: string;
  epochs: number;
  globalSteps: number;
  /** the epoch (1-based) of the validation that wrote the best checkpoint */
  bestEpoch: number;
  /** that validation: passes of its epoch done before it, global step, index among the run's validations */
  bestValidation: { epoch: number; batch: number; globalStep: number; index: number };
  /**
   * the best checkpoint on the validation split: `dice`/`iou` under `metricsProtocol`, and
   * every evaluation protocol apart in `protocols` (src/inference/protocols.ts)
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
  /** how val and test were read: through the training augmentation or not, and the split `test` is (issue 24 row 8) */
  evaluation: { augmented: boolean; testSplit: string | null };
  /** when the run validated (config valCheckInterval) and what early stopping watched */
  validation: { checkEveryPasses: number; perEpoch: number; earlyStoppingMonitor: EarlyStoppingMonitor };
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
  /** Every validation before an epoch's end (the epoch's last one comes with `onEpoch`). */
  onValidation?: (r: ValidationRecord) => void;
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
  constructor(
    message: string,
    readonly runDir: string,
  ) {
    super(message);
    this.name = 'TrainingInterruptedError';
  }
}

/** What one validation scored (the mean loss; `model-resolution` Dice/IoU; the checkpoint-selection Dice). */
export interface ValidationScores {
  loss: number;
  dice: number;
  iou: number;
  selectDice: number;
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
  /** A `reference` run that ended on a non-finite value: the message (TrainSummary.diverged). */
  diverged?: string;
  scheduler: Record<string, number>;
  /** early stopping on the configured monitor (`best`: its best value; `wait`: validations without improvement) */
  early: { best: number; wait: number; triggered: boolean };
  /** the best checkpoint's validation: its Dice, epoch (1-based), passes of that epoch done, global step, index */
  best: { dice: number; epoch: number; batch: number; globalStep: number; index: number };
  /** Validations done in the run (the next one's index: it keys an augmented validation's draws). */
  validations: number;
  /** The latest validation's scores (the epoch's end and its scheduler step read them). */
  lastVal: ValidationScores | null;
  /** A validation of the epoch in progress wrote best.safetensors. */
  epochBest: boolean;
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
