// `tunevlseg export`: a (tuned) segmenter with its prompt baked in, as model.onnx +
// preprocess.json + web/ + README.md (src/export/bundle.ts).
import type { Command } from 'commander';
import { examples, flag, option } from './flags.js';
import { shellCommand } from '../util/shell-quote.js';
import { checkModelKeys, modelFlagConfig } from './model-flag.js';

export interface ExportCliOptions {
  tuned?: string;
  /** `--model` values: a base model and/or key=value model config keys. */
  model: string[];
  prompt: string;
  out: string;
  fp16?: boolean;
  imageSize?: number;
  tokenizer?: string;
  threshold?: string;
  randomWeights?: boolean;
  overwrite?: boolean;
  verify: boolean;
  fullStop: boolean;
  quiet?: boolean;
}

export function registerExportCommand(program: Command): void {
  const cmd = program
    .command('export')
    .description(
      'export a tuned checkpoint (--tuned) or a base model (--model) with a fixed prompt to ONNX: model.onnx, preprocess.json, web/, README.md',
    );
  option(cmd, '--tuned <ckpt>', 'a tuned checkpoint (.safetensors from tunevlseg train) or a run folder (its best checkpoint)');
  flag(cmd, 'model', {
    help: 'base model (preset, folder or hub id) or key=value for a model config key; repeatable; with --tuned: where its base model lives. Training-only keys (frozenCacheMb) are ignored',
  });
  option(cmd, '--prompt <text>', 'the prompt to bake in, e.g. "polyp"', { required: true });
  flag(cmd, 'out', { required: true, help: 'output folder: new, empty, or an earlier export (replaced as a whole)' });
  flag(cmd, 'overwrite', { help: 'replace a non-empty --out that is not an earlier export' });
  option(cmd, '--fp16', 'store the weights in float16 (half the file; computed in float32)');
  flag(cmd, 'imageSize', { defaultText: "the model's" });
  flag(cmd, 'tokenizer');
  option(cmd, '--threshold <p>', 'mask threshold written to preprocess.json', { default: '0.5' });
  option(cmd, '--random-weights', 'build the architecture with random weights (smoke tests; no weights read)');
  option(cmd, '--no-full-stop', 'bake the prompt as given (default: with "." appended, as predict and training feed it)');
  option(cmd, '--no-verify', 'skip comparing onnxruntime-node with libtorch on one image');
  flag(cmd, 'quiet', { help: 'no progress lines' });
  examples(cmd, [
    'tunevlseg export --tuned runs/k1 --prompt polyp --out polyp-export',
    'tunevlseg export --model CIDAS/clipseg-rd64-refined --prompt "a polyp" --out zero-shot --fp16',
  ]);
  cmd.action(async (o: ExportCliOptions) => {
    const { model: base, ...modelConfig } = modelFlagConfig(o.model);
    checkModelKeys(modelConfig, '--model');
    if (!o.tuned && base === undefined)
      throw new Error('export: give --tuned <checkpoint.safetensors | run folder> or --model <preset|folder|hub id>');
    const { exportModel } = await import('../export/bundle.js');
    const r = await exportModel({
      prompt: o.prompt,
      outDir: o.out,
      verify: o.verify,
      appendFullStop: o.fullStop,
      ...(o.tuned ? { tuned: o.tuned } : {}),
      ...(base !== undefined ? { model: String(base) } : {}),
      modelConfig,
      ...(o.fp16 ? { fp16: true } : {}),
      ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
      ...(o.imageSize ? { imageSize: o.imageSize } : {}),
      ...(o.threshold ? { threshold: Number.parseFloat(o.threshold) } : {}),
      ...(o.randomWeights ? { randomWeights: true } : {}),
      ...(o.overwrite ? { overwrite: true } : {}),
      ...(o.quiet ? {} : { onStage: (s: string) => console.error(`export: ${s}…`) }),
    });
    if (!o.quiet) {
      console.log(
        `${r.family} + ${r.learner}: model.onnx ${(r.modelBytes / 2 ** 20).toFixed(2)} MiB, ${r.nodes} nodes, traced in ${r.traceSeconds.toFixed(1)} s; ` +
          (r.verifiedMaxAbs === null
            ? 'not verified (onnxruntime-node not installed)'
            : `max |logits(onnxruntime) - logits(libtorch)| = ${r.verifiedMaxAbs.toExponential(2)}`),
      );
      console.log(`web page: ${shellCommand(['tunevlseg', 'serve', r.outDir])}`);
    }
    console.log(r.outDir);
  });
}
