/**
 * From dataset samples to model inputs, one road for training, evaluation, prediction and
 * embeddings: `loaderFor` builds the batch loader (the model's side, [0, 1] pixels, soft
 * masks), `batchTensors` moves a batch to the device, and `normalise` applies the model's
 * mean/std once, on the tensor, right before the forward pass (after any augmentation, which
 * works on pixels).
 */
import { BatchLoader, type Batch, type LoaderOptions, type LoaderSample } from '../data/loader.js';
import { type Tensor, tensor } from '../torch/index.js';
import type { SegmenterInfo } from '../tuning/segmenter.js';

export type LoaderForOptions = Omit<LoaderOptions, 'size'> & {
  /** Model input side; default the model's `info.imageSize`. */
  imageSize?: number | null;
};

/** The batch loader of a model: its input side, [0, 1] pixels, soft masks. */
export function loaderFor(model: { info: SegmenterInfo }, samples: readonly LoaderSample[], o: LoaderForOptions): BatchLoader {
  const { imageSize, ...rest } = o;
  return new BatchLoader(samples, { ...rest, size: imageSize ?? model.info.imageSize });
}

/** A loader batch on `device`: pixels [B, 3, S, S] in [0, 1] and masks [B, 1, S, S]. */
export function batchTensors(b: Batch, device: string): { images: Tensor; masks: Tensor } {
  const S = b.imageSize;
  let images = tensor(b.images, [b.size, 3, S, S]);
  let masks = tensor(b.masks, [b.size, 1, S, S]);
  if (device !== 'cpu') {
    images = images.to(device);
    masks = masks.to(device);
  }
  return { images, masks };
}

/** (pixels - mean) / std per channel, with the model's statistics. */
export function normalise(pixels: Tensor, info: Pick<SegmenterInfo, 'mean' | 'std'>): Tensor {
  const mean = tensor(Float32Array.from(info.mean), [1, 3, 1, 1]).to(pixels.dtype).to(pixels.device);
  const std = tensor(Float32Array.from(info.std), [1, 3, 1, 1]).to(pixels.dtype).to(pixels.device);
  return pixels.sub(mean).div(std);
}
