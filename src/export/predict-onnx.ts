/**
 * `tunevlseg predict --onnx <dir>`: an export folder's model.onnx in onnxruntime-node, writing
 * what `predict --tuned` writes (predictFolder with the ONNX model as its LogitsModel); the prompt
 * is the one baked into the export, the threshold its preprocess.json's unless given.
 */
import { resolve } from 'node:path';
import { imageInputs } from '../inference/prediction-inputs.js';
import { predictFolder } from '../inference/predict.js';
import { OnnxSegmenter } from './onnx-runtime.js';

export interface PredictOnnxOptions {
  /** The export folder. */
  onnx: string;
  out: string;
  batchSize?: number | undefined;
  threshold?: number | undefined;
  overlays: boolean;
  /** Progress in images written, with their rate. */
  onProgress?: (done: number, total: number, perSecond?: number) => void;
}

/** Predicts a folder or image files with an export folder. */
export async function predictWithExport(
  inputs: readonly string[],
  o: PredictOnnxOptions,
): Promise<{ outDir: string; images: number; prompt: string }> {
  const source = imageInputs(inputs);
  const model = await OnnxSegmenter.open(resolve(o.onnx));
  try {
    const res = await predictFolder(model, {
      ...source,
      prompt: model.preprocess.prompt,
      outDir: resolve(o.out),
      overlays: o.overlays,
      threshold: o.threshold ?? model.preprocess.threshold,
      ...(o.batchSize ? { batchSize: o.batchSize } : {}),
      ...(o.onProgress
        ? {
            onBatch: (_d: number, _t: number, p: { images: number; totalImages: number; imagesPerSecond: number }) =>
              o.onProgress!(p.images, p.totalImages, p.imagesPerSecond),
          }
        : {}),
    });
    return { outDir: res.outDir, images: res.files.length, prompt: model.preprocess.prompt };
  } finally {
    await model.dispose();
  }
}
