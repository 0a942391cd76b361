/**
 * `predictFolder`: probability maps for a dataset split or a folder of images, written back at
 * each image's original size as the reference does (bicubic, 8-bit `save_image`, see
 * protocols.ts): binary mask, 8-bit probability, optional overlay. Three steps, one file each:
 * plan (what is read, prediction-inputs.ts; where it goes, checked before anything is written,
 * prediction-plan.ts), run (the forward over batches, prediction-run.ts) and write (PNGs one
 * batch behind the next forward, prediction-write.ts).
 */
import path from 'node:path';
import { warnAboutRepairs } from '../data/repairs.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { ensureOutputDir } from '../util/output-guard.js';
import { withEvalMode, type LogitsModel } from './forward.js';
import { predictionInputs, type PredictionSource } from './prediction-inputs.js';
import { planPredictionOutputs } from './prediction-plan.js';
import { PredictionRun, type PredictionRunOptions } from './prediction-run.js';
import { PredictionWriter, type PredictResult } from './prediction-write.js';

export type { PredictedFile, PredictResult } from './prediction-write.js';

export interface PredictOptions extends PredictionSource, PredictionRunOptions {
  /** Where the PNGs go (created). */
  outDir: string;
  /** Also write `<stem>_overlay.png` (the image with the mask tinted). Default true. */
  overlays?: boolean;
  /** With a dataset split, also compute loss/Dice/IoU against its masks. Default true. */
  score?: boolean;
  /** After each batch: batches done and in all, and the images written so far with their rate. */
  onBatch?: (done: number, total: number, progress: PredictProgress) => void;
}

export interface PredictProgress {
  /** Images whose PNGs are written. */
  images: number;
  totalImages: number;
  /** Written images per second since the call began. */
  imagesPerSecond: number;
}

/**
 * Predicts masks for a dataset split or a folder of images and writes them at each image's
 * original size: `<outDir>/<name>.png` (0/255), `<name>_prob.png`, `<name>_overlay.png`, and
 * `<outDir>/predictions.json` listing them (with per-sample Dice/IoU for a scored split).
 * `segmenter`: a libtorch segmenter, or a `LogitsModel` (an exported ONNX graph).
 */
export async function predictFolder(segmenter: Segmenter | LogitsModel, o: PredictOptions): Promise<PredictResult> {
  const inputs = await predictionInputs(o);
  const outDir = path.resolve(o.outDir);
  // Every output is decided, and checked against every input, before anything is written.
  const plan = planPredictionOutputs({
    outDir,
    names: inputs.names,
    overlays: o.overlays ?? true,
    inputs: inputs.files,
    ...(o.images === undefined
      ? { protectedDir: { dir: o.input, what: o.split !== undefined ? 'the dataset folder' : 'the input folder' } }
      : {}),
  });
  ensureOutputDir(o.outDir, 'output folder');
  await warnAboutRepairs(inputs.imagePaths, { root: inputs.root });
  const writer = new PredictionWriter(plan, inputs, {
    outDir,
    threshold: o.threshold ?? 0.5,
    scored: o.split !== undefined && (o.score ?? true),
  });
  const run = new PredictionRun(segmenter, inputs, o);
  const started = performance.now();
  const report = (done: number): void => {
    const images = writer.files.length;
    o.onBatch?.(done, run.batchCount, {
      images,
      totalImages: inputs.samples.length,
      imagesPerSecond: images / Math.max(1e-9, (performance.now() - started) / 1000),
    });
  };
  try {
    await withEvalMode(segmenter, async () => {
      let done = 0;
      for await (const batch of run.batches()) {
        await writer.settled();
        report(done);
        writer.start(batch);
        done++;
      }
      await writer.settled();
      report(done);
    });
    return await writer.finish();
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    await run.close();
  }
}
