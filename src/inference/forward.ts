/**
 * Running a model over a batch for evaluation and prediction: a libtorch `Segmenter` or a model
 * outside libtorch (`LogitsModel`: an exported ONNX graph), in eval mode, with the autocast of
 * the precision asked for; logits always come back as float32 [B, 1, S, S].
 */
import type { Batch } from '../data/loader.js';
import { type Tensor, tensor, tidy, noGrad } from '../torch/index.js';
import type { Segmenter, SegmenterInfo } from '../tuning/segmenter.js';
import { batchTensors, normalise } from './inputs.js';
import { float32, type Autocast } from './precision.js';

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

export const isSegmenter = (m: Segmenter | LogitsModel): m is Segmenter => 'forward' in m;

/** Runs `fn` with the segmenter in eval mode, restoring training mode after. */
export function withEvalMode<T>(segmenter: Segmenter | LogitsModel, fn: () => Promise<T>): Promise<T> {
  if (!isSegmenter(segmenter)) return fn();
  const wasTraining = segmenter.training;
  segmenter.eval();
  return fn().finally(() => {
    if (wasTraining) segmenter.train();
  });
}

/** The logits [B, 1, S, S] (float32) of a segmenter's forward on normalised `images` [B, 3, S, S]. Call inside `tidy`. */
export function segmenterLogits(segmenter: Segmenter, images: Tensor, prompts: string[], amp: Autocast): Tensor {
  return float32(amp.run(() => segmenter.forward(normalise(images, segmenter.info), segmenter.tokenize(prompts))));
}

/** An outside model's logits of a batch, as a Float32Array (run before the batch's `tidy`: it is asynchronous). */
export async function externalLogits(model: LogitsModel, b: Batch): Promise<Float32Array> {
  const S = b.imageSize;
  return model.logits(
    noGrad(() => tidy(() => normalise(batchTensors(b, 'cpu').images, model.info).toFloat32Array())),
    b.size,
    S,
  );
}

/** An outside model's logits as a tensor [B, 1, S, S]. Call inside `tidy`. */
export function logitsTensor(logits: Float32Array, b: Batch): Tensor {
  return tensor(logits, [b.size, 1, b.imageSize, b.imageSize]);
}
