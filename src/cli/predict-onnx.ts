// `tunevlseg predict --onnx <dir>`: the export folder's model.onnx in onnxruntime-node, writing
// what `predict --tuned` writes (predictFolder with the ONNX model as its LogitsModel).
import { resolve } from 'node:path';
import { predictFolder } from '../inference/predict.js';

export interface PredictOnnxCliOptions {
  onnx: string;
  out: string;
  batchSize?: number;
  threshold?: string;
  overlays: boolean;
  quiet?: boolean;
}

/** Predicts a folder or image files (as `predictFolder` takes them) with an export folder; returns the output folder. */
export async function predictOnnx(source: { input: string; images?: string[] }, o: PredictOnnxCliOptions): Promise<string> {
  const { OnnxSegmenter } = await import('../export/onnx-runtime.js');
  const model = await OnnxSegmenter.open(resolve(o.onnx));
  try {
    const res = await predictFolder(model, {
      ...source, prompt: model.preprocess.prompt, outDir: resolve(o.out), overlays: o.overlays,
      threshold: o.threshold ? Number.parseFloat(o.threshold) : model.preprocess.threshold,
      ...(o.batchSize ? { batchSize: o.batchSize } : {}),
    });
    if (!o.quiet) console.log(`${res.files.length} image(s) with ${o.onnx}/model.onnx (prompt "${model.preprocess.prompt}"): masks, probability maps${o.overlays ? ' and overlays' : ''} at original size`);
    return res.outDir;
  } finally {
    await model.dispose();
  }
}
