/**
 * Evaluation and prediction with any `Segmenter`.
 *
 * - `evaluateLoader` / `evaluate`: DiceCE loss, Dice and IoU per sample and their means over
 *   samples, under `noGrad`, one `tidy` per batch, in eval mode. `dice`/`iou` are the
 *   `model-resolution` protocol; `protocols` adds any of the named evaluation protocols
 *   (src/inference/protocols.ts), each kept apart in the result.
 * - `predictFolder`: probability maps for a dataset split or a folder of images, written back at
 *   each image's original size as the reference does (bicubic, 8-bit `save_image`, see
 *   protocols.ts): binary mask, 8-bit probability, optional overlay.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { BatchLoader, Batch, LoaderSample } from '../data/loader.js';
import { loadSplit, promptOptions, type Split, type PromptOptions } from '../data/format.js';
import { IMAGE_EXTENSIONS, readMaskGray } from '../data/image.js';
import { writePredictionPngs } from '../data/prediction-png.js';
import { warnAboutRepairs } from '../data/repairs.js';
import { type Tensor, tensor, tidy, noGrad } from '../torch/index.js';
import { augmentBatch, type AugmentConfig } from '../inference/augment.js';
import { batchTensors, loaderFor, normalise } from '../inference/inputs.js';
import type { Segmenter, SegmenterInfo } from '../tuning/segmenter.js';
import { diceCELossPerSample, type DiceCEOptions } from '../inference/loss.js';
import { autocastFor, float32, type Precision } from '../inference/precision.js';
import {
  modelSideScores, originalSizePrediction, originalSizeScores, protocolMeans,
  EVAL_PROTOCOLS, type EvalProtocol, type ProtocolMeans, type ProtocolSample,
} from '../inference/protocols.js';
import { ensureOutputDir, requireRegularFile } from '../util/output-guard.js';
import { planPredictionOutputs, removeFreshOutputs, PREDICTIONS_INDEX } from '../inference/prediction-plan.js';

export interface SampleResult {
  /** The sample's mask name (unique per entry) or image path. */
  name: string;
  /** Position in the split. */
  index: number;
  prompt: string;
  loss: number;
  /** `model-resolution` Dice and IoU. */
  dice: number;
  iou: number;
  /** The sample under each protocol asked for (`EvalLoopOptions.protocols`). */
  protocols?: Partial<Record<EvalProtocol, ProtocolSample>>;
}

export interface EvalMeans {
  samples: number;
  loss: number;
  /** `model-resolution` means (see `protocols` for the others). */
  dice: number;
  iou: number;
  /** Each protocol asked for, kept apart: `protocols['original-size'].dice`. */
  protocols?: Partial<Record<EvalProtocol, ProtocolMeans>>;
}

export interface EvalResult extends EvalMeans {
  perSample: SampleResult[];
}

export interface EvalLoopOptions {
  /** Dice/IoU probability threshold. Default 0.5. */
  threshold?: number;
  loss?: DiceCEOptions;
  /** Device of the model inputs. Default: the device of the segmenter's first parameter. */
  device?: string;
  /** Epoch passed to the loader (prompt choice for random keys). Default 0. */
  epoch?: number;
  /** Called after each batch (progress). */
  onBatch?: (done: number, total: number) => void;
  /** Autocast of the forward ('32': none); scores always compute on float32 logits. Default '32'. */
  precision?: Precision;
  /**
   * Evaluation protocols to score besides `model-resolution` (which `dice`/`iou` always are).
   * `original-size` reads each mask file at full size.
   */
  protocols?: readonly EvalProtocol[];
  /**
   * Loss targets: the soft masks (gray / 255, as the reference trains: quirk 18) or the masks
   * thresholded at 0.5. Default: soft unless the segmenter's quirks mode is `fixed`.
   */
  softTargets?: boolean;
  /**
   * Augment the inputs (images and masks at model resolution) before the forward, drawn per
   * (seed, epoch, batch): the original evaluates VOC and Cityscapes through its training
   * transforms (issue 24 row 8). The `original-size` protocol still reads the mask files as
   * they are, as the original's eval_metrics.py does. Default: none.
   */
  augment?: { config: AugmentConfig; seed: number; epoch: number };
}

/** Whether a segmenter's loss sees soft targets by default (its quirks mode; reference when unknown). */
export function softTargetsOf(m: Segmenter): boolean {
  return m.quirks !== 'fixed';
}

/** The loss targets of soft masks: themselves, or thresholded at 0.5 (gray >= 128). */
export function lossTargets(masks: Tensor, soft: boolean): Tensor {
  return soft ? masks : masks.gt(0.5).to(masks.dtype);
}

/** The device of a module's first parameter (cpu when it has none). */
export function moduleDevice(m: Segmenter): string {
  const p = m.parameters()[0];
  return p ? p.device : 'cpu';
}

/**
 * A model outside libtorch (an exported ONNX graph run by onnxruntime): logits [B, 1, S, S]
 * for normalised images [B, 3, S, S], asynchronously.
 */
export interface LogitsModel {
  readonly info: SegmenterInfo;
  logits(images: Float32Array, batch: number, size: number): Promise<Float32Array>;
}

const isSegmenter = (m: Segmenter | LogitsModel): m is Segmenter => 'forward' in m;

function withEvalMode<T>(segmenter: Segmenter | LogitsModel, fn: () => Promise<T>): Promise<T> {
  if (!isSegmenter(segmenter)) return fn();
  const wasTraining = segmenter.training;
  segmenter.eval();
  return fn().finally(() => {
    if (wasTraining) segmenter.train();
  });
}

/** Runs a segmenter over every batch of a loader epoch; per-sample and mean loss/Dice/IoU. */
export async function evaluateLoader(segmenter: Segmenter, loader: BatchLoader, o: EvalLoopOptions = {}): Promise<EvalResult> {
  const device = o.device ?? moduleDevice(segmenter);
  const amp = autocastFor(o.precision ?? '32', device);
  const soft = o.softTargets ?? softTargetsOf(segmenter);
  const protocols = [...new Set(o.protocols ?? [])];
  const perSample: SampleResult[] = [];
  const total = loader.length;
  let done = 0;
  await withEvalMode(segmenter, async () => {
    for await (const b of loader.epoch(o.epoch ?? 0)) {
      const aug = o.augment;
      const step = done;
      const r = noGrad(() => tidy(() => {
        let { images, masks } = batchTensors(b, device);
        if (aug && aug.config.p > 0) ({ images, masks } = augmentBatch(images, masks, aug.config, { seed: aug.seed, epoch: aug.epoch, step }));
        const logits = float32(amp.run(() => segmenter.forward(normalise(images, segmenter.info), segmenter.tokenize(b.prompts))));
        return scoreBatch(logits, masks, { threshold: o.threshold ?? 0.5, soft, loss: o.loss, cpuProbs: protocols.includes('original-size') });
      }));
      b.release();
      const orig = r.probs ? await originalSizeBatch(r.probs, b) : null;
      for (let i = 0; i < b.size; i++) {
        const mr = r.side['model-resolution'][i]!;
        const rec: SampleResult = { name: b.names[i]!, index: b.indices[i]!, prompt: b.prompts[i]!, loss: r.losses[i]!, dice: mr.dice, iou: mr.iou };
        if (protocols.length > 0) rec.protocols = pickProtocols(protocols, r.side, orig, i, i);
        perSample.push(rec);
      }
      o.onBatch?.(++done, total);
    }
  });
  return { ...meansOf(perSample, protocols), perSample };
}

interface BatchScores {
  losses: number[];
  side: ReturnType<typeof modelSideScores>;
  /** [B, S, S] probabilities on the CPU (for the original-size protocol), or null. */
  probs: Float32Array | null;
}

/** Loss and the model-side protocols of one batch of logits [B, 1, S, S] against soft masks. */
function scoreBatch(logits: Tensor, masks: Tensor, o: { threshold: number; soft: boolean; loss: DiceCEOptions | undefined; cpuProbs: boolean }): BatchScores {
  const probs = logits.sigmoid();
  return {
    losses: diceCELossPerSample(logits, lossTargets(masks, o.soft), o.loss).toArray(),
    side: modelSideScores(probs, masks, o.threshold),
    probs: o.cpuProbs ? probs.to('float32').to('cpu').toFloat32Array() : null,
  };
}

/** The original-size protocol of each item of a batch that has a mask file (null: none). */
async function originalSizeBatch(probs: Float32Array, b: Batch): Promise<(ProtocolSample | null)[]> {
  const S = b.imageSize;
  const out: (ProtocolSample | null)[] = [];
  for (let i = 0; i < b.size; i++) {
    const file = b.maskPaths[i];
    if (!file) {
      out.push(null);
      continue;
    }
    const truth = await readMaskGray(file);
    out.push(originalSizeScores(originalSizePrediction(probs.subarray(i * S * S, (i + 1) * S * S), S, truth.width, truth.height), truth.gray));
  }
  return out;
}

/** Item `i`'s scores under `protocols` (`orig[origIndex]`: its original-size score, if any). */
function pickProtocols(
  protocols: readonly EvalProtocol[], side: BatchScores['side'], orig: (ProtocolSample | null)[] | null, origIndex: number, i: number,
): Partial<Record<EvalProtocol, ProtocolSample>> {
  const out: Partial<Record<EvalProtocol, ProtocolSample>> = {};
  for (const p of protocols) {
    const v = p === 'original-size' ? orig?.[origIndex] : side[p][i];
    if (v) out[p] = v;
  }
  return out;
}

/** Means over samples (summed in arrival order), and each protocol's aggregate. */
export function meansOf(rs: readonly SampleResult[], protocols: readonly EvalProtocol[] = []): EvalMeans {
  const n = rs.length;
  let loss = 0, dice = 0, iou = 0;
  for (const r of rs) {
    loss += r.loss;
    dice += r.dice;
    iou += r.iou;
  }
  const out: EvalMeans = n === 0 ? { samples: 0, loss: Number.NaN, dice: Number.NaN, iou: Number.NaN } : { samples: n, loss: loss / n, dice: dice / n, iou: iou / n };
  if (protocols.length > 0) {
    out.protocols = {};
    for (const p of protocols) out.protocols[p] = protocolMeans(p, rs.flatMap((r) => (r.protocols?.[p] ? [r.protocols[p]] : [])));
  }
  return out;
}

export interface EvaluateOptions extends EvalLoopOptions, PromptOptions {
  batchSize?: number;
  /** The loader's seed (the prompt a `random` prompt key picks): a run's, to read as its training did. */
  seed?: number;
  workers?: number;
  /** Model input side; default the segmenter's `info.imageSize`. */
  imageSize?: number;
}

/** Evaluates a segmenter on one split of a dataset folder. */
export async function evaluate(segmenter: Segmenter, dataDir: string, split: Split, o: EvaluateOptions = {}): Promise<EvalResult> {
  const samples = await loadSplit(dataDir, split, o);
  await warnAboutRepairs(samples.map((s) => s.imagePath), { root: dataDir });
  const loader = loaderFor(segmenter, samples, {
    ...promptOptions(o),
    imageSize: o.imageSize ?? null,
    batchSize: o.batchSize ?? 8,
    shuffle: false,
    train: false,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  });
  try {
    return await evaluateLoader(segmenter, loader, o);
  } finally {
    await loader.close();
  }
}

// ---------------------------------------------------------------------------------------
// Prediction

export interface PredictOptions extends PromptOptions {
  /** Where the PNGs go (created). */
  outDir: string;
  /**
   * A dataset folder (with `split`: its entries, prompts and mask names) or, without `split`, a
   * folder of images (every image file, recursively; `prompt` or `overridePrompt` required).
   */
  input: string;
  /** Instead of a folder: these image files (names: their base names, which must differ). */
  images?: readonly string[];
  split?: Split;
  /** The prompt for a folder of images. */
  prompt?: string;
  batchSize?: number;
  workers?: number;
  imageSize?: number;
  threshold?: number;
  /** Also write `<stem>_overlay.png` (the image with the mask tinted). Default true. */
  overlays?: boolean;
  /** With a dataset split, also compute loss/Dice/IoU against its masks. Default true. */
  score?: boolean;
  loss?: DiceCEOptions;
  /** After each batch: batches done and in all, and the images written so far with their rate. */
  onBatch?: (done: number, total: number, progress: PredictProgress) => void;
  /** Autocast of the forward ('32': none). Default '32'. */
  precision?: Precision;
}

export interface PredictProgress {
  /** Images whose PNGs are written. */
  images: number;
  totalImages: number;
  /** Written images per second since the call began. */
  imagesPerSecond: number;
}

export interface PredictedFile {
  /** Sample name (mask name or image path relative to the input folder). */
  name: string;
  mask: string;
  prob: string;
  overlay?: string;
  prompt: string;
  width: number;
  height: number;
  foreground: number;
  loss?: number;
  dice?: number;
  iou?: number;
  /** A scored split: the sample under every evaluation protocol. */
  protocols?: Partial<Record<EvalProtocol, ProtocolSample>>;
}

export interface PredictResult {
  outDir: string;
  files: PredictedFile[];
  /** Scores (dataset split with `score`) as `evaluate` gives them, with every protocol. */
  evaluation?: EvalResult;
}

async function listImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()) && !/_(prob|overlay)\.png$/i.test(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/**
 * Predicts masks for a dataset split or a folder of images and writes them at each image's
 * original size: `<outDir>/<name>.png` (0/255), `<name>_prob.png`, `<name>_overlay.png`, and
 * `<outDir>/predictions.json` listing them (with per-sample Dice/IoU for a scored split).
 * `segmenter`: a libtorch segmenter, or a `LogitsModel` (an exported ONNX graph).
 */
export async function predictFolder(segmenter: Segmenter | LogitsModel, o: PredictOptions): Promise<PredictResult> {
  const root = path.resolve(o.input);
  let samples: LoaderSample[];
  let names: string[];
  let imagePaths: string[];
  const promptOpts = promptOptions(o);
  const scored = o.split !== undefined && (o.score ?? true);
  if (o.split !== undefined) {
    const ds = await loadSplit(root, o.split, promptOpts);
    samples = ds;
    names = ds.map((s) => s.maskName);
    imagePaths = ds.map((s) => s.imagePath);
  } else {
    const prompt = o.prompt ?? o.overridePrompt;
    if (prompt === undefined || prompt.trim() === '') throw new Error('predictFolder: a folder of images needs a prompt (prompt or overridePrompt)');
    if (o.images !== undefined) {
      for (const f of o.images) requireRegularFile(f, 'predict');
      imagePaths = o.images.map((f) => path.resolve(f));
      names = o.images.map((f) => path.basename(f));
      const seen = new Map<string, string>();
      names.forEach((n, i) => {
        const other = seen.get(n);
        if (other !== undefined) throw new Error(`predict: ${other} and ${o.images![i]} are both named ${n}; predict them in separate calls or pass their folder`);
        seen.set(n, o.images![i]!);
      });
    } else {
      imagePaths = await listImages(root);
      if (imagePaths.length === 0) throw new Error(`predictFolder: no images (${IMAGE_EXTENSIONS.join(', ')}) found in ${root}`);
      names = imagePaths.map((p) => path.relative(root, p));
    }
    if (imagePaths.length === 0) throw new Error('predictFolder: no images given');
    samples = imagePaths.map((p, i) => ({ imagePath: p, maskName: names[i]!, prompts: { p: prompt }, index: i }));
    promptOpts.overridePrompt = prompt;
  }
  const outDir = path.resolve(o.outDir);
  const overlays = o.overlays ?? true;
  // Every output is decided, and checked against every input, before anything is written.
  const plan = planPredictionOutputs({
    outDir, names, overlays,
    inputs: o.split !== undefined ? [...imagePaths, ...(samples as { maskPath?: string }[]).flatMap((s) => (s.maskPath ? [s.maskPath] : []))] : imagePaths,
    ...(o.images === undefined ? { protectedDir: { dir: o.input, what: o.split !== undefined ? 'the dataset folder' : 'the input folder' } } : {}),
  });
  ensureOutputDir(o.outDir, 'output folder');
  await warnAboutRepairs(imagePaths, { root });
  // A failure or an exit (Ctrl-C) half-way removes what this call wrote, so a retry is not refused.
  let finished = false;
  const cleanup = (): void => {
    if (!finished) removeFreshOutputs(plan, outDir);
  };
  process.on('exit', cleanup);
  const loader = loaderFor(segmenter, samples, {
    ...promptOpts,
    imageSize: o.imageSize ?? null,
    batchSize: o.batchSize ?? 8,
    shuffle: false,
    train: false,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
  });
  const files: PredictedFile[] = [];
  const started = performance.now();
  const progressOf = (images: number): PredictProgress => ({
    images, totalImages: samples.length, imagesPerSecond: images / Math.max(1e-9, (performance.now() - started) / 1000),
  });
  const device = isSegmenter(segmenter) ? moduleDevice(segmenter) : 'cpu';
  const amp = autocastFor(o.precision ?? '32', device);
  const threshold = o.threshold ?? 0.5;
  const soft = isSegmenter(segmenter) ? softTargetsOf(segmenter) : true;
  const protocols = scored ? [...EVAL_PROTOCOLS] : [];
  const perSample: SampleResult[] = [];
  let done = 0;
  // Write-behind: a batch's PNGs (encoded on libvips' threads) are written while the next batch
  // runs its forward; at most one batch's writes are pending, and entries keep the input order.
  let pending: Promise<void> = Promise.resolve();
  try {
    await withEvalMode(segmenter, async () => {
      for await (const b of loader.epoch(0)) {
        const S = b.imageSize;
        const external = isSegmenter(segmenter) ? null
          : await segmenter.logits(noGrad(() => tidy(() => normalise(batchTensors(b, 'cpu').images, segmenter.info).toFloat32Array())), b.size, S);
        const r = noGrad(() => tidy(() => {
          const { images, masks } = batchTensors(b, device);
          const logits = isSegmenter(segmenter)
            ? float32(amp.run(() => segmenter.forward(normalise(images, segmenter.info), segmenter.tokenize(b.prompts))))
            : tensor(external!, [b.size, 1, S, S]);
          return scoreBatch(logits, masks, { threshold, soft, loss: o.loss, cpuProbs: true });
        }));
        const batch = { indices: [...b.indices], prompts: [...b.prompts], originalSizes: [...b.originalSizes], maskPaths: [...b.maskPaths], size: b.size };
        b.release();
        await pending;
        o.onBatch?.(done, loader.length, progressOf(files.length));
        const probs = r.probs!;
        // Resized and quantised now (libtorch, this thread); encoded and written in the background.
        const outputs = Array.from({ length: batch.size }, (_, i) => {
          const [w, h] = batch.originalSizes[i]!;
          return { i, w, h, pred8: originalSizePrediction(probs.subarray(i * S * S, (i + 1) * S * S), S, w, h) };
        });
        const writes = (async () => {
          const written = await Promise.all(outputs.map(({ i, w, h, pred8 }) => {
            const planned = plan.outputs[batch.indices[i]!]!;
            return writePredictionPngs(planned.mask, pred8, w, h, {
              threshold, probPath: planned.prob,
              ...(planned.overlay !== undefined ? { imagePath: imagePaths[batch.indices[i]!]!, overlayPath: planned.overlay } : {}),
            });
          }));
          for (const { i, w, h, pred8 } of outputs) {
            const idx = batch.indices[i]!;
            const name = names[idx]!;
            const out = written[i]!;
            const entry: PredictedFile = {
              name, mask: out.mask, prob: out.prob, ...(out.overlay ? { overlay: out.overlay } : {}),
              prompt: batch.prompts[i]!, width: w, height: h, foreground: out.foreground,
            };
            if (scored) {
              const mr = r.side['model-resolution'][i]!;
              const rec: SampleResult = { name, index: idx, prompt: batch.prompts[i]!, loss: r.losses[i]!, dice: mr.dice, iou: mr.iou };
              // The original-size protocol scores the written 8-bit map when the mask has the image's size.
              const maskFile = batch.maskPaths[i];
              let orig: ProtocolSample | null = null;
              if (maskFile) {
                const truth = await readMaskGray(maskFile);
                const p8 = truth.width === w && truth.height === h ? pred8 : originalSizePrediction(probs.subarray(i * S * S, (i + 1) * S * S), S, truth.width, truth.height);
                orig = originalSizeScores(p8, truth.gray);
              }
              rec.protocols = pickProtocols(protocols, r.side, [orig], 0, i);
              Object.assign(entry, { loss: rec.loss, dice: rec.dice, iou: rec.iou, protocols: rec.protocols });
              perSample.push(rec);
            }
            files.push(entry);
          }
        })();
        writes.catch(() => undefined); // handled: the next `await pending` rethrows it
        pending = writes;
        done++;
      }
      await pending;
      o.onBatch?.(done, loader.length, progressOf(files.length));
    });
    const result: PredictResult = { outDir, files };
    if (scored) result.evaluation = { ...meansOf(perSample, protocols), perSample };
    await fs.writeFile(path.join(outDir, PREDICTIONS_INDEX), `${JSON.stringify({ outDir, files, ...(result.evaluation ? { means: meansOf(perSample, protocols) } : {}) }, null, 1)}\n`);
    finished = true;
    return result;
  } catch (e) {
    await pending.catch(() => undefined); // no write may land after the cleanup
    cleanup();
    throw e;
  } finally {
    process.off('exit', cleanup);
    await loader.close();
  }
}
