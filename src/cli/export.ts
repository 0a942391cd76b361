// `tunevlseg export`: a (tuned) segmenter with its prompt baked in, as model.onnx +
// preprocess.json + web/ + README.md (src/export/bundle.ts).
import type { Command } from 'commander';

export interface ExportCliOptions {
  tuned?: string;
  model?: string;
  prompt: string;
  out: string;
  fp16?: boolean;
  imageSize?: string;
  tokenizer?: string;
  threshold?: string;
  randomWeights?: boolean;
  overwrite?: boolean;
  verify: boolean;
  fullStop: boolean;
  quiet?: boolean;
}

export function registerExportCommand(program: Command): void {
  program.command('export')
    .description('export a tuned checkpoint (--tuned) or a base model (--model) with a fixed prompt to ONNX: model.onnx, preprocess.json, web/, README.md')
    .option('--tuned <ckpt>', 'a tuned checkpoint (.safetensors from tunevlseg train)')
    .option('--model <m>', 'base model: preset, local folder or hub id (with --tuned: where its base model lives)')
    .requiredOption('--prompt <text>', 'the prompt to bake in, e.g. "polyp"')
    .requiredOption('--out <dir>', 'output folder: new, empty, or an earlier export (replaced as a whole)')
    .option('--overwrite', 'replace a non-empty --out that is not an earlier export')
    .option('--fp16', 'store the weights in float16 (half the file; computed in float32)')
    .option('--image-size <n>', 'model input side (default: the model\'s)')
    .option('--tokenizer <dir>', 'tokenizer folder (vocab.json + merges.txt) when the model folder has none')
    .option('--threshold <p>', 'mask threshold written to preprocess.json', '0.5')
    .option('--random-weights', 'build the architecture with random weights (smoke tests; no weights read)')
    .option('--no-full-stop', 'bake the prompt as given (default: with "." appended, as predict and training feed it)')
    .option('--no-verify', 'skip comparing onnxruntime-node with libtorch on one image')
    .option('-q, --quiet', 'no progress lines')
    .action(async (o: ExportCliOptions) => {
      if (!o.tuned && !o.model) throw new Error('export: give --tuned <checkpoint.safetensors> or --model <preset|folder|hub id>');
      const { exportModel } = await import('../export/bundle.js');
      const r = await exportModel({
        prompt: o.prompt, outDir: o.out, verify: o.verify, appendFullStop: o.fullStop,
        ...(o.tuned ? { tuned: o.tuned } : {}), ...(o.model ? { model: o.model } : {}),
        ...(o.fp16 ? { fp16: true } : {}), ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
        ...(o.imageSize ? { imageSize: Number.parseInt(o.imageSize, 10) } : {}),
        ...(o.threshold ? { threshold: Number.parseFloat(o.threshold) } : {}),
        ...(o.randomWeights ? { randomWeights: true } : {}),
        ...(o.overwrite ? { overwrite: true } : {}),
        ...(o.quiet ? {} : { onStage: (s: string) => console.error(`export: ${s}…`) }),
      });
      if (!o.quiet) {
        console.log(`${r.family} + ${r.learner}: model.onnx ${(r.modelBytes / 2 ** 20).toFixed(2)} MiB, ${r.nodes} nodes, traced in ${r.traceSeconds.toFixed(1)} s; ` +
          (r.verifiedMaxAbs === null ? 'not verified (onnxruntime-node not installed)' : `max |logits(onnxruntime) - logits(libtorch)| = ${r.verifiedMaxAbs.toExponential(2)}`));
      }
      console.log(r.outDir);
    });
}
