/**
 * End-to-end training of a whole CLIPSeg (every weight trainable) on a dataset folder: the
 * library behind `tunevlseg pretrain`, which makes the demo's base model
 * (assets/demo/model.safetensors) from scratch on the natural domain.
 *
 * Recipe (/work/shared/notes/demo-recipe.md): AdamW (lr 2e-3, weight decay 0.05 on Linear/Conv
 * weights only), linear warm-up then cosine decay to 0, batch 32, Dice + 0.2 BCE, a random
 * prompt variant per sample (`p1`/`p2` keys), no augmentation. Evaluation (val every
 * `evalEvery` steps, test at the end) uses the `p1` prompt.
 *
 * The output folder is a loadable HF-layout model folder: config.json, model.safetensors,
 * vocab.json + merges.txt + tokenizer_config.json, and pretrain.json (options, loss curve,
 * scores, timing).
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadSplit } from '../data/format.js';
import { CLIPSegForImageSegmentation } from '../models/clipseg/model.js';
import { clipsegConfigToJson } from '../models/clipseg/config.js';
import { ClipTokenizer } from '../models/clip/tokenizer.js';
import { getNumThreads, manualSeed, noGrad, optim, saveSafetensors, setNumThreads, tidy } from '../torch/index.js';
import { diceCELoss } from '../inference/loss.js';
import { diceIoU } from '../inference/metrics.js';
import { evaluate, type EvalMeans } from '../inference/evaluate.js';
import { batchTensors, loaderFor, normalise } from '../inference/inputs.js';
import { tunevlsegVersion } from '../util/package-root.js';
import { ClipsegFullSegmenter, initTinyClipseg, tinyClipsegConfig } from './model.js';
import { DEMO_WORDS, buildTinyVocab, writeTinyVocab } from './vocab.js';

export interface PretrainOptions {
  /** Dataset folder (docs/data.md). */
  dataDir: string;
  /** Output model folder (created; existing model files are replaced). */
  outDir: string;
  /** Start from this model folder (config + weights + tokenizer) instead of from scratch. */
  from?: string | null;
  /**
   * From scratch: the tokenizer folder (vocab.json + merges.txt). With `restrictVocab` (default
   * true) it is cut down to the demo's words (src/demo/vocab.ts) and the model gets that many
   * token embeddings.
   */
  tokenizerDir?: string | null;
  restrictVocab?: boolean;
  /** Optimizer steps. Default 2500. */
  steps?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  warmupSteps?: number;
  /** BCE weight of the loss (Dice weight 1). Default 0.2. */
  lambdaCe?: number;
  /** Seed of the initial weights, the sample order and the prompt choice. Default 0. */
  seed?: number;
  /** Training prompt key (default `random`: a random non-empty key, a random list element). */
  promptKey?: string;
  /** Evaluate on `val` every this many steps (0: only at the end). Default 500. */
  evalEvery?: number;
  /** Evaluation sample cap per split for the periodic check (default: all). */
  evalLimit?: number;
  /** libtorch threads (default 1: on a small, shared machine one thread is fastest for this model). */
  threads?: number;
  /** Loader worker threads (default 1). */
  workers?: number;
  /** Progress line every this many steps (default 50; 0: none). */
  logEvery?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface PretrainSummary {
  outDir: string;
  steps: number;
  seconds: number;
  parameters: number;
  vocabSize: number;
  /** Mean training loss of the last 100 steps. */
  finalTrainLoss: number;
  val: EvalMeans | null;
  test: EvalMeans | null;
  /** [step, mean loss, mean dice] every logEvery steps. */
  curve: [number, number, number][];
  /** Periodic validation: [step, dice]. */
  valCurve: [number, number][];
}

const fmt = (x: number, d = 3): string => x.toFixed(d);

function copyTokenizerFiles(src: string, dst: string): void {
  for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (existsSync(path.join(src, f)) && path.resolve(src) !== path.resolve(dst)) copyFileSync(path.join(src, f), path.join(dst, f));
  }
}

/** Builds the starting model: from a folder, or from scratch with a (restricted) tokenizer. */
function startingModel(
  o: PretrainOptions,
  outDir: string,
  seed: number,
): { model: CLIPSegForImageSegmentation; tokenizer: ClipTokenizer; base: string } {
  if (o.from) {
    const model = CLIPSegForImageSegmentation.fromPretrained(o.from);
    if (!model.tokenizer) {
      model.dispose();
      throw new Error(`pretrain: ${o.from} has no tokenizer files (vocab.json + merges.txt)`);
    }
    model.train();
    copyTokenizerFiles(o.from, outDir);
    return { model, tokenizer: model.tokenizer, base: o.from };
  }
  const tokDir = o.tokenizerDir;
  if (!tokDir) throw new Error('pretrain: from scratch needs a tokenizer folder (--tokenizer) or a model folder (--from)');
  if (o.restrictVocab ?? true) {
    writeTinyVocab(outDir, buildTinyVocab(path.join(tokDir, 'vocab.json'), path.join(tokDir, 'merges.txt'), DEMO_WORDS));
  } else copyTokenizerFiles(tokDir, outDir);
  const tokenizer = ClipTokenizer.fromDir(outDir);
  manualSeed(seed);
  const model = noGrad(() => new CLIPSegForImageSegmentation(tinyClipsegConfig(tokenizer.vocabSize)));
  initTinyClipseg(model, seed);
  return { model, tokenizer, base: 'scratch' };
}

/** Writes model.safetensors atomically (temporary file + rename). */
function saveModel(file: string, model: CLIPSegForImageSegmentation, meta: Record<string, string>): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  saveSafetensors(tmp, model.stateDict(), { format: 'pt', ...meta });
  renameSync(tmp, file);
}

/** Trains every weight of a CLIPSeg on `dataDir`; writes a model folder to `outDir`. */
export async function pretrain(o: PretrainOptions): Promise<PretrainSummary> {
  const log = o.log ?? ((l: string) => console.log(l));
  const steps = o.steps ?? 2500;
  const batchSize = o.batchSize ?? 32;
  const lr = o.lr ?? 2e-3;
  const weightDecay = o.weightDecay ?? 0.05;
  const warmup = Math.min(o.warmupSteps ?? 100, steps);
  const seed = o.seed ?? 0;
  const evalEvery = o.evalEvery ?? 500;
  const logEvery = o.logEvery ?? 50;
  for (const [k, v] of Object.entries({ steps, batchSize }) as [string, number][]) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`pretrain: ${k} must be a positive integer, got ${v}`);
  }
  const prevThreads = getNumThreads();
  setNumThreads(o.threads ?? 1);
  const t0 = performance.now();
  const outDir = path.resolve(o.outDir);
  mkdirSync(outDir, { recursive: true });

  const train = await loadSplit(o.dataDir, 'train', { promptKey: o.promptKey ?? 'random' });
  if (train.length < batchSize)
    throw new Error(`pretrain: ${o.dataDir} has ${train.length} training samples, fewer than one batch of ${batchSize}`);
  const hasVal = existsSync(path.join(o.dataDir, 'anns', 'val.json'));
  const hasTest = existsSync(path.join(o.dataDir, 'anns', 'test.json'));

  const { model, tokenizer, base } = startingModel(o, outDir, seed);
  const seg = new ClipsegFullSegmenter(model, tokenizer, { base });
  const loader = loaderFor(seg, train, {
    batchSize,
    shuffle: true,
    dropLast: true,
    seed,
    promptKey: o.promptKey ?? 'random',
    workers: o.workers ?? 1,
  });
  const opt = new optim.AdamW(seg.parameterGroups(weightDecay), { lr, weightDecay });
  const sched = new optim.CosineSchedule(opt, steps, 0, warmup);
  const curve: [number, number, number][] = [];
  const valCurve: [number, number][] = [];
  const recent: number[] = [];
  let winLoss = 0,
    winDice = 0,
    winN = 0;
  let step = 0;
  let tLast = performance.now();
  const evalOpts = { promptKey: 'p1', batchSize: 64, workers: 0 } as const;
  log(
    `pretrain: ${train.length} training samples, ${steps} steps of ${batchSize}, ${seg.numParameters(true)} parameters, vocabulary ${tokenizer.vocabSize}, from ${base}`,
  );
  try {
    seg.train();
    for (let epoch = 0; step < steps; epoch++) {
      for await (const b of loader.epoch(epoch)) {
        if (o.signal?.aborted) throw new Error('pretrain: interrupted');
        const r = tidy(() => {
          const { images, masks } = batchTensors(b, 'cpu');
          b.release();
          const logits = seg.forward(normalise(images, seg.info), seg.tokenize(b.prompts));
          const { loss } = diceCELoss(logits, masks, { lambdaDice: 1, lambdaCe: o.lambdaCe ?? 0.2 });
          opt.zeroGrad();
          loss.backward();
          const d = noGrad(() => diceIoU(logits, masks).dice);
          return { loss: loss.item() as number, dice: d.reduce((s, x) => s + x, 0) / d.length };
        });
        if (!Number.isFinite(r.loss)) throw new Error(`pretrain: the loss became ${r.loss} at step ${step + 1}`);
        opt.step();
        sched.step();
        step++;
        recent.push(r.loss);
        if (recent.length > 100) recent.shift();
        winLoss += r.loss;
        winDice += r.dice;
        winN++;
        if (logEvery > 0 && (step % logEvery === 0 || step === steps)) {
          const now = performance.now();
          const rate = (winN * batchSize) / ((now - tLast) / 1000);
          const eta = ((steps - step) * batchSize) / rate;
          curve.push([step, winLoss / winN, winDice / winN]);
          log(
            `step ${step}/${steps}  loss ${fmt(winLoss / winN)}  dice ${fmt(winDice / winN)}  lr ${opt.paramGroups[0]!.lr.toExponential(2)}  ${rate.toFixed(0)} img/s  ETA ${eta.toFixed(0)} s`,
          );
          winLoss = winDice = winN = 0;
          tLast = now;
        }
        if (hasVal && evalEvery > 0 && step % evalEvery === 0 && step < steps) {
          const v = await evaluate(seg, o.dataDir, 'val', evalOpts);
          valCurve.push([step, v.dice]);
          log(`  val dice ${fmt(v.dice)} (${v.samples} samples)`);
          seg.train();
          tLast = performance.now();
        }
        if (step >= steps) break;
      }
    }
    seg.eval();
    const val = hasVal ? meansOnly(await evaluate(seg, o.dataDir, 'val', evalOpts)) : null;
    const test = hasTest ? meansOnly(await evaluate(seg, o.dataDir, 'test', evalOpts)) : null;
    if (val) valCurve.push([step, val.dice]);
    const seconds = (performance.now() - t0) / 1000;
    writeFileSync(path.join(outDir, 'config.json'), `${JSON.stringify(clipsegConfigToJson(model.config), null, 1)}\n`);
    saveModel(path.join(outDir, 'model.safetensors'), model, {
      'tunevlseg.version': tunevlsegVersion(),
      'tunevlseg.kind': 'pretrained-clipseg',
      steps: String(step),
    });
    const summary: PretrainSummary = {
      outDir,
      steps: step,
      seconds,
      parameters: seg.numParameters(),
      vocabSize: tokenizer.vocabSize,
      finalTrainLoss: recent.reduce((s, x) => s + x, 0) / Math.max(1, recent.length),
      val,
      test,
      curve,
      valCurve,
    };
    writeFileSync(
      path.join(outDir, 'pretrain.json'),
      `${JSON.stringify(
        {
          options: {
            dataDir: path.resolve(o.dataDir),
            from: o.from ?? null,
            tokenizerDir: o.tokenizerDir ?? null,
            restrictVocab: o.restrictVocab ?? true,
            steps,
            batchSize,
            lr,
            weightDecay,
            warmupSteps: warmup,
            lambdaCe: o.lambdaCe ?? 0.2,
            seed,
            promptKey: o.promptKey ?? 'random',
            threads: o.threads ?? 1,
          },
          ...summary,
          outDir: path.basename(outDir),
          tunevlsegVersion: tunevlsegVersion(),
        },
        null,
        1,
      )}\n`,
    );
    log(
      `pretrain: done in ${seconds.toFixed(0)} s; val dice ${val ? fmt(val.dice) : '-'}, test dice ${test ? fmt(test.dice) : '-'}; model in ${outDir}`,
    );
    return summary;
  } finally {
    await loader.close();
    seg.dispose();
    setNumThreads(prevThreads);
  }
}

function meansOnly(r: EvalMeans): EvalMeans {
  return { samples: r.samples, loss: r.loss, dice: r.dice, iou: r.iou };
}
