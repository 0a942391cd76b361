/**
 * `tunevlseg export`: a (tuned) segmenter with its prompt baked in, as a folder:
 *   model.onnx        images in, logits + probabilities out (src/export/trace-segmenter.ts)
 *   preprocess.json   size, mean/std, interpolation, threshold (src/export/preprocess.ts)
 *   web/              a self-contained page running model.onnx with onnxruntime-web (src/export/web.ts)
 *   README.md         base model, learner, prompt, checkpoint fingerprint
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dispose, noGrad, tidy, tensor } from '../torch/index.js';
import type { TunedSegmenter } from '../tuning/factory.js';
import { traceSegmenter } from './trace-segmenter.js';
import { ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUTS, type PreprocessJson } from './preprocess.js';
import { writeWebPage } from './web.js';
import { withFullStop } from '../data/format.js';

export interface ExportOptions {
  /** A tuned checkpoint (.safetensors from `tunevlseg train`), or */
  tuned?: string;
  /** a base model (zero-shot; with --tuned: where its base model lives). */
  model?: string;
  prompt: string;
  outDir: string;
  fp16?: boolean;
  imageSize?: number;
  tokenizer?: string;
  randomWeights?: boolean;
  /** Append "." to the prompt as `predict` and training do (reference insert_stop_at_last). Default true. */
  appendFullStop?: boolean;
  /** Binary-mask threshold written to preprocess.json (default 0.5). */
  threshold?: number;
  /** Compare onnxruntime-node's output with libtorch's on one image (default true; skipped when onnxruntime-node is absent). */
  verify?: boolean;
  onStage?: (stage: string) => void;
}

export interface ExportSummary {
  outDir: string;
  modelBytes: number;
  /** Seconds spent tracing and writing model.onnx. */
  traceSeconds: number;
  nodes: number;
  /** max |logits(onnxruntime) - logits(libtorch)| on one image, or null when not verified. */
  verifiedMaxAbs: number | null;
  family: string;
  learner: string;
}

const sha256File = (f: string): string => `sha256:${createHash('sha256').update(readFileSync(f)).digest('hex')}`;

/** Builds the segmenter the options name. */
async function segmenterFor(o: ExportOptions): Promise<TunedSegmenter> {
  const { buildSegmenter } = await import('../tuning/factory.js');
  const { loadTuned } = await import('../tuning/checkpoint.js');
  const overrides = {
    ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
    ...(o.imageSize ? { imageSize: o.imageSize } : {}),
  };
  if (o.tuned) return (await loadTuned(o.tuned, o.model, overrides)).segmenter;
  if (!o.model) throw new Error('export: give --tuned <checkpoint.safetensors> or --model <preset|folder|hub id>');
  return buildSegmenter({ model: o.model, learner: 'none', ...overrides, ...(o.randomWeights ? { randomWeights: true } : {}) });
}

function readme(o: ExportOptions, d: Record<string, unknown>, pre: PreprocessJson, ckptFingerprint: string | null, modelBytes: number): string {
  const base = (d.base ?? {}) as Record<string, unknown>;
  const learner = (d.learner ?? {}) as Record<string, unknown>;
  return `# ${String(d.family)} + ${String(learner.name)}: "${o.prompt}"

Exported by \`tunevlseg export\` (ONNX opset ${ONNX_OPSET}, ${pre.weights} weights, ${(modelBytes / 2 ** 20).toFixed(1)} MiB).

| | |
|---|---|
| base model | ${String(base.id)} (weights fingerprint \`${String(base.fingerprint)}\`) |
| learner | \`${JSON.stringify(learner)}\` |
| prompt | ${JSON.stringify(o.prompt)} (the model sees ${JSON.stringify(pre.modelPrompt)}; folded into the graph) |
| checkpoint | ${o.tuned ? `${resolve(o.tuned)} (\`${ckptFingerprint}\`)` : 'none (zero-shot base model)'} |

## Files
- \`model.onnx\`: input \`${ONNX_INPUT}\` float32 [batch, 3, ${pre.size}, ${pre.size}]; outputs ${ONNX_OUTPUTS.map((n) => `\`${n}\``).join(' and ')} [batch, 1, ${pre.size}, ${pre.size}].
- \`preprocess.json\`: resize to ${pre.size}x${pre.size} (${pre.interpolation}), RGB in [0, 1], (x - mean) / std with mean ${JSON.stringify(pre.mean)}, std ${JSON.stringify(pre.std)}; mask = 8-bit probability > 255 x ${pre.threshold}.
- \`web/\`: open \`web/index.html\` from any static server (e.g. \`python3 -m http.server -d web\`); it runs the model in the browser with onnxruntime-web (WASM, no network beyond its own files).

## Run
\`\`\`
tunevlseg predict --onnx ${resolve(o.outDir)} images/
\`\`\`
`;
}

/** Writes the export folder; returns what was written. */
export async function exportModel(o: ExportOptions): Promise<ExportSummary> {
  if (!o.prompt || !o.prompt.trim()) throw new Error('export: --prompt is required (the prompt is baked into the model)');
  const outDir = resolve(o.outDir);
  o.onStage?.('loading the model');
  const seg = await segmenterFor(o);
  try {
    seg.eval();
    // The text the model sees, as predict's loader gives it.
    const modelPrompt = (o.appendFullStop ?? true) ? withFullStop(o.prompt) : o.prompt;
    const text = seg.tokenize([modelPrompt]);
    const d = seg.describe();
    const ckptFingerprint = o.tuned ? sha256File(o.tuned) : null;
    const learner = String((d.learner as Record<string, unknown>).name);
    o.onStage?.('tracing the forward pass');
    const t0 = performance.now();
    const res = traceSegmenter(seg, text, {
      ...(o.fp16 ? { fp16: true } : {}),
      metadata: {
        prompt: o.prompt, model_prompt: modelPrompt, family: String(d.family), learner, base_model: String((d.base as Record<string, unknown>).id),
        ...(ckptFingerprint ? { checkpoint: ckptFingerprint } : {}),
      },
      docString: `tunevlseg ${String(d.family)} + ${learner}, prompt ${JSON.stringify(o.prompt)}`,
      ...(o.onStage ? { onPhase: (p: string) => o.onStage!(`  ${p}`) } : {}),
    });
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'model.onnx'), res.model);
    const traceSeconds = (performance.now() - t0) / 1000;
    const pre: PreprocessJson = {
      size: seg.info.imageSize, mean: [...seg.info.mean], std: [...seg.info.std],
      interpolation: 'bicubic (OpenCV INTER_CUBIC: Keys a = -0.75, half-pixel centres, no antialiasing), fit "fill"',
      layout: 'NCHW', channels: 'RGB', input: ONNX_INPUT, outputs: [...ONNX_OUTPUTS],
      threshold: o.threshold ?? 0.5,
      maskResize: 'bilinear, half-pixel centres, to the original image size; 8-bit quantised (round(p*255))',
      prompt: o.prompt, modelPrompt, weights: o.fp16 ? 'float16' : 'float32',
    };
    writeFileSync(join(outDir, 'preprocess.json'), `${JSON.stringify(pre, null, 2)}\n`);
    writeFileSync(join(outDir, 'README.md'), readme(o, d, pre, ckptFingerprint, res.model.byteLength));
    o.onStage?.('writing the web page');
    writeWebPage(outDir);
    let verifiedMaxAbs: number | null = null;
    if (o.verify ?? true) {
      o.onStage?.('verifying with onnxruntime-node');
      verifiedMaxAbs = await verify(seg, text, outDir);
    }
    dispose([text.inputIds, text.attentionMask]);
    return { outDir, modelBytes: res.model.byteLength, traceSeconds, nodes: Object.values(res.nodeCounts).reduce((a, b) => a + b, 0), verifiedMaxAbs, family: String(d.family), learner };
  } finally {
    seg.dispose();
  }
}

/** max |Δlogits| between onnxruntime-node and libtorch on one synthetic image (null without onnxruntime-node). */
async function verify(seg: TunedSegmenter, text: ReturnType<TunedSegmenter['tokenize']>, dir: string): Promise<number | null> {
  const { OnnxSegmenter } = await import('./onnx-runtime.js');
  let m: Awaited<ReturnType<typeof OnnxSegmenter.open>>;
  try {
    m = await OnnxSegmenter.open(dir);
  } catch (e) {
    if (/onnxruntime-node is not installed/.test((e as Error).message)) return null;
    throw e;
  }
  try {
    const S = seg.info.imageSize;
    const img = new Float32Array(3 * S * S);
    for (let i = 0; i < img.length; i++) img[i] = Math.sin(i * 0.37) * 1.5;
    const got = await m.logits(img, 1, S);
    const want = noGrad(() => tidy(() => seg.forward(tensor(img, [1, 3, S, S]), text).toFloat32Array()));
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]! - got[i]!));
    return max;
  } finally {
    await m.dispose();
  }
}
