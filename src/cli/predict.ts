// `tunevlseg predict`: masks, probability maps and overlays at each image's original size,
// zero-shot from a base model (`--model`) or from a tuned checkpoint (`--tuned`).
import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { predictFolder } from '../inference/predict.js';
import { requireRegularFile, assertNoOverwrite } from '../util/output-guard.js';
import { moduleDevice } from '../inference/forward.js';
import { applyTf32For, type Precision } from '../inference/precision.js';
import { PRECISIONS, TF32_MODES } from '../inference/precision-modes.js';
import { parseClassList, predictClasses } from '../inference/multiclass.js';
import type { Segmenter } from '../tuning/segmenter.js';
import { modelFlagConfig, checkModelKeys } from './model-flag.js';
import { checkpointOf } from '../train/run-folder.js';
import { MODEL_FLAG_HELP, examples, flag, oneOf, option } from './flags.js';

export interface PredictCliOptions {
  /** `--model` values: a base model and/or key=value model config keys. */
  model?: string[];
  tuned?: string;
  prompt?: string;
  prompts?: string;
  out: string;
  tokenizer?: string;
  imageSize?: number;
  batchSize?: number;
  threshold?: string;
  overlays: boolean;
  device?: string;
  quiet?: boolean;
  randomWeights?: boolean;
  onnx?: string;
  precision?: string;
  tf32?: string;
}

/** One folder, or image files read where they are (no copies: errors name the user's files). */
function inputSet(inputs: string[]): { input: string; images?: string[] } {
  const isDir = (f: string): boolean => {
    try {
      return statSync(f).isDirectory();
    } catch {
      return false;
    }
  };
  if (inputs.length === 1 && isDir(inputs[0]!)) return { input: resolve(inputs[0]!) };
  const dir = inputs.find(isDir);
  if (dir !== undefined) throw new Error(`predict: give either one folder or image files, not both (${dir} is a folder)`);
  for (const f of inputs) requireRegularFile(f, 'predict');
  return { input: '.', images: inputs };
}

export async function predict(inputs: string[], o: PredictCliOptions): Promise<string> {
  if (inputs.length === 0) throw new Error('predict: give image files or a folder of images');
  if (o.onnx) return predictWithOnnx(inputs, o);
  if (!o.prompt && !o.prompts) throw new Error('predict: --prompt is required (e.g. --prompt "polyp"), or --prompts "a,b,c" for several classes');
  const model = modelFlagConfig(o.model ?? []);
  if (model.model === undefined && !o.tuned) throw new Error('predict: give --model <preset|folder|hub id> (zero-shot) or --tuned <checkpoint.safetensors | run folder>');
  checkModelKeys(model, '--model');
  const source = inputSet(inputs);
  if (o.prompts) {
    if (source.images) throw new Error('predict --prompts: give one folder of images (several classes are predicted per folder)');
    // Several classes write under --out too: never inside the input folder.
    assertNoOverwrite({ command: 'predict', outputs: [resolve(o.out)], inputs: [], protectedDirs: [{ dir: source.input, what: 'the input folder' }], hint: 'choose an --out folder outside the inputs' });
  }
  const { buildSegmenter } = await import('../tuning/factory.js');
  const { loadTuned } = await import('../tuning/checkpoint.js');
  let seg: Segmenter;
  if (o.tuned) {
    const { model: base, ...overrides } = model;
    seg = (await loadTuned(checkpointOf(o.tuned), base as string | undefined, { ...overrides, ...(o.device ? { device: o.device } : {}) })).segmenter;
  } else {
    seg = await buildSegmenter({
      learner: 'none',
      ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
      ...(o.imageSize ? { imageSize: o.imageSize } : {}),
      ...(o.device ? { device: o.device } : {}),
      ...(o.randomWeights ? { randomWeights: true } : {}),
      ...model,
    });
  }
  seg.eval();
  const precision = (o.precision ?? '32') as Precision;
  if (!PRECISIONS.includes(precision)) throw new Error(`predict: --precision must be one of ${PRECISIONS.join(', ')}, got '${o.precision}'`);
  const tf32 = o.tf32 ?? 'auto';
  if (!(TF32_MODES as readonly string[]).includes(tf32)) throw new Error(`predict: --tf32 must be one of ${TF32_MODES.join(', ')}, got '${tf32}'`);
  applyTf32For(tf32 as (typeof TF32_MODES)[number], moduleDevice(seg));
  const bar = o.quiet || !process.stderr.isTTY ? null : new SingleBar({ format: 'predict |{bar}| {value}/{total} images | {rate} images/s | ETA {eta}s', stream: process.stderr }, Presets.shades_classic);
  // Ctrl-C: exit at once; predictFolder's exit hook removes the outputs this call wrote.
  const onSigint = (): void => process.exit(130);
  process.once('SIGINT', onSigint);
  try {
    if (o.prompts) {
      const res = await predictClasses(seg, {
        input: source.input, classes: await parseClassList(o.prompts), outDir: resolve(o.out), precision,
        ...(o.batchSize ? { batchSize: o.batchSize } : {}),
        ...(o.threshold ? { threshold: Number.parseFloat(o.threshold) } : {}),
        onProgress: (done, total) => {
          if (!bar) return;
          if (done === 0 || bar.getTotal() !== total) bar.start(total, done);
          else bar.update(done);
        },
      });
      bar?.stop();
      if (!o.quiet) console.log(`${res.files.length} image(s): label maps <name>_labels.png (legend.json), one probability map per class under classes/`);
      return res.outDir;
    }
    const res = await predictFolder(seg, {
      ...source, prompt: o.prompt, outDir: resolve(o.out), overlays: o.overlays, precision,
      ...(o.batchSize ? { batchSize: o.batchSize } : {}),
      ...(o.threshold ? { threshold: Number.parseFloat(o.threshold) } : {}),
      onBatch: (_done, _total, p) => {
        if (!bar) return;
        const rate = { rate: p.imagesPerSecond.toFixed(2) };
        if (p.images === 0 || bar.getTotal() !== p.totalImages) bar.start(p.totalImages, p.images, rate);
        else bar.update(p.images, rate);
      },
    });
    bar?.stop();
    if (!o.quiet) console.log(`${res.files.length} image(s): masks, probability maps${o.overlays ? ' and overlays' : ''} at original size`);
    return res.outDir;
  } finally {
    process.off('SIGINT', onSigint);
    bar?.stop();
    seg.dispose();
  }
}

/** `--onnx <dir>`: the prompt is baked into the export (src/cli/predict-onnx.ts). */
async function predictWithOnnx(inputs: string[], o: PredictCliOptions): Promise<string> {
  if (o.prompt || o.prompts || (o.model ?? []).length > 0 || o.tuned) throw new Error('predict: --onnx takes no --prompt, --prompts, --model or --tuned (the export folder has its model and prompt)');
  const { predictOnnx } = await import('./predict-onnx.js');
  return predictOnnx(inputSet(inputs), { ...o, onnx: o.onnx! });
}

export function registerPredictCommand(program: Command): void {
  const cmd = program.command('predict <inputs...>')
    .description('segment images with a prompt: zero-shot (--model), tuned (--tuned) or exported (--onnx); writes <name>.png, <name>_prob.png, <name>_overlay.png at original size');
  option(cmd, '--prompt <text>', 'what to segment, e.g. "polyp" (not with --onnx: the export has its prompt)');
  option(cmd, '--prompts <list>', 'several classes: "a,b,c", @labels.txt or @<dataset dir>; writes a probability map per class and a label map (argmax, background below --threshold) with legend.json');
  flag(cmd, 'model', { help: `${MODEL_FLAG_HELP} (with --tuned: where its base model is)` });
  option(cmd, '--onnx <dir>', 'an export folder (tunevlseg export): runs its model.onnx with onnxruntime-node');
  option(cmd, '--tuned <ckpt>', 'a tuned checkpoint (.safetensors from tunevlseg train) or a run folder (its best checkpoint); --model overrides its base model location');
  flag(cmd, 'out', { default: 'predictions' });
  flag(cmd, 'tokenizer');
  flag(cmd, 'imageSize', { defaultText: 'the model\'s' });
  flag(cmd, 'batchSize', { default: 8 });
  option(cmd, '--threshold <p>', 'probability threshold of the binary mask (with --prompts: of the background; with --onnx: the export\'s preprocess.json threshold unless given)', { defaultText: '0.5' });
  option(cmd, '--no-overlays', 'skip the overlay PNGs');
  flag(cmd, 'device');
  option(cmd, '--random-weights', 'build the architecture with random weights (smoke tests; no weights read)');
  option(cmd, '--precision <p>', `autocast of the forward: ${PRECISIONS.join(' | ')}`, { default: '32', parse: oneOf(PRECISIONS) });
  option(cmd, '--tf32 <mode>', `TF32 math on CUDA: ${TF32_MODES.join(' | ')}`, { default: 'auto', parse: oneOf(TF32_MODES) });
  flag(cmd, 'quiet', { help: 'no progress bar' });
  examples(cmd, [
    'tunevlseg predict --model CIDAS/clipseg-rd64-refined --prompt polyp images/',
    'tunevlseg predict --tuned runs/k1 --prompt polyp --out masks images/a.jpg images/b.jpg',
    'tunevlseg predict --onnx polyp-export images/',
  ]);
  cmd.action(async (inputs: string[], o: PredictCliOptions) => {
    const out = await predict(inputs, o);
    console.log(out);
  });
}
