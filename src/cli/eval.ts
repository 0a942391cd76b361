// `tunevlseg eval`: scores a tuned checkpoint on a dataset split (Dice/IoU per sample and mean)
// and optionally writes its predictions (masks, probability maps, overlays) at each image's
// original size; or predicts a folder of images with one prompt. Thin over src/train.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { SPLITS, promptOptions } from '../data/format.js';
import type { BuildSegmenter } from '../train/records.js';
import { readRunConfig } from '../train/run-config.js';
import { checkpointOf } from '../train/run-folder.js';
import { inferenceConfig } from '../tuning/config.js';
import { readCheckpointMeta, loadTunedInto } from '../tuning/checkpoint.js';
import { stringifyJson } from '../util/json.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { EVAL_AUGMENT_MODES, planCheckpointEvaluation, planRunEvaluation, type RunEvaluationPlan } from '../train/run-evaluation.js';
import { passBatchSize } from '../train/reference-semantics.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { evaluate, type EvalResult } from '../inference/evaluate.js';
import { predictFolder, type PredictResult } from '../inference/predict.js';
import { moduleDevice } from '../inference/forward.js';
import { applyTf32For } from '../inference/precision.js';
import { EVAL_PROTOCOLS, DEFAULT_TABLE_PROTOCOL, parseProtocol, type EvalProtocol } from '../inference/protocols.js';
import { evaluateClasses, parseClassList, type ClassEvalResult } from '../inference/multiclass.js';
import { PRECISIONS, TF32_MODES } from '../inference/precision-modes.js';
import { ConfigError, readConfigFile, applyOverrides, type TrainConfig } from '../train/config.js';
import { factoryOf, printerOf, type CommandDeps } from './deps.js';
import { modelFlagAssignments } from './model-flag.js';
import { assertNoOverwrite } from '../util/output-guard.js';
import { examples, flag, oneOf, option } from './flags.js';

const int = (min: number) => z.coerce.number().int().min(min);

/** The eval command's options (flag values arrive as strings; numbers are coerced). */
export const evalOptionsSchema = z.object({
  checkpoint: z.string().min(1).default('best'),
  dataset: z.string().min(1).optional(),
  split: z.enum(SPLITS).default('test'),
  images: z.string().min(1).optional(),
  prompt: z.string().min(1).optional(),
  prompts: z.string().min(1).optional(),
  promptKey: z.string().min(1).optional(),
  out: z.string().min(1).optional(),
  overlays: z.boolean().default(true),
  /** default 8; an augmented evaluation of a run: the run's evaluation batch size (the draws are per batch) */
  batchSize: int(1).optional(),
  /** auto: augment val/test as the run's training did (quirks reference on VOC/Cityscapes, or data.evalAugment); on; off */
  evalAugment: z.enum(EVAL_AUGMENT_MODES).default('auto'),
  loaderThreads: int(0).optional(),
  imageSize: int(1).optional(),
  threshold: z.coerce.number().gt(0).lt(1).default(0.5),
  results: z.string().min(1).optional(),
  json: z.boolean().default(false),
  protocol: z.string().optional(),
  config: z.string().min(1).optional(),
  model: z.array(z.string()).default([]),
  /** default: the run's precision (a run folder), else 32 */
  precision: z.enum(PRECISIONS).optional(),
  tf32: z.enum(TF32_MODES).default('auto'),
}).strict();
export type EvalOptions = z.output<typeof evalOptionsSchema>;

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function parseEvalOptions(raw: Record<string, unknown>): EvalOptions {
  const r = evalOptionsSchema.safeParse(raw);
  if (!r.success) {
    throw new ConfigError('invalid eval options', r.error.issues.map((i) => `option "--${kebab(i.path.map(String).join('.'))}": ${i.message}`));
  }
  return r.data;
}

export interface EvalTarget {
  checkpoint: string;
  /** Model config for the factory. */
  model: Record<string, unknown>;
  /** The run's config and folder, when the target is a run folder. */
  run: TrainConfig | null;
  runDir: string | null;
}

/** A run folder (its best/last checkpoint, or a path) or a checkpoint file. */
export function resolveEvalTarget(target: string, o: Pick<EvalOptions, 'checkpoint' | 'config' | 'model'>): EvalTarget {
  let run: TrainConfig | null = null;
  let checkpoint: string;
  if (existsSync(target) && statSync(target).isDirectory()) {
    run = readRunConfig(target);
    checkpoint = o.checkpoint === 'best' || o.checkpoint === 'last' ? checkpointOf(target, o.checkpoint) : path.resolve(o.checkpoint);
  } else {
    checkpoint = checkpointOf(target);
  }
  if (!existsSync(checkpoint)) throw new Error(`${checkpoint}: checkpoint not found`);
  const meta = readCheckpointMeta(checkpoint);
  // Training-only keys (the frozen-feature cache) of the run never reach evaluation.
  let model: Record<string, unknown> = inferenceConfig(run?.model ?? meta.model ?? {});
  if (o.config) {
    const file = readConfigFile(o.config);
    if (typeof file.model === 'object' && file.model !== null) model = file.model as Record<string, unknown>;
  }
  const sets = modelFlagAssignments(o.model);
  if (sets.length > 0) model = applyOverrides(model, sets.map(([k, v]) => [k, v]));
  return { checkpoint, model, run, runDir: run ? path.resolve(target) : null };
}

export interface EvalCommandResult {
  checkpoint: string;
  split: string | null;
  /** The protocol of `score` (`--protocol`; every protocol is in `evaluation.protocols`). */
  protocol: EvalProtocol;
  /** Dice and IoU under `protocol`. */
  score: { dice: number; iou: number } | null;
  evaluation: Omit<EvalResult, 'perSample'> | null;
  predictions: { outDir: string; files: number } | null;
  /** With --prompts: per-class Dice of the label maps, and their mean. */
  classes?: ClassEvalResult;
  /** How the split was read: the split, and whether through the training augmentation (as the run's evaluation, docs/train.md). */
  reading: { split: string; augmented: boolean } | null;
  /** What the reading chose and why (a stand-in test split, augmentation), one line each. */
  notes: string[];
}

/** What `tunevlseg eval` does, as a function. */
export async function runEval(target: string, raw: Record<string, unknown>, buildSegmenter: BuildSegmenter): Promise<EvalCommandResult> {
  const o = parseEvalOptions(raw);
  const protocol = o.protocol === undefined ? DEFAULT_TABLE_PROTOCOL : parseProtocol(o.protocol);
  const t = resolveEvalTarget(target, o);
  const data = o.dataset ?? t.run?.data.dir;
  if (o.images === undefined && data === undefined) throw new ConfigError('option "--dataset": a dataset folder is needed (the target is not a run folder)');
  const prompts = promptOptions(t.run?.data, { promptKey: o.promptKey, overridePrompt: o.images === undefined ? o.prompt : undefined });
  const imageSize = o.imageSize ?? t.run?.data.imageSize ?? undefined;
  if (o.results) {
    // Checked before the model is built: scores must never land on a dataset file or the checkpoint.
    assertNoOverwrite({
      command: 'eval --results', outputs: [o.results], inputs: [t.checkpoint],
      protectedDirs: [{ dir: o.images ?? data!, what: o.images ? 'the input folder' : 'the dataset folder' }],
      hint: 'write the scores elsewhere',
    });
  }
  if (o.out) {
    // Every --out (one class or several) is checked here, before the model is built.
    assertNoOverwrite({
      command: 'eval --out', outputs: [o.out], inputs: [t.checkpoint],
      protectedDirs: [{ dir: o.images ?? data!, what: o.images ? 'the input folder' : 'the dataset folder' }],
      hint: 'choose an --out folder outside the inputs',
    });
  }
  const segmenter = await buildSegmenter(t.model, t.run ?? ({ model: t.model } as TrainConfig));
  try {
    loadTunedInto(segmenter, t.checkpoint);
    applyTf32For(o.tf32, moduleDevice(segmenter));
    const precision = o.precision ?? t.run?.precision ?? '32';
    const common = { precision, batchSize: o.batchSize ?? 8, threshold: o.threshold, ...(o.loaderThreads !== undefined ? { workers: o.loaderThreads } : {}), ...(imageSize ? { imageSize } : {}) };
    if (o.prompts !== undefined && o.images === undefined) {
      const classes = await evaluateClasses(segmenter, data!, o.split, { ...common, classes: await parseClassList(o.prompts), ...(o.out ? { outDir: o.out } : {}) });
      return { checkpoint: t.checkpoint, split: o.split, protocol, score: null, evaluation: null, predictions: null, classes, reading: null, notes: [] };
    }
    if (o.images !== undefined) {
      if (!o.out) throw new ConfigError('option "--out": --images needs an output folder');
      if (!o.prompt) throw new ConfigError('option "--prompt": --images needs a prompt');
      const p = await predictFolder(segmenter, { ...common, input: o.images, prompt: o.prompt, outDir: o.out, overlays: o.overlays });
      return { checkpoint: t.checkpoint, split: null, protocol, score: null, evaluation: null, predictions: { outDir: p.outDir, files: p.files.length }, reading: null, notes: [] };
    }
    const r = await readingOf(t, data!, o, segmenter);
    const run = t.run ? { seed: t.run.seed, loss: t.run.loss } : {};
    let ev: EvalResult;
    let pred: PredictResult | null = null;
    if (o.out) {
      // Predictions are for use: always from the clean images.
      pred = await predictFolder(segmenter, { ...common, ...prompts, input: data!, split: r.split, outDir: o.out, overlays: o.overlays });
      ev = pred.evaluation!;
      if (r.augment) r.notes.push('note: --out predicts and scores the clean images; leave --out away for the augmented scores the run reported');
    } else {
      ev = await evaluate(segmenter, data!, r.split, {
        ...common, ...prompts, ...run, protocols: EVAL_PROTOCOLS,
        ...(r.augment ? { augment: r.augment, batchSize: r.batchSize ?? common.batchSize } : {}),
      });
    }
    const augmented = r.augment !== null && !o.out;
    if (o.results) writeFileAtomic(path.resolve(o.results), `${stringifyJson({ checkpoint: t.checkpoint, split: r.split, augmented, ...ev }, 1)}\n`);
    const { perSample: _p, ...means } = ev;
    const chosen = ev.protocols?.[protocol];
    const score = chosen ? { dice: chosen.dice, iou: chosen.iou } : null;
    return {
      checkpoint: t.checkpoint, split: r.split, protocol, score, evaluation: means, predictions: pred ? { outDir: pred.outDir, files: pred.files.length } : null,
      reading: { split: r.split, augmented }, notes: r.notes,
    };
  } finally {
    segmenter.dispose();
  }
}

/** How the split is read (src/train/run-evaluation.ts): a run folder as its training read it. */
function readingOf(t: EvalTarget, data: string, o: EvalOptions, segmenter: Segmenter): Promise<RunEvaluationPlan> {
  const run = t.run;
  if (!run || !t.runDir) return planCheckpointEvaluation(t.model, data, o.split, o.evalAugment);
  return planRunEvaluation({
    runDir: t.runDir, config: run, dataDir: data, asked: o.split, mode: o.evalAugment,
    passBatchSize: () => passBatchSize(run.batchSize, run.effectiveBatchSize, segmenter), ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
  });
}

export function registerEvalCommand(program: Command, deps: CommandDeps = {}): Command {
  const cmd = program
    .command('eval <target>')
    .description('score a tuned checkpoint (a run folder or a .safetensors file) on a split; --out writes predictions');
  option(cmd, '--checkpoint <which>', 'for a run folder: best, last, or a checkpoint path', { default: 'best' });
  flag(cmd, 'dataset', { defaultText: "the run's data.dir" });
  option(cmd, '--split <split>', `split to score: ${SPLITS.join(' | ')}`, { default: 'test', parse: oneOf(SPLITS) });
  option(cmd, '--images <dir>', 'predict every image of a folder instead (needs --prompt and --out; no scores)');
  option(cmd, '--prompt <text>', 'the prompt for --images, or an override prompt for the split');
  option(cmd, '--prompts <list>', 'several classes: "a,b,c", @labels.txt or @<dataset dir>; per-class Dice of the label maps (argmax over the classes, background below --threshold) and their mean; --out keeps the maps');
  option(cmd, '--prompt-key <key>', "prompt key of the split's entries", { defaultText: "the run's" });
  option(cmd, '--out <dir>', "write masks, 8-bit probability maps (the reference's bicubic resize + save_image) and overlays at original size there");
  option(cmd, '--protocol <name>', `evaluation protocol to report: ${EVAL_PROTOCOLS.join(' | ')} (docs/protocols.md)`, { defaultText: DEFAULT_TABLE_PROTOCOL, parse: oneOf(EVAL_PROTOCOLS) });
  option(cmd, '--no-overlays', 'do not write overlay images');
  flag(cmd, 'batchSize', { defaultText: "8; an augmented evaluation of a run: the run's evaluation batch size" });
  option(cmd, '--eval-augment <mode>', 'auto (a run folder: val/test through the training augmentation where its training read them so: quirks reference on VOC/Cityscapes, or data.evalAugment) | on | off', { default: 'auto', parse: oneOf(EVAL_AUGMENT_MODES) });
  flag(cmd, 'loaderThreads', { defaultText: 'cores, at most 4' });
  flag(cmd, 'imageSize', { defaultText: "the run's or the model's" });
  option(cmd, '--threshold <p>', 'probability threshold for masks and Dice/IoU', { default: '0.5' });
  option(cmd, '--results <file>', 'write per-sample scores (JSON) there');
  flag(cmd, 'json', { help: 'print the result as one JSON line' });
  flag(cmd, 'config', { help: 'take the model config from this config file' });
  flag(cmd, 'model');
  option(cmd, '--precision <p>', `autocast of the forward: ${PRECISIONS.join(' | ')}`, { defaultText: "the run's, else 32", parse: oneOf(PRECISIONS) });
  option(cmd, '--tf32 <mode>', `TF32 math on CUDA: ${TF32_MODES.join(' | ')}`, { default: 'auto', parse: oneOf(TF32_MODES) });
  examples(cmd, [
    'tunevlseg eval runs/k1',
    'tunevlseg eval runs/k1 --dataset data/cvc-clinicdb --out preds',
    'tunevlseg eval runs/k1/checkpoints/last.safetensors --dataset data/kvasir --protocol model-resolution --json',
  ]);
  return cmd
    .action(async (target: string, flags: Record<string, unknown>) => {
      const print = printerOf(deps);
      const build = await factoryOf(deps);
      // Ctrl-C: exit at once; an unfinished --out's new files are removed by predictFolder's exit hook.
      const onSigint = (): void => process.exit(130);
      process.once('SIGINT', onSigint);
      let r: EvalCommandResult;
      try {
        r = await runEval(target, flags, build);
      } finally {
        process.off('SIGINT', onSigint);
      }
      if (flags.json) {
        print(stringifyJson(r));
        return;
      }
      for (const n of r.notes) print(n);
      if (r.evaluation) {
        const e = r.evaluation;
        const shown = flags.protocol === undefined ? EVAL_PROTOCOLS : [r.protocol];
        print(`${r.split}${r.reading?.augmented ? ' (augmented as in training)' : ''}: ${e.samples} samples  loss ${e.loss.toFixed(4)}  (${r.checkpoint})`);
        for (const p of shown) {
          const m = e.protocols?.[p];
          if (m) print(`  ${p.padEnd(27)} Dice ${m.dice.toFixed(4)}  IoU ${m.iou.toFixed(4)}${m.iouAggregate === 'global' ? ' (global)' : ''}${p === r.protocol ? '  <-' : ''}`);
        }
      }
      if (r.classes) {
        const c = r.classes;
        print(`${c.split}: per-class Dice of the label maps (${r.checkpoint})`);
        for (const k of c.classes) print(`  ${k.name.padEnd(24)} Dice ${Number.isNaN(k.dice) ? '   -  ' : k.dice.toFixed(4)}  (${k.entries} entries)`);
        print(`  ${'mean'.padEnd(24)} Dice ${c.meanDice.toFixed(4)}${c.unmatched > 0 ? `  (${c.unmatched} entries of other classes left out)` : ''}`);
        if (c.outDir) print(`label maps -> ${c.outDir}`);
      }
      if (r.predictions) print(`predictions: ${r.predictions.files} images -> ${r.predictions.outDir}`);
    });
}
