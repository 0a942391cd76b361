/**
 * Every shared concept of the flag grammar (docs/cli.md): its one spelling, its help, its value
 * check and its old spellings. Commands take them with `flag(cmd, name)` (flags.ts).
 */
import { PRECISIONS, TF32_MODES } from '../inference/precision-modes.js';
import { collect, learnerList, learnerName, nonNegativeInt, oneOf, positiveInt, probability, type Parse } from './flag-values.js';

/** Help text of `--model`, the same in every command (src/cli/model-flag.ts parses its values). */
export const MODEL_FLAG_HELP = 'base model (preset, folder or hub id org/name[@rev]) or key=value for any model config key; repeatable';

export interface FlagSpec {
  /** Commander flags, e.g. `--dataset <dir>`. */
  flags: string;
  help: string;
  parse?: Parse;
  /** Repeatable: values collect into an array (`[]` when not given; never printed as a default). */
  repeatable?: boolean;
  /** Old spellings still accepted (hidden, with a deprecation note). */
  old?: readonly string[];
}

/** Every shared concept, its one spelling and its help (docs/cli.md lists them). */
export const FLAGS = {
  dataset: { flags: '--dataset <dir>', help: 'dataset folder (images/, masks/, anns/; docs/data.md)', old: ['--data', '--data-dir'] },
  datasets: { flags: '--datasets <list>', help: 'comma-separated dataset folders, each optionally name=folder' },
  model: { flags: '--model <m>', help: MODEL_FLAG_HELP, parse: collect, repeatable: true },
  models: { flags: '--models <list>', help: 'comma-separated base models (preset, folder or hub id), each optionally name=spec' },
  learner: { flags: '--learner <name>', help: 'context learner (the registry: docs/learners.md)', parse: learnerName() },
  learners: { flags: '--learners <list>', help: 'comma-separated learners, or all', parse: learnerList },
  imageSize: {
    flags: '--image-size <n>',
    help: 'model input side in pixels',
    parse: positiveInt('--image-size'),
    old: ['--img-size', '--data-image-size'],
  },
  loaderThreads: {
    flags: '--loader-threads <n>',
    help: 'data-loader threads that decode and resize images (0: on the main thread)',
    parse: nonNegativeInt('--loader-threads'),
    old: ['--workers', '--data-workers'],
  },
  workers: { flags: '--workers <n>', help: 'worker processes on this machine, each running trials', parse: positiveInt('--workers') },
  devices: {
    flags: '--devices <list>',
    help: 'one worker process per device: cuda:0,cuda:1,... or all (every CUDA device); cpu,cpu for CPU processes',
  },
  device: { flags: '--device <d>', help: 'cpu, cuda or cuda:<n>' },
  threads: {
    flags: '--threads <n>',
    help: 'libtorch threads (TUNEVLSEG_THREADS sets it for every command)',
    parse: positiveInt('--threads'),
  },
  quirks: {
    flags: '--quirks <mode>',
    help: "reference (the original code's behaviour, docs/quirks.md) | fixed (what the paper says)",
    parse: oneOf(['reference', 'fixed']),
  },
  config: { flags: '-c, --config <file>', help: 'YAML or JSON training config (keys as in docs/train.md)' },
  out: { flags: '--out <dir>', help: 'output folder' },
  overwrite: { flags: '--overwrite', help: 'replace an earlier output of this command in the same place' },
  seed: { flags: '--seed <n>', help: 'seed', parse: nonNegativeInt('--seed') },
  batchSize: { flags: '--batch-size <n>', help: 'images per forward pass', parse: positiveInt('--batch-size') },
  tokenizer: { flags: '--tokenizer <dir>', help: 'tokenizer folder (vocab.json + merges.txt) or hub id, when the model folder has none' },
  storage: { flags: '--storage <url>', help: 'study storage: sqlite:<file> or postgres://...' },
  quiet: { flags: '-q, --quiet', help: 'less output: no progress bars' },
  prompt: { flags: '--prompt <text>', help: 'what to segment, e.g. "polyp"' },
  prompts: {
    flags: '--prompts <list>',
    help: 'several classes: "a,b,c", @labels.txt or @<dataset dir>; a label map (argmax over the classes, background below --threshold)',
  },
  threshold: {
    flags: '--threshold <p>',
    help: 'probability threshold of the binary masks and of Dice/IoU',
    parse: probability('--threshold'),
  },
  overlays: { flags: '--no-overlays', help: 'do not write overlay images' },
  precision: { flags: '--precision <p>', help: `autocast of the forward: ${PRECISIONS.join(' | ')}`, parse: oneOf(PRECISIONS) },
  tf32: { flags: '--tf32 <mode>', help: `TF32 math on CUDA: ${TF32_MODES.join(' | ')}`, parse: oneOf(TF32_MODES) },
  json: { flags: '--json', help: 'print the result as one JSON object' },
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAGS;
