// `tunevlseg predict`: masks, probability maps and overlays at each image's original size,
// zero-shot from a base model (`--model`), from a tuned checkpoint (`--tuned`) or with an export
// folder (`--onnx`). Parses flags, calls `predictImages` (src/inference) or `predictWithExport`
// (src/export) and prints; nothing here loads libtorch until the command runs.
import type { Command } from 'commander';
import { checkpointOf } from '../train/run-folder.js';
import type { Precision } from '../inference/precision-modes.js';
import { MODEL_FLAG_HELP, examples, flag, option } from './flags.js';
import { modelFlagConfig, checkModelKeys } from './model-flag.js';
import { predictionFlags } from './prediction-flags.js';
import { progressOf } from './progress.js';

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
  threshold?: number;
  overlays: boolean;
  device?: string;
  quiet?: boolean;
  randomWeights?: boolean;
  onnx?: string;
  precision?: Precision;
  tf32?: 'auto' | 'on' | 'off';
}

/** What `tunevlseg predict` does, as a function: prints a line unless quiet and returns the output folder. */
export async function predict(inputs: string[], o: PredictCliOptions): Promise<string> {
  const progress = progressOf('predict', 'images', { quiet: o.quiet, rate: true });
  try {
    if (o.onnx) {
      if (o.prompt || o.prompts || (o.model ?? []).length > 0 || o.tuned)
        throw new Error('predict: --onnx takes no --prompt, --prompts, --model or --tuned (the export folder has its model and prompt)');
      const { predictWithExport } = await import('../export/predict-onnx.js');
      const r = await withSigint(() => predictWithExport(inputs, { ...o, onnx: o.onnx!, onProgress: progress.onProgress }));
      progress.stop();
      if (!o.quiet)
        console.log(
          `${r.images} image(s) with ${o.onnx}/model.onnx (prompt "${r.prompt}"): masks, probability maps${o.overlays ? ' and overlays' : ''} at original size`,
        );
      return r.outDir;
    }
    const model = modelFlagConfig(o.model ?? []);
    checkModelKeys(model, '--model');
    const { predictImages } = await import('../inference/predict-images.js');
    const r = await withSigint(() =>
      predictImages(inputs, {
        ...o,
        model,
        tuned: o.tuned ? checkpointOf(o.tuned) : undefined,
        precision: o.precision ?? '32',
        tf32: o.tf32 ?? 'auto',
        onProgress: progress.onProgress,
      }),
    );
    progress.stop();
    if (!o.quiet) {
      console.log(
        r.classes
          ? `${r.images} image(s): label maps <name>_labels.png (legend.json), one probability map per class under classes/`
          : `${r.images} image(s): masks, probability maps${o.overlays ? ' and overlays' : ''} at original size`,
      );
    }
    return r.outDir;
  } finally {
    progress.stop();
  }
}

/** Ctrl-C exits at once; predictFolder's exit hook removes the outputs this call wrote. */
async function withSigint<T>(fn: () => Promise<T>): Promise<T> {
  const onSigint = (): void => process.exit(130);
  process.once('SIGINT', onSigint);
  try {
    return await fn();
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function registerPredictCommand(program: Command): void {
  const cmd = program
    .command('predict <inputs...>')
    .description(
      'segment images with a prompt: zero-shot (--model), tuned (--tuned) or exported (--onnx); writes <name>.png, <name>_prob.png, <name>_overlay.png at original size',
    );
  flag(cmd, 'model', { help: `${MODEL_FLAG_HELP} (with --tuned: where its base model is)` });
  option(cmd, '--onnx <dir>', 'an export folder (tunevlseg export): runs its model.onnx with onnxruntime-node');
  option(
    cmd,
    '--tuned <ckpt>',
    'a tuned checkpoint (.safetensors from tunevlseg train) or a run folder (its best checkpoint); --model overrides its base model location',
  );
  predictionFlags(cmd, {
    prompt: { help: 'what to segment, e.g. "polyp" (not with --onnx: the export has its prompt)' },
    prompts: {
      help: 'several classes: "a,b,c", @labels.txt or @<dataset dir>; writes a probability map per class and a label map (argmax, background below --threshold) with legend.json',
    },
    out: { default: 'predictions' },
    overlays: { help: 'skip the overlay PNGs' },
    batchSize: { default: 8 },
    imageSize: { defaultText: "the model's" },
    threshold: {
      help: "probability threshold of the binary mask (with --prompts: of the background; with --onnx: the export's preprocess.json threshold unless given)",
      defaultText: '0.5',
    },
    precision: { default: '32' },
    tf32: { default: 'auto' },
  });
  flag(cmd, 'tokenizer');
  flag(cmd, 'device');
  option(cmd, '--random-weights', 'build the architecture with random weights (smoke tests; no weights read)');
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
