/**
 * ONNX export benchmark: export time, model.onnx size (float32 and float16 weights), and
 * images/s of onnxruntime-node against our libtorch forward (what `predict --tuned` runs) at the
 * same input size and batch, on CPU, interleaved so both see the same machine load.
 *
 *   npm run bench -- export [--model rd64-refined|cris-rn50|tiny] [--learner vpt] [--batch 1] [--runs 5]
 *
 * Weights are random (the architecture decides size and speed). Prints one line per figure and,
 * last, one JSON object. Never passes/fails on time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getNumThreads, noGrad, tensor, tidy } from '../src/torch/index.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import { traceSegmenter } from '../src/export/trace-segmenter.js';
import { OnnxSegmenter } from '../src/export/onnx-runtime.js';
import { packageRoot } from '../src/util/package-root.js';
import { median } from './util.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const MODELS: Record<string, string> = {
  'rd64-refined': 'rd64-refined',
  'cris-rn50': 'cris-rn50',
  tiny: resolve(packageRoot, '..', 'shared', 'fixtures', 'clipseg-tiny'),
};
const modelArg = arg('model', 'rd64-refined');
const learner = arg('learner', 'vpt');
const batch = Number(arg('batch', '1'));
const runs = Number(arg('runs', '5'));
const tokenizer = resolve(packageRoot, '..', 'shared', 'fixtures', 'tokenizer');

const model = MODELS[modelArg];
if (!model) throw new Error(`--model: one of ${Object.keys(MODELS).join(', ')}`);
const seg = await buildSegmenter({ model, learner: learner as 'vpt', tokenizer, ...(modelArg === 'tiny' ? {} : { randomWeights: true }) });
seg.eval();
const S = seg.info.imageSize;
const text = seg.tokenize(['a polyp.']);
const dir = mkdtempSync(join(tmpdir(), 'bench-export-'));
try {
  let t0 = performance.now();
  const f32 = traceSegmenter(seg, text);
  const exportSeconds = (performance.now() - t0) / 1000;
  writeFileSync(join(dir, 'model.onnx'), f32.model);
  t0 = performance.now();
  const f16 = traceSegmenter(seg, text, { fp16: true });
  const exportF16Seconds = (performance.now() - t0) / 1000;
  writeFileSync(
    join(dir, 'preprocess.json'),
    JSON.stringify({
      size: S,
      mean: seg.info.mean,
      std: seg.info.std,
      interpolation: 'bicubic',
      layout: 'NCHW',
      channels: 'RGB',
      input: 'pixel_values',
      outputs: ['logits', 'probabilities'],
      threshold: 0.5,
      maskResize: 'bilinear',
      prompt: 'a polyp',
      modelPrompt: 'a polyp.',
      weights: 'float32',
    }),
  );
  console.log(
    `${modelArg} + ${learner} at ${S}px: export ${exportSeconds.toFixed(1)} s (float16 weights ${exportF16Seconds.toFixed(1)} s), ` +
      `model.onnx ${(f32.model.byteLength / 2 ** 20).toFixed(1)} MiB (float16 ${(f16.model.byteLength / 2 ** 20).toFixed(1)} MiB), ${f32.tracedOps} traced ops`,
  );

  const ort = await OnnxSegmenter.open(dir);
  const images = new Float32Array(batch * 3 * S * S).map((_, i) => Math.sin(i * 0.001) * 1.5);
  const torchRun = (): number => {
    const t = performance.now();
    noGrad(() =>
      tidy(() => {
        seg
          .forward(tensor(images, [batch, 3, S, S]), {
            inputIds: text.inputIds.expand(batch, -1).contiguous(),
            attentionMask: text.attentionMask.expand(batch, -1).contiguous(),
          })
          .toFloat32Array();
      }),
    );
    return (performance.now() - t) / 1000;
  };
  const ortRun = async (): Promise<number> => {
    const t = performance.now();
    await ort.logits(images, batch, S);
    return (performance.now() - t) / 1000;
  };
  torchRun();
  await ortRun();
  const tTorch: number[] = [],
    tOrt: number[] = [];
  for (let i = 0; i < runs; i++) {
    tTorch.push(torchRun());
    tOrt.push(await ortRun());
  }
  await ort.dispose();
  const ipsTorch = batch / median(tTorch),
    ipsOrt = batch / median(tOrt);
  console.log(
    `libtorch forward: ${ipsTorch.toFixed(2)} images/s (median ${(median(tTorch) * 1000).toFixed(0)} ms per batch of ${batch}, ${getNumThreads()} threads)`,
  );
  console.log(
    `onnxruntime-node: ${ipsOrt.toFixed(2)} images/s (median ${(median(tOrt) * 1000).toFixed(0)} ms); ratio onnxruntime/libtorch ${(ipsOrt / ipsTorch).toFixed(2)}x`,
  );
  console.log(
    JSON.stringify({
      bench: 'export',
      model: modelArg,
      learner,
      imageSize: S,
      batch,
      runs,
      threads: getNumThreads(),
      exportSeconds,
      exportF16Seconds,
      modelBytes: f32.model.byteLength,
      modelF16Bytes: f16.model.byteLength,
      tracedOps: f32.tracedOps,
      imagesPerSecondLibtorch: ipsTorch,
      imagesPerSecondOnnxruntime: ipsOrt,
      ratioOnnxruntimeOverLibtorch: ipsOrt / ipsTorch,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  seg.dispose();
}
