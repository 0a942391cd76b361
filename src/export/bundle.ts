/**
 * `tunevlseg export`: a (tuned) segmenter with its prompt baked in, as a folder:
 *   model.onnx        images in, logits + probabilities out (src/export/trace-segmenter.ts)
 *   preprocess.json   size, mean/std, interpolation, threshold (src/export/preprocess.ts)
 *   web/              a self-contained page running model.onnx with onnxruntime-web (src/export/web.ts)
 *   README.md         base model, learner, prompt, checkpoint fingerprint
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { StagingDir } from '../data/convert/staging.js';
import { canonicalPath, ensureOutputDir, isInside, OutputPathError } from '../util/output-guard.js';
import { dispose, noGrad, tidy, tensor } from '../torch/index.js';
import type { TunedSegmenter } from '../tuning/factory.js';
import { traceSegmenter } from './trace-segmenter.js';
import { ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUTS, readPreprocess, type PreprocessJson } from './preprocess.js';
import { writeWebPage } from './web.js';
import { withFullStop } from '../data/format.js';
import { inferenceConfig } from '../tuning/config.js';
import { checkpointOf } from '../train/run-folder.js';
import { shellCommand } from '../util/shell-quote.js';

export interface ExportOptions {
  /** A tuned checkpoint (.safetensors from `tunevlseg train`), or */
  tuned?: string;
  /** a base model (zero-shot; with --tuned: where its base model lives). */
  model?: string;
  /** Other model config keys (`--model key=value`); runtime-only ones (the frozen-feature cache) are dropped. */
  modelConfig?: Record<string, unknown>;
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
  /** Replace a non-empty `outDir` that is not an earlier export (default false: refused). */
  overwrite?: boolean;
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
    ...inferenceConfig(o.modelConfig ?? {}),
    ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
    ...(o.imageSize ? { imageSize: o.imageSize } : {}),
  };
  if (o.tuned) return (await loadTuned(checkpointOf(o.tuned), o.model, overrides)).segmenter;
  if (!o.model) throw new Error('export: give --tuned <checkpoint.safetensors> or --model <preset|folder|hub id>');
  return buildSegmenter({ model: o.model, learner: 'none', ...overrides, ...(o.randomWeights ? { randomWeights: true } : {}) });
}

function readme(
  o: ExportOptions,
  d: Record<string, unknown>,
  pre: PreprocessJson,
  ckptFingerprint: string | null,
  modelBytes: number,
): string {
  const base = (d.base ?? {}) as Record<string, unknown>;
  const learner = (d.learner ?? {}) as Record<string, unknown>;
  return `# ${String(d.family)} + ${String(learner.name)}: "${o.prompt}"

Exported by \`tunevlseg export\` (ONNX opset ${ONNX_OPSET}, ${pre.weights} weights, ${(modelBytes / 2 ** 20).toFixed(1)} MiB).

| | |
|---|---|
| base model | ${String(base.id)} (weights fingerprint \`${String(base.fingerprint)}\`) |
| learner | \`${JSON.stringify(learner)}\` |
| prompt | ${JSON.stringify(o.prompt)} (the model sees ${JSON.stringify(pre.modelPrompt)}; folded into the graph) |
| checkpoint | ${o.tuned ? `${checkpointOf(o.tuned)} (\`${ckptFingerprint}\`)` : 'none (zero-shot base model)'} |

## Files
- \`model.onnx\`: input \`${ONNX_INPUT}\` float32 [batch, 3, ${pre.size}, ${pre.size}]; outputs ${ONNX_OUTPUTS.map((n) => `\`${n}\``).join(' and ')} [batch, 1, ${pre.size}, ${pre.size}].
- \`preprocess.json\`: resize to ${pre.size}x${pre.size} (${pre.interpolation}), RGB in [0, 1], (x - mean) / std with mean ${JSON.stringify(pre.mean)}, std ${JSON.stringify(pre.std)}; mask = 8-bit probability > 255 x ${pre.threshold}.
- \`web/\`: a page that runs the model in the browser with onnxruntime-web (WASM, no network beyond its own files). Browsers do not run it from disk (file://): serve it with \`${shellCommand(['tunevlseg', 'serve', resolve(o.outDir)])}\` (127.0.0.1; or any static server of \`web/\`) and open the URL it prints.

## Run
\`\`\`
${shellCommand(['tunevlseg', 'predict', '--onnx', resolve(o.outDir), 'images/'])}
\`\`\`
`;
}

/** The files and folders an export folder holds; a folder holding only these (and a valid preprocess.json) is an earlier export. */
export const EXPORT_ENTRIES = ['model.onnx', 'preprocess.json', 'README.md', 'web'] as const;

/** An earlier `tunevlseg export` folder: nothing in it but EXPORT_ENTRIES, with model.onnx and a valid preprocess.json. */
export function isEarlierExport(dir: string): boolean {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return false;
  }
  if (!entries.includes('model.onnx') || !entries.every((e) => (EXPORT_ENTRIES as readonly string[]).includes(e))) return false;
  try {
    readPreprocess(join(dir, 'preprocess.json'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Where the export goes, decided before the model is loaded or traced (the rules of `predict` and
 * `data convert`, docs/reliability.md): `--out` must be a folder, or not exist; a non-empty one is
 * replaced only when it is an earlier export or with `overwrite`, never when it is (or holds) the
 * folder the command runs in, or holds an input (the checkpoint, a local model or tokenizer folder).
 * Returns whether an existing folder is replaced.
 */
export function checkExportOut(o: Pick<ExportOptions, 'outDir' | 'tuned' | 'model' | 'tokenizer' | 'overwrite'>): {
  outDir: string;
  replace: boolean;
} {
  const outDir = resolve(o.outDir);
  let st: Stats | null = null;
  try {
    st = statSync(outDir);
  } catch {
    st = null;
  }
  if (st !== null && !st.isDirectory()) {
    throw new OutputPathError(
      `export: --out ${o.outDir} is a file, not a folder (an export is a folder: model.onnx, preprocess.json, web/, README.md); choose a new folder`,
    );
  }
  const out = canonicalPath(outDir);
  const inputs = [o.tuned, o.model, o.tokenizer].filter((p): p is string => typeof p === 'string' && existsSync(p));
  for (const input of inputs) {
    const canon = canonicalPath(input);
    if (isInside(canon, out))
      throw new OutputPathError(`export: --out ${o.outDir} holds the input ${input}; write the export somewhere else`);
    if (statSync(input).isDirectory() && isInside(out, canon))
      throw new OutputPathError(`export: --out ${o.outDir} is inside the input folder ${input}; write the export somewhere else`);
  }
  const entries = st === null ? [] : readdirSync(outDir);
  if (entries.length === 0) {
    ensureOutputDir(dirname(outDir), 'export: the folder of --out');
    return { outDir, replace: false };
  }
  if (isInside(canonicalPath(process.cwd()), out)) {
    throw new OutputPathError(
      `export: --out ${o.outDir} is the folder this command runs in (or holds it) and is not empty; choose a new folder`,
    );
  }
  if (isEarlierExport(outDir)) return { outDir, replace: true };
  if (o.overwrite === true) return { outDir, replace: true };
  const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, ... (${entries.length})` : '');
  throw new OutputPathError(
    `export: --out ${o.outDir} is not empty and not an earlier export (it holds ${shown}); nothing was written. ` +
      'Choose a new or empty folder, or give --overwrite to replace the folder with the export',
  );
}

/**
 * Writes the export folder; returns what was written. Everything is written into a staging
 * folder beside `--out` and verified there, then moved into place: a failure or Ctrl-C leaves
 * `--out` as it was.
 */
export async function exportModel(o: ExportOptions): Promise<ExportSummary> {
  if (!o.prompt || !o.prompt.trim()) throw new Error('export: --prompt is required (the prompt is baked into the model)');
  if (o.threshold !== undefined && !(o.threshold >= 0 && o.threshold <= 1))
    throw new Error(`export: --threshold must be a probability in [0, 1], got ${o.threshold}`);
  if (o.imageSize !== undefined && !(Number.isInteger(o.imageSize) && o.imageSize > 0))
    throw new Error(`export: --image-size must be a positive integer, got ${o.imageSize}`);
  const { outDir, replace } = checkExportOut(o);
  o.onStage?.('loading the model');
  const seg = await segmenterFor(o);
  let stage: StagingDir | null = null;
  try {
    seg.eval();
    // The text the model sees, as predict's loader gives it.
    const modelPrompt = (o.appendFullStop ?? true) ? withFullStop(o.prompt) : o.prompt;
    const text = seg.tokenize([modelPrompt]);
    const d = seg.describe();
    const ckptFingerprint = o.tuned ? sha256File(checkpointOf(o.tuned)) : null;
    const learner = String((d.learner as Record<string, unknown>).name);
    o.onStage?.('tracing the forward pass');
    const t0 = performance.now();
    const res = traceSegmenter(seg, text, {
      ...(o.fp16 ? { fp16: true } : {}),
      metadata: {
        prompt: o.prompt,
        model_prompt: modelPrompt,
        family: String(d.family),
        learner,
        base_model: String((d.base as Record<string, unknown>).id),
        ...(ckptFingerprint ? { checkpoint: ckptFingerprint } : {}),
      },
      docString: `tunevlseg ${String(d.family)} + ${learner}, prompt ${JSON.stringify(o.prompt)}`,
      ...(o.onStage ? { onPhase: (p: string) => o.onStage!(`  ${p}`) } : {}),
    });
    stage = await StagingDir.create(outDir, { replace });
    const dir = stage.dir;
    writeFileSync(join(dir, 'model.onnx'), res.model);
    const traceSeconds = (performance.now() - t0) / 1000;
    const pre: PreprocessJson = {
      size: seg.info.imageSize,
      mean: [...seg.info.mean],
      std: [...seg.info.std],
      interpolation: 'bicubic (OpenCV INTER_CUBIC: Keys a = -0.75, half-pixel centres, no antialiasing), fit "fill"',
      layout: 'NCHW',
      channels: 'RGB',
      input: ONNX_INPUT,
      outputs: [...ONNX_OUTPUTS],
      threshold: o.threshold ?? 0.5,
      maskResize: 'bilinear, half-pixel centres, to the original image size; 8-bit quantised (round(p*255))',
      prompt: o.prompt,
      modelPrompt,
      weights: o.fp16 ? 'float16' : 'float32',
    };
    writeFileSync(join(dir, 'preprocess.json'), `${JSON.stringify(pre, null, 2)}\n`);
    writeFileSync(join(dir, 'README.md'), readme(o, d, pre, ckptFingerprint, res.model.byteLength));
    o.onStage?.('writing the web page');
    writeWebPage(dir);
    let verifiedMaxAbs: number | null = null;
    if (o.verify ?? true) {
      o.onStage?.('verifying with onnxruntime-node');
      verifiedMaxAbs = await verify(seg, text, dir);
    }
    dispose([text.inputIds, text.attentionMask]);
    await stage.commit();
    stage = null;
    return {
      outDir,
      modelBytes: res.model.byteLength,
      traceSeconds,
      nodes: Object.values(res.nodeCounts).reduce((a, b) => a + b, 0),
      verifiedMaxAbs,
      family: String(d.family),
      learner,
    };
  } finally {
    await stage?.abort();
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
