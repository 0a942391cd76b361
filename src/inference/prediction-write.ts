/**
 * The write half of `predictFolder`: each predicted batch resized to every image's original size
 * (bicubic, 8-bit, as the reference's `save_image`), encoded on libvips' threads and written in
 * the background while the next batch runs its forward (at most one batch pending; entries keep
 * the input order); a scored split's entries get their loss, Dice and IoU under every protocol.
 * It ends with predictions.json, or, after a failure or an exit (Ctrl-C) half-way, by removing
 * what it wrote, so a retry into the same folder is not refused.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readMaskGray } from '../data/image.js';
import { writePredictionPngs } from '../data/prediction-png.js';
import { meansOf, pickProtocols, type EvalResult, type SampleResult } from './batch-scores.js';
import { removeFreshOutputs, PREDICTIONS_INDEX, type PredictionPlan } from './prediction-plan.js';
import type { PredictionInputs } from './prediction-inputs.js';
import type { PredictedBatch } from './prediction-run.js';
import { originalSizePrediction, originalSizeScores, EVAL_PROTOCOLS, type EvalProtocol, type ProtocolSample } from './protocols.js';

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

export class PredictionWriter {
  /** The entries written so far, in input order. */
  readonly files: PredictedFile[] = [];
  private readonly perSample: SampleResult[] = [];
  private readonly protocols: readonly EvalProtocol[];
  private pending: Promise<void> = Promise.resolve();
  private finished = false;
  private readonly cleanup = (): void => {
    if (!this.finished) removeFreshOutputs(this.plan, this.o.outDir);
  };

  constructor(
    private readonly plan: PredictionPlan,
    private readonly inputs: PredictionInputs,
    private readonly o: { outDir: string; threshold: number; scored: boolean },
  ) {
    this.protocols = o.scored ? [...EVAL_PROTOCOLS] : [];
    process.on('exit', this.cleanup);
  }

  /** Resolves when every write started so far has landed (rejects with a failed write). */
  settled(): Promise<void> {
    return this.pending;
  }

  /** Resizes a batch now and writes it in the background; call after `settled()`. */
  start(b: PredictedBatch): void {
    const S = b.imageSize;
    // Resized and quantised now (libtorch, this thread); encoded and written in the background.
    const outputs = Array.from({ length: b.size }, (_, i) => {
      const [w, h] = b.originalSizes[i]!;
      return { i, w, h, pred8: originalSizePrediction(b.probs.subarray(i * S * S, (i + 1) * S * S), S, w, h) };
    });
    const writes = (async () => {
      const written = await Promise.all(
        outputs.map(({ i, w, h, pred8 }) => {
          const idx = b.indices[i]!;
          const planned = this.plan.outputs[idx]!;
          return writePredictionPngs(planned.mask, pred8, w, h, {
            threshold: this.o.threshold,
            probPath: planned.prob,
            ...(planned.overlay !== undefined ? { imagePath: this.inputs.imagePaths[idx]!, overlayPath: planned.overlay } : {}),
          });
        }),
      );
      for (const { i, w, h, pred8 } of outputs) {
        const idx = b.indices[i]!;
        const out = written[i]!;
        const entry: PredictedFile = {
          name: this.inputs.names[idx]!,
          mask: out.mask,
          prob: out.prob,
          ...(out.overlay ? { overlay: out.overlay } : {}),
          prompt: b.prompts[i]!,
          width: w,
          height: h,
          foreground: out.foreground,
        };
        if (this.o.scored) Object.assign(entry, await this.score(b, i, pred8, w, h));
        this.files.push(entry);
      }
    })();
    writes.catch(() => undefined); // handled: the next `settled()` rethrows it
    this.pending = writes;
  }

  /** A scored split's item `i`: its loss, Dice and IoU, under every protocol. */
  private async score(
    b: PredictedBatch,
    i: number,
    pred8: Uint8Array,
    w: number,
    h: number,
  ): Promise<Pick<PredictedFile, 'loss' | 'dice' | 'iou' | 'protocols'>> {
    const S = b.imageSize;
    const mr = b.side['model-resolution'][i]!;
    const rec: SampleResult = {
      name: this.inputs.names[b.indices[i]!]!,
      index: b.indices[i]!,
      prompt: b.prompts[i]!,
      loss: b.losses[i]!,
      dice: mr.dice,
      iou: mr.iou,
    };
    // The original-size protocol scores the written 8-bit map when the mask has the image's size.
    const maskFile = b.maskPaths[i];
    let orig: ProtocolSample | null = null;
    if (maskFile) {
      const truth = await readMaskGray(maskFile);
      const p8 =
        truth.width === w && truth.height === h
          ? pred8
          : originalSizePrediction(b.probs.subarray(i * S * S, (i + 1) * S * S), S, truth.width, truth.height);
      orig = originalSizeScores(p8, truth.gray);
    }
    rec.protocols = pickProtocols(this.protocols, b.side, [orig], 0, i);
    this.perSample.push(rec);
    return { loss: rec.loss, dice: rec.dice, iou: rec.iou, protocols: rec.protocols };
  }

  /** Writes predictions.json (after the last batch has `settled()`) and returns what was written. */
  async finish(): Promise<PredictResult> {
    const outDir = this.o.outDir;
    const result: PredictResult = { outDir, files: this.files };
    if (this.o.scored) result.evaluation = { ...meansOf(this.perSample, this.protocols), perSample: this.perSample };
    const means = result.evaluation ? { means: meansOf(this.perSample, this.protocols) } : {};
    await fs.writeFile(path.join(outDir, PREDICTIONS_INDEX), `${JSON.stringify({ outDir, files: this.files, ...means }, null, 1)}\n`);
    this.finished = true;
    process.off('exit', this.cleanup);
    return result;
  }

  /** After a failure: waits for the pending writes (none may land after the cleanup), then removes what this prediction wrote. */
  async abort(): Promise<void> {
    await this.pending.catch(() => undefined);
    this.cleanup();
    process.off('exit', this.cleanup);
  }
}
