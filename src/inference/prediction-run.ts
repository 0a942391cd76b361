/**
 * The forward half of `predictFolder`: the inputs batched by a loader, each batch through the
 * model (a libtorch segmenter or a `LogitsModel`) in eval mode, its probabilities brought to the
 * CPU with the batch's loss and model-side scores. What is written of them is prediction-write.ts.
 */
import type { BatchLoader } from '../data/loader.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { noGrad, tidy } from '../torch/index.js';
import { scoreBatch, softTargetsOf, type BatchScores } from './batch-scores.js';
import { externalLogits, isSegmenter, logitsTensor, moduleDevice, segmenterLogits, type LogitsModel } from './forward.js';
import { batchTensors, loaderFor } from './inputs.js';
import type { DiceCEOptions } from './loss.js';
import { autocastFor, type Autocast, type Precision } from './precision.js';
import type { PredictionInputs } from './prediction-inputs.js';

/** One batch predicted: what the writer needs of it once the loader's batch is released. */
export interface PredictedBatch {
  /** Model input side S. */
  imageSize: number;
  size: number;
  /** Each item's position among the inputs. */
  indices: number[];
  prompts: string[];
  /** Each item's image size [width, height]. */
  originalSizes: [number, number][];
  /** Each item's mask file (a scored split), else null. */
  maskPaths: (string | null)[];
  /** [B, S, S] probabilities. */
  probs: Float32Array;
  losses: number[];
  side: BatchScores['side'];
}

export interface PredictionRunOptions {
  batchSize?: number;
  workers?: number;
  imageSize?: number;
  threshold?: number;
  loss?: DiceCEOptions;
  /** Autocast of the forward ('32': none). Default '32'. */
  precision?: Precision;
}

/** The batches of a prediction, run one at a time; `close()` ends the loader. */
export class PredictionRun {
  private readonly loader: BatchLoader;
  private readonly device: string;
  private readonly amp: Autocast;
  constructor(
    private readonly model: Segmenter | LogitsModel,
    inputs: PredictionInputs,
    private readonly o: PredictionRunOptions = {},
  ) {
    this.loader = loaderFor(model, inputs.samples, {
      ...inputs.prompts,
      imageSize: o.imageSize ?? null,
      batchSize: o.batchSize ?? 8,
      shuffle: false,
      train: false,
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
    });
    this.device = isSegmenter(model) ? moduleDevice(model) : 'cpu';
    this.amp = autocastFor(o.precision ?? '32', this.device);
  }

  /** Batches in all. */
  get batchCount(): number {
    return this.loader.length;
  }

  /** Each batch predicted, in input order (call with the model in eval mode). */
  async *batches(): AsyncGenerator<PredictedBatch> {
    const model = this.model;
    const soft = isSegmenter(model) ? softTargetsOf(model) : true;
    for await (const b of this.loader.epoch(0)) {
      const external = isSegmenter(model) ? null : await externalLogits(model, b);
      const r = noGrad(() =>
        tidy(() => {
          const { images, masks } = batchTensors(b, this.device);
          const logits = isSegmenter(model) ? segmenterLogits(model, images, b.prompts, this.amp) : logitsTensor(external!, b);
          return scoreBatch(logits, masks, { threshold: this.o.threshold ?? 0.5, soft, loss: this.o.loss, cpuProbs: true });
        }),
      );
      const batch: PredictedBatch = {
        imageSize: b.imageSize,
        size: b.size,
        indices: [...b.indices],
        prompts: [...b.prompts],
        originalSizes: [...b.originalSizes],
        maskPaths: [...b.maskPaths],
        probs: r.probs!,
        losses: r.losses,
        side: r.side,
      };
      b.release();
      yield batch;
    }
  }

  close(): Promise<void> {
    return this.loader.close();
  }
}
