// The layers of src/: the one description of the house. test/architecture.test.ts enforces it on
// the imports, and scripts/architecture/write.ts writes it into docs/architecture.md (a test keeps
// that page's table equal to what the script writes). A change of layering is a change here,
// then `npm run docs:architecture`.

export interface Layer {
  /** Position in the house: a layer imports only from itself and lower orders (never from a higher one). */
  order: number;
  /** Folders directly under src/ that make up the layer (equal orders share a layer). */
  folders: readonly string[];
  /** What lives there, as the page prints it (Markdown, one line). */
  holds: string;
}

export const LAYERS: readonly Layer[] = [
  {
    order: 0,
    folders: ['util'],
    holds:
      'the ground floor every layer may use, with no libtorch and nothing of segmentation: atomic file writes (`atomic-write.ts`), JSON helpers (`json.ts`), `package-root.ts` (where the package and its addons are; loads nothing), `suggest.ts` ("did you mean" for any list of names), `output-guard.ts` (what every command checks before it writes: no output onto an input, into a protected folder, or twice), `redact.ts`: the one place that keeps credentials (URL passwords, `HF_TOKEN`, `PGPASSWORD`) out of what is printed or written, and `shell-quote.ts`: the one way a command printed for pasting is quoted.',
  },
  {
    order: 1,
    folders: ['torch'],
    holds:
      'the typed face of the native addon (`native/`, C++): `Tensor`, dtypes, devices, creation ops, `tidy`/`noGrad`/`dispose`, safetensors read/write, the restricted torch.save (pickle) reader (`torch-pickle.ts`), `nn`, `optim`. Knows nothing of segmentation.',
  },
  {
    order: 2,
    folders: ['hub'],
    holds:
      'downloading and caching pretrained files (Hugging Face hub layout), and `offline-help.ts`: the ways on when a model file is neither cached nor reachable. Infrastructure: imports only `src/util` (and could import `src/torch`).',
  },
  {
    order: 3,
    folders: ['data'],
    holds:
      "dataset format, checks, image decoding, resizing, batching, loaders, synthetic data; `native-image.ts` is the face of the second, libtorch-free addon (`native/src/image`: libjpeg decoding and OpenCV's INTER_CUBIC). Knows no model.",
  },
  {
    order: 4,
    folders: ['models'],
    holds:
      '`clip/` (text and vision transformers, BPE tokenizer), `clipseg/`, `cris/` with its checkpoint key map (`key-map.ts`) and the `.pth` conversion (`convert.ts`); one preset table per family (`clipseg/config.ts`, `cris/config.ts`). Module and parameter names mirror the upstream checkpoints.',
  },
  {
    order: 5,
    folders: ['learners'],
    holds:
      "the context learners and the other tuning methods behind one interface, each one folder `<name>/` (`options.ts` its schema, `learner.ts` its class, `entry.ts` its registry entry) listed by one line in `builtins.ts`; the registry (`registry.ts`, without libtorch: the one description of a learner; `entry.ts` what an entry says), `classes.ts` (loads the classes, `createLearner`), what learners share (`base.ts`: the constructors' opening, context vectors, projections, `BaseLearner`; `options.ts`: option groups; `tunevlseg/`, `vlsm-adapter/`: each paper's shared entry pieces) and `reference.ts` (the reference names). Adding a learner = one folder + one line (docs/learners.md).",
  },
  {
    order: 6,
    folders: ['tuning'],
    holds:
      'the prompted segmenters (CLIPSeg, CRIS), the upsampler, `tiny-segmenter.ts` (a small segmenter for tests, benchmarks and smoke runs), and the factory split by job: `config.ts` (the model config), `base-model.ts` (preset, folder or hub id -> base model; the hub resolver is handed in), `factory.ts` (config -> segmenter), `checkpoint.ts` (reading, validating and loading a tuned checkpoint).',
  },
  {
    order: 7,
    folders: ['inference'],
    holds:
      'evaluation and prediction with any segmenter, and what training shares with them: the evaluation protocols and their names, Dice/IoU, the Dice+BCE loss, samples -> model inputs, augmentation, precision, the evaluation loop (`evaluate.ts`), `predictFolder` as plan / run / write (`prediction-inputs.ts`, `prediction-plan.ts`, `prediction-run.ts`, `prediction-write.ts`), several classes (`multiclass.ts`), the dataset CLIP embeddings of the t-SNE figure (`embeddings.ts`), and what `eval` and `predict` do as library functions (`evaluateCheckpoint`, `predictImages`).',
  },
  {
    order: 8,
    folders: ['train'],
    holds:
      "training only: the config (`config.ts`, torch-free `run-config.ts`), the trainer loop and its steps (`trainer.ts`, `epoch.ts`, `step.ts`), the reference defaults, 16-mixed's loss scaler, the non-finite guards, validation, checkpoints and resume states, the end-of-run evaluation (`final.ts`, through src/inference), how a run reads its val/test (`run-evaluation.ts`) and a run folder handed to evaluation (`eval-source.ts`), and `run-folder.ts`: the one definition of the run- and bench-folder layout (file names).",
  },
  {
    order: 9,
    folders: ['sweep'],
    holds:
      'TPE sampler, search spaces, pruners, study storage: the contract (`storage.ts`), its SQL implementation (`sql-storage.ts`), the SQLite and PostgreSQL drivers, and `open-storage.ts` (URL -> storage), importing one another in one direction. Knows no learner (it is the public `tunevlseg/sweep`).',
  },
  {
    order: 10,
    folders: ['experiment'],
    holds:
      "the orchestration that `sweep`, `worker` and `bench` run: trials (a sampled parameter set -> a training run), workers, TuneVLSeg's search spaces (`spaces.ts`), the benchmark grid and its cell ids.",
  },
  {
    order: 11,
    folders: ['report'],
    holds: 'result tables, figures, galleries, the HTML report; reads bench folders through `src/train/run-folder.ts`.',
  },
  {
    order: 12,
    folders: ['export'],
    holds:
      'ONNX export of a tuned segmenter, the static web page, and `serve.ts` (the page over http on 127.0.0.1, for `tunevlseg serve`).',
  },
  {
    order: 13,
    folders: ['demo', 'parity'],
    holds: 'the built-in demo; the parity runner and its case kinds. They call the same library code the CLI does.',
  },
  {
    order: 14,
    folders: ['cli'],
    holds:
      'the `tunevlseg` command: one file per subcommand; parses flags, calls one library function, prints. `flag-table.ts` declares the flags every command shares (the grammar of docs/cli.md), `flags.ts` adds them to a command; `program.ts` registers the commands, loading only the module of the one being run; no CLI module loads libtorch at import (its action imports the library: `test/cli-lazy.test.ts`); `progress.ts` draws the progress bars; `model-flag.ts` parses `--model`.',
  },
];

/** folder name under src/ -> its layer's order. */
export function layerOrders(layers: readonly Layer[] = LAYERS): Map<string, number> {
  return new Map(layers.flatMap((l) => l.folders.map((f) => [f, l.order] as const)));
}
