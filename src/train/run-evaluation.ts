/**
 * How a run reads its val and test splits (issue 24 row 8), in one place for `train` (its
 * validations and final evaluation) and `tunevlseg eval` of a run folder: through the training
 * augmentation or not, with which random draws, and which split stands in for a missing test
 * split. The original reads VOC and Cityscapes val/test through its training transforms and tests
 * on the val folder (`configs/data/image_dir_text_mask_*.yaml`; `dataset.json` `"reference"`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readDatasetDescription, splitFile, type ReferenceEvaluation, type Split } from '../data/format.js';
import { hashSeed } from '../data/rng.js';
import { resolveAugment, type AugmentConfig } from '../inference/augment.js';
import type { EvalAugmentMode, EvalDraws, EvalReading } from '../inference/eval-reading.js';
import { readCheckpointMeta } from '../tuning/checkpoint.js';
import { parseJson } from '../util/json.js';
import { ConfigError, type TrainConfig } from './config.js';
import { runFiles } from './run-folder.js';
import type { TrainSummary } from './records.js';
import { quirksOfModel } from './reference-defaults.js';

/** The augmentation of a run's val/test inputs: the training settings, and streams apart from the training batches'. */
export interface EvalAugmentStreams {
  config: AugmentConfig;
  seed: number;
}

export type { EvalDraws } from '../inference/eval-reading.js';

export function evalAugmentStreams(config: TrainConfig, quirks: 'reference' | 'fixed'): EvalAugmentStreams {
  return { config: resolveAugment(config.augment, quirks), seed: hashSeed(config.seed, 0xe7a1) };
}

/** The draws of the run's validation number `index` (0-based); the final val scores use the best validation's. */
export function valDraws(s: EvalAugmentStreams, index: number): EvalDraws {
  return { ...s, epoch: Math.max(0, index) };
}

/** The draws of the final test evaluation. */
export function testDraws(s: EvalAugmentStreams): EvalDraws {
  return { config: s.config, seed: hashSeed(s.seed, 1), epoch: 0 };
}

/**
 * Whether a run's val and test go through the training augmentation: `data.evalAugment` when
 * set, else as the dataset's reference (`evalTransforms: train`) with quirks reference.
 */
export function evalAugmentOf(config: TrainConfig, reference: ReferenceEvaluation | null): boolean {
  const ref = quirksOfModel(config.model) === 'reference' ? reference : null;
  return config.data.evalAugment ?? ref?.evalTransforms === 'train';
}

/**
 * The split read for `asked`: itself, or (quirks reference, asked `test`, no test split) the
 * dataset's reference test split, as the original tests VOC and Cityscapes on val.
 */
export function splitRead(dataDir: string, asked: Split, reference: ReferenceEvaluation | null): { split: Split; note: string | null } {
  if (asked !== 'test' || existsSync(splitFile(dataDir, asked)) || !reference || reference.testSplit === asked)
    return { split: asked, note: null };
  if (!existsSync(splitFile(dataDir, reference.testSplit))) return { split: asked, note: null };
  return {
    split: reference.testSplit,
    note: `note: ${splitFile(dataDir, asked)} not found: the test set is the ${reference.testSplit} split, as the original's ${reference.dataConfig} (dataset.json "reference")`,
  };
}

/** What `planRunEvaluation` returns (the type lives with evaluation, src/inference/eval-reading.ts). */
export type RunEvaluationPlan = EvalReading;
export { EVAL_AUGMENT_MODES, type EvalAugmentMode } from '../inference/eval-reading.js';

/**
 * How `tunevlseg eval <run>` reads `asked` of `dataDir` so that it scores what the run scored:
 * the reference test split for a missing test split (quirks reference), and, where the run's
 * evaluation was augmented (`mode` auto) or `mode` is on, the same draws as its final evaluation
 * (test: the test stream; the run's val split: the best validation's draws) in batches of the
 * run's evaluation batch size. Other splits are never augmented.
 */
export async function planRunEvaluation(o: {
  runDir: string;
  config: TrainConfig;
  dataDir: string;
  asked: Split;
  mode: EvalAugmentMode;
  /** the run's pass size, when it has no summary.json */
  passBatchSize: () => number;
  /** `--batch-size` when given (it changes the draws: noted) */
  batchSize?: number;
}): Promise<RunEvaluationPlan> {
  const { config } = o;
  const summaryFile = runFiles(o.runDir).summary;
  // A run without summary.json (unfinished): its best checkpoint's epoch stands for the best validation.
  const summary = existsSync(summaryFile) ? parseJson<Partial<TrainSummary>>(readFileSync(summaryFile, 'utf8')) : null;
  const quirks = quirksOfModel(config.model);
  const { reference } = await readDatasetDescription(o.dataDir);
  const ref = quirks === 'reference' ? reference : null;
  const notes: string[] = [];
  const read = splitRead(o.dataDir, o.asked, ref);
  if (read.note) notes.push(read.note);
  const augmented = o.mode === 'on' || (o.mode === 'auto' && evalAugmentOf(config, reference));
  if (!augmented) {
    if (o.mode === 'off' && evalAugmentOf(config, reference))
      notes.push('note: clean inputs (--eval-augment off): the run scored its val/test through the training augmentation');
    return { split: read.split, augment: null, batchSize: null, notes };
  }
  const streams = evalAugmentStreams(config, quirks);
  const isTest = o.asked === 'test' || o.asked === config.data.testSplit;
  const isVal = !isTest && o.asked === config.data.valSplit;
  if (!isTest && !isVal) {
    notes.push(`note: the ${o.asked} split is read as is: only the run's val and test splits go through the training augmentation`);
    return { split: read.split, augment: null, batchSize: null, notes };
  }
  const bestIndex = summary?.bestValidation?.index ?? (summary?.bestEpoch ?? bestCheckpointEpoch(o.runDir)) - 1;
  const runBatch = config.evalBatchSize ?? summary?.batchSize ?? o.passBatchSize();
  const batchSize = o.batchSize ?? runBatch;
  if (batchSize !== runBatch)
    notes.push(
      `note: --batch-size ${batchSize}: the augmentation draws are made per batch, so they differ from the run's (batches of ${runBatch})`,
    );
  notes.push(
    `note: ${read.split} inputs go through the training augmentation, with the draws of the run's final ${isTest ? 'test' : 'val'} evaluation ` +
      `in batches of ${batchSize}${ref?.evalTransforms === 'train' && config.data.evalAugment === null ? ` (the original's ${ref.dataConfig})` : ''}; --eval-augment off scores clean inputs`,
  );
  return { split: read.split, augment: isTest ? testDraws(streams) : valDraws(streams, bestIndex), batchSize, notes };
}

function bestCheckpointEpoch(runDir: string): number {
  const f = runFiles(runDir).best;
  return existsSync(f) ? readCheckpointMeta(f).epoch : 1;
}

/**
 * How `tunevlseg eval <checkpoint file>` reads `asked`: the reference test split for a missing
 * test split (quirks reference); never augmented (a checkpoint file has no run config: seed,
 * augmentation settings), said where the original would have augmented.
 */
export async function planCheckpointEvaluation(
  model: Record<string, unknown>,
  dataDir: string,
  asked: Split,
  mode: EvalAugmentMode,
): Promise<RunEvaluationPlan> {
  if (mode === 'on')
    throw new ConfigError('option "--eval-augment": on needs a run folder (its augmentation settings and seed), not a checkpoint file');
  const { reference } = await readDatasetDescription(dataDir);
  const ref = quirksOfModel(model) === 'reference' ? reference : null;
  const read = splitRead(dataDir, asked, ref);
  const notes = read.note ? [read.note] : [];
  if (ref?.evalTransforms === 'train' && mode === 'auto') {
    notes.push(
      `note: the original reads this dataset's val/test through its training transforms (${ref.dataConfig}); a checkpoint file has no run ` +
        'config (seed, augmentation), so its inputs are read clean: evaluate the run folder for the scores its training reported',
    );
  }
  return { split: read.split, augment: null, batchSize: null, notes };
}
