/**
 * `evaluateCheckpoint`: what `tunevlseg eval` does, as a library function beside `train()`. A
 * tuned checkpoint (with its run's settings when it comes from a run folder: the `EvalSource`
 * src/train/eval-source.ts reads) scored on a dataset split under every evaluation protocol, read
 * as the run's training read it; or, with `out`, its predictions written at original size; or,
 * with `prompts`, several classes as label maps; or, with `images`, a folder of images predicted.
 * Output paths are checked before the model is built.
 */
import path from 'node:path';
import { promptOptions, type PromptSettings, type Split } from '../data/format.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { loadTunedInto } from '../tuning/checkpoint.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { stringifyJson } from '../util/json.js';
import { assertNoOverwrite } from '../util/output-guard.js';
import type { EvalResult } from './batch-scores.js';
import type { EvalAugmentMode, EvalReading } from './eval-reading.js';
import { evaluate } from './evaluate.js';
import { moduleDevice } from './forward.js';
import type { DiceCEOptions } from './loss.js';
import { evaluateClasses, parseClassList, type ClassEvalResult } from './multiclass.js';
import { predictFolder, type PredictResult } from './predict.js';
import { applyTf32For, type Precision } from './precision.js';
import type { TF32_MODES } from './precision-modes.js';
import { EVAL_PROTOCOLS, type EvalProtocol } from './protocols.js';

/** What a run folder says about evaluating its checkpoints. */
export interface RunEvalSettings {
  /** data.dir */
  dataDir: string;
  /** The run's prompt settings (its data section). */
  prompts: PromptSettings;
  imageSize: number | null;
  precision: Precision;
  /** The loader's seed (a `random` prompt key picks as in training). */
  seed: number;
  loss: DiceCEOptions;
}

/** A tuned checkpoint to evaluate: a run folder's (with its settings) or a checkpoint file's. */
export interface EvalSource {
  checkpoint: string;
  /** The model config the segmenter is built from. */
  model: Record<string, unknown>;
  /** The run folder's settings; null for a checkpoint file alone. */
  run: RunEvalSettings | null;
  /** Builds the segmenter the checkpoint is loaded into. */
  build(): Promise<Segmenter>;
  /** How `split` of `dataDir` is read (the run's augmentation, a stand-in test split), with notes. */
  reading(r: {
    dataDir: string;
    split: Split;
    mode: EvalAugmentMode;
    batchSize?: number | undefined;
    segmenter: Segmenter;
  }): Promise<EvalReading>;
}

export interface CheckpointEvalOptions {
  dataset?: string | undefined;
  split: Split;
  /** Predict every image of this folder instead (needs `prompt` and `out`; no scores). */
  images?: string | undefined;
  /** The prompt of `images`, or an override prompt for the split. */
  prompt?: string | undefined;
  /** Several classes: "a,b,c", @labels.txt or @<dataset dir> (per-class Dice of the label maps). */
  prompts?: string | undefined;
  promptKey?: string | undefined;
  /** Write predictions there. */
  out?: string | undefined;
  overlays: boolean;
  /** Default 8; an augmented evaluation of a run: the run's evaluation batch size. */
  batchSize?: number | undefined;
  evalAugment: EvalAugmentMode;
  loaderThreads?: number | undefined;
  imageSize?: number | undefined;
  threshold: number;
  /** Write per-sample scores (JSON) there. */
  results?: string | undefined;
  /** The protocol of `score`. */
  protocol: EvalProtocol;
  /** Default: the run's precision, else 32. */
  precision?: Precision | undefined;
  tf32: (typeof TF32_MODES)[number];
  /** Progress: batches done of a total. */
  onProgress?: (done: number, total: number) => void;
}

export interface CheckpointEvaluation {
  checkpoint: string;
  split: string | null;
  /** The protocol of `score` (every protocol is in `evaluation.protocols`). */
  protocol: EvalProtocol;
  /** Dice and IoU under `protocol`. */
  score: { dice: number; iou: number } | null;
  evaluation: Omit<EvalResult, 'perSample'> | null;
  predictions: { outDir: string; files: number } | null;
  /** With `prompts`: per-class Dice of the label maps, and their mean. */
  classes?: ClassEvalResult;
  /** How the split was read: the split, and whether through the training augmentation (as the run's evaluation, docs/train.md). */
  reading: { split: string; augmented: boolean } | null;
  /** What the reading chose and why (a stand-in test split, augmentation), one line each. */
  notes: string[];
}

/** Refuses, before the model is built, outputs that would land on an input or inside the data. */
function guardOutputs(o: CheckpointEvalOptions, checkpoint: string, data: string | undefined): void {
  const protectedDirs = [{ dir: o.images ?? data!, what: o.images ? 'the input folder' : 'the dataset folder' }];
  // Scores must never land on a dataset file or the checkpoint.
  if (o.results)
    assertNoOverwrite({
      command: 'eval --results',
      outputs: [o.results],
      inputs: [checkpoint],
      protectedDirs,
      hint: 'write the scores elsewhere',
    });
  // Every --out (one class or several) is checked here.
  if (o.out)
    assertNoOverwrite({
      command: 'eval --out',
      outputs: [o.out],
      inputs: [checkpoint],
      protectedDirs,
      hint: 'choose an --out folder outside the inputs',
    });
}

/** Scores (or predicts with) a tuned checkpoint; see the file's header. */
export async function evaluateCheckpoint(source: EvalSource, o: CheckpointEvalOptions): Promise<CheckpointEvaluation> {
  const { checkpoint, run } = source;
  const data = o.dataset ?? run?.dataDir;
  if (o.images === undefined && data === undefined)
    throw new Error('option "--dataset": a dataset folder is needed (the target is not a run folder)');
  guardOutputs(o, checkpoint, data);
  const prompts = promptOptions(run?.prompts, { promptKey: o.promptKey, overridePrompt: o.images === undefined ? o.prompt : undefined });
  const imageSize = o.imageSize ?? run?.imageSize ?? undefined;
  const none = { checkpoint, protocol: o.protocol, score: null, evaluation: null, reading: null, notes: [] };
  const segmenter = await source.build();
  try {
    loadTunedInto(segmenter, checkpoint);
    applyTf32For(o.tf32, moduleDevice(segmenter));
    const common = {
      precision: o.precision ?? run?.precision ?? '32',
      batchSize: o.batchSize ?? 8,
      threshold: o.threshold,
      ...(o.loaderThreads !== undefined ? { workers: o.loaderThreads } : {}),
      ...(imageSize ? { imageSize } : {}),
    };
    const onBatch = o.onProgress ? (done: number, total: number): void => o.onProgress!(done, total) : undefined;
    if (o.prompts !== undefined && o.images === undefined) {
      const classes = await evaluateClasses(segmenter, data!, o.split, {
        ...common,
        classes: await parseClassList(o.prompts),
        ...(o.out ? { outDir: o.out } : {}),
      });
      return { ...none, split: o.split, predictions: null, classes };
    }
    if (o.images !== undefined) {
      if (!o.out) throw new Error('option "--out": --images needs an output folder');
      if (!o.prompt) throw new Error('option "--prompt": --images needs a prompt');
      const p = await predictFolder(segmenter, {
        ...common,
        input: o.images,
        prompt: o.prompt,
        outDir: o.out,
        overlays: o.overlays,
        ...(onBatch ? { onBatch } : {}),
      });
      return { ...none, split: null, predictions: { outDir: p.outDir, files: p.files.length } };
    }
    const r = await source.reading({ dataDir: data!, split: o.split, mode: o.evalAugment, batchSize: o.batchSize, segmenter });
    let ev: EvalResult;
    let pred: PredictResult | null = null;
    if (o.out) {
      // Predictions are for use: always from the clean images.
      pred = await predictFolder(segmenter, {
        ...common,
        ...prompts,
        input: data!,
        split: r.split,
        outDir: o.out,
        overlays: o.overlays,
        ...(onBatch ? { onBatch } : {}),
      });
      ev = pred.evaluation!;
      if (r.augment)
        r.notes.push('note: --out predicts and scores the clean images; leave --out away for the augmented scores the run reported');
    } else {
      ev = await evaluate(segmenter, data!, r.split, {
        ...common,
        ...prompts,
        ...(run ? { seed: run.seed, loss: run.loss } : {}),
        protocols: EVAL_PROTOCOLS,
        ...(onBatch ? { onBatch } : {}),
        ...(r.augment ? { augment: r.augment, batchSize: r.batchSize ?? common.batchSize } : {}),
      });
    }
    const augmented = r.augment !== null && !o.out;
    if (o.results) writeFileAtomic(path.resolve(o.results), `${stringifyJson({ checkpoint, split: r.split, augmented, ...ev }, 1)}\n`);
    const { perSample: _p, ...means } = ev;
    const chosen = ev.protocols?.[o.protocol];
    return {
      checkpoint,
      split: r.split,
      protocol: o.protocol,
      score: chosen ? { dice: chosen.dice, iou: chosen.iou } : null,
      evaluation: means,
      predictions: pred ? { outDir: pred.outDir, files: pred.files.length } : null,
      reading: { split: r.split, augmented },
      notes: r.notes,
    };
  } finally {
    segmenter.dispose();
  }
}
