// `tunevlseg predict`: masks, probability maps and overlays at each image's original size,
// zero-shot from a base model (`--model`) or from a tuned checkpoint (`--tuned`).
import type { Command } from 'commander';
import { mkdtempSync, rmSync, statSync, copyFileSync, existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { SingleBar, Presets } from 'cli-progress';
import { predictFolder } from '../train/index.js';
import { moduleDevice } from '../train/evaluate.js';
import { applyTf32For, type Precision } from '../train/precision.js';
import { PRECISIONS, TF32_MODES } from '../train/config.js';
import { parseClassList, predictClasses } from '../train/multiclass.js';
import type { Segmenter } from '../tuning/segmenter.js';

export interface PredictCliOptions {
  model?: string;
  tuned?: string;
  prompt?: string;
  prompts?: string;
  out: string;
  tokenizer?: string;
  imageSize?: string;
  batchSize?: string;
  threshold?: string;
  overlays: boolean;
  device?: string;
  quiet?: boolean;
  randomWeights?: boolean;
  precision?: string;
  tf32?: string;
}

/** One folder as predictFolder wants it: the folder itself, or a temporary copy of the given files. */
function inputFolder(inputs: string[]): { dir: string; cleanup: () => void } {
  if (inputs.length === 1 && statSync(inputs[0]!).isDirectory()) return { dir: resolve(inputs[0]!), cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'tvs-predict-'));
  const seen = new Set<string>();
  for (const f of inputs) {
    if (!existsSync(f)) throw new Error(`predict: ${f} does not exist`);
    if (statSync(f).isDirectory()) throw new Error(`predict: give either one folder or image files, not both (${f} is a folder)`);
    const name = basename(f);
    if (seen.has(name)) throw new Error(`predict: two inputs are named ${name}; predict them in separate calls or pass their folder`);
    seen.add(name);
    copyFileSync(resolve(f), join(dir, name));
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function predict(inputs: string[], o: PredictCliOptions): Promise<string> {
  if (inputs.length === 0) throw new Error('predict: give image files or a folder of images');
  if (!o.prompt && !o.prompts) throw new Error('predict: --prompt is required (e.g. --prompt "polyp"), or --prompts "a,b,c" for several classes');
  if (!o.model && !o.tuned) throw new Error('predict: give --model <preset|folder|hub id> (zero-shot) or --tuned <checkpoint.safetensors>');
  const { buildSegmenter } = await import('../tuning/factory.js');
  const { loadTuned } = await import('../tuning/checkpoint.js');
  let seg: Segmenter;
  if (o.tuned) {
    seg = (await loadTuned(o.tuned, o.model, o.device ? { device: o.device } : {})).segmenter;
  } else {
    seg = await buildSegmenter({
      model: o.model!, learner: 'none',
      ...(o.tokenizer ? { tokenizer: o.tokenizer } : {}),
      ...(o.imageSize ? { imageSize: Number.parseInt(o.imageSize, 10) } : {}),
      ...(o.device ? { device: o.device } : {}),
      ...(o.randomWeights ? { randomWeights: true } : {}),
    });
  }
  seg.eval();
  const precision = (o.precision ?? '32') as Precision;
  if (!PRECISIONS.includes(precision)) throw new Error(`predict: --precision must be one of ${PRECISIONS.join(', ')}, got '${o.precision}'`);
  const tf32 = o.tf32 ?? 'auto';
  if (!(TF32_MODES as readonly string[]).includes(tf32)) throw new Error(`predict: --tf32 must be one of ${TF32_MODES.join(', ')}, got '${tf32}'`);
  applyTf32For(tf32 as (typeof TF32_MODES)[number], moduleDevice(seg));
  const { dir, cleanup } = inputFolder(inputs);
  const bar = o.quiet || !process.stderr.isTTY ? null : new SingleBar({ format: 'predict |{bar}| {value}/{total} images | ETA {eta}s', stream: process.stderr }, Presets.shades_classic);
  try {
    if (o.prompts) {
      const res = await predictClasses(seg, {
        input: dir, classes: await parseClassList(o.prompts), outDir: resolve(o.out), precision,
        ...(o.batchSize ? { batchSize: Number.parseInt(o.batchSize, 10) } : {}),
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
      input: dir, prompt: o.prompt, outDir: resolve(o.out), overlays: o.overlays, precision,
      ...(o.batchSize ? { batchSize: Number.parseInt(o.batchSize, 10) } : {}),
      ...(o.threshold ? { threshold: Number.parseFloat(o.threshold) } : {}),
      onBatch: (done, total) => {
        if (!bar) return;
        if (done === 0 || bar.getTotal() !== total) bar.start(total, done);
        else bar.update(done);
      },
    });
    bar?.stop();
    if (!o.quiet) console.log(`${res.files.length} image(s): masks, probability maps${o.overlays ? ' and overlays' : ''} at original size`);
    return res.outDir;
  } finally {
    bar?.stop();
    cleanup();
    seg.dispose();
  }
}

export function registerPredictCommand(program: Command): void {
  program.command('predict <inputs...>')
    .description('segment images with a prompt: zero-shot (--model) or tuned (--tuned); writes <name>.png, <name>_prob.png, <name>_overlay.png at original size')
    .option('--prompt <text>', 'what to segment, e.g. "polyp"')
    .option('--prompts <list>', 'several classes: "a,b,c", @labels.txt or @<dataset dir>; writes a probability map per class and a label map (argmax, background below --threshold) with legend.json')
    .option('--model <m>', 'base model: preset (clipseg, rd64), local folder or hub id org/name[@rev]')
    .option('--tuned <ckpt>', 'a tuned checkpoint (.safetensors from tunevlseg train); --model overrides its base model location')
    .option('--out <dir>', 'output folder', 'predictions')
    .option('--tokenizer <dir>', 'tokenizer folder (vocab.json + merges.txt) when the model folder has none')
    .option('--image-size <n>', 'model input side (default: the model\'s)')
    .option('--batch-size <n>', 'images per forward', '8')
    .option('--threshold <p>', 'probability threshold of the binary mask (with --prompts: of the background)', '0.5')
    .option('--no-overlays', 'skip the overlay PNGs')
    .option('--device <d>', 'cpu, cuda or cuda:N')
    .option('--random-weights', 'build the architecture with random weights (smoke tests; no weights read)')
    .option('--precision <p>', `autocast of the forward [${PRECISIONS.join('|')}]`, '32')
    .option('--tf32 <mode>', `TF32 math on CUDA [${TF32_MODES.join('|')}]`, 'auto')
    .option('-q, --quiet', 'no progress bar')
    .action(async (inputs: string[], o: PredictCliOptions) => {
      const out = await predict(inputs, o);
      console.log(out);
    });
}
