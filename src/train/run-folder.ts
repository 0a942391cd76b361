/**
 * The one definition of what a run folder and a bench folder hold, by file name. The trainer,
 * `eval`, the grid runner (src/experiment) and the report reader (src/report) all name files
 * through these, so a layout change is one edit here.
 *
 * A run folder (`<runsDir>/<name>/`, one training run):
 *   config.json            the resolved training config
 *   metrics.jsonl          one line per epoch
 *   summary.json           written last: its presence means "finished"
 *   checkpoints/best.safetensors, checkpoints/last.safetensors   tuned checkpoints
 *   checkpoints/resume/state.safetensors                         what --resume continues from
 *   eval/<split>.json      the final evaluation
 * A grid cell adds `trials.jsonl` (its sweep's trials) and `predictions/` (test-set masks).
 *
 * A bench folder (`tunevlseg bench --out <dir>`, read by `tunevlseg report`):
 *   bench.json             the grid (models, learners, datasets, ablations, specs, trials)
 *   cells/<cell id>/       one finished run folder per cell (the best trial's, plus the above)
 *   trials/<cell id>-<key>/trial-NNN/   every trial's run folder (key: the cell study's identity, src/experiment/trial.ts)
 *   embeddings/<dataset>.json     CLIP embeddings for the t-SNE figure
 *   studies.db             the cells' sweep studies (default SQLite storage)
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

/** File and folder names inside a run folder. */
export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  summary: 'summary.json',
  checkpoints: 'checkpoints',
  best: path.join('checkpoints', 'best.safetensors'),
  last: path.join('checkpoints', 'last.safetensors'),
  resume: path.join('checkpoints', 'resume', 'state.safetensors'),
  eval: 'eval',
  trials: 'trials.jsonl',
  predictions: 'predictions',
} as const;

/** File and folder names inside a bench folder. */
export const BENCH_FILES = {
  grid: 'bench.json',
  cells: 'cells',
  trials: 'trials',
  embeddings: 'embeddings',
  studies: 'studies.db',
} as const;

export interface RunFiles {
  dir: string;
  config: string;
  metrics: string;
  summary: string;
  best: string;
  last: string;
  resume: string;
  evalDir: string;
  trials: string;
  predictions: string;
}

/** The paths of a run folder's files. */
export function runFiles(runDir: string): RunFiles {
  const p = (rel: string): string => path.join(runDir, rel);
  return {
    dir: runDir,
    config: p(RUN_FILES.config),
    metrics: p(RUN_FILES.metrics),
    summary: p(RUN_FILES.summary),
    best: p(RUN_FILES.best),
    last: p(RUN_FILES.last),
    resume: p(RUN_FILES.resume),
    evalDir: p(RUN_FILES.eval),
    trials: p(RUN_FILES.trials),
    predictions: p(RUN_FILES.predictions),
  };
}

/** The run folder of a configuration: `<runsDir>/<name>`, absolute. */
export function runDirOf(config: { runsDir: string; name: string }): string {
  return path.resolve(config.runsDir, config.name);
}

/** The resume state of a run folder. */
export const resumeFile = (runDir: string): string => path.join(runDir, RUN_FILES.resume);

export interface BenchFiles {
  dir: string;
  grid: string;
  cells: string;
  trials: string;
  embeddings: string;
  studies: string;
  /** A cell's folder. */
  cell(id: string): string;
  /** A dataset's embeddings file. */
  embeddingsOf(dataset: string): string;
}

/** The paths of a bench folder's files. */
export function benchFiles(benchDir: string): BenchFiles {
  const p = (rel: string): string => path.join(benchDir, rel);
  return {
    dir: benchDir,
    grid: p(BENCH_FILES.grid),
    cells: p(BENCH_FILES.cells),
    trials: p(BENCH_FILES.trials),
    embeddings: p(BENCH_FILES.embeddings),
    studies: p(BENCH_FILES.studies),
    cell: (id) => path.join(benchDir, BENCH_FILES.cells, id),
    embeddingsOf: (dataset) => path.join(benchDir, BENCH_FILES.embeddings, `${dataset}.json`),
  };
}

/** What `toTrialsJsonl` needs of a sweep trial (a `TrialRecord` of src/sweep fits). */
export interface TrialLike {
  readonly number: number;
  readonly seq?: number;
  readonly state: string;
  readonly params: Readonly<Record<string, unknown>> | null;
  readonly value: number | null;
  readonly attrs?: Readonly<Record<string, unknown>>;
}

const finite = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/**
 * A grid cell's `trials.jsonl` from its study's trials: one line per trial, with `testDice`
 * lifted from `attrs.testDice` (or `attrs.test.dice`) when the objective recorded it. The grid
 * writes it; src/report reads it back.
 */
export function toTrialsJsonl(trials: readonly TrialLike[]): string {
  return trials
    .map((t) => {
      const attrs = t.attrs ?? {};
      const test = attrs.test as { dice?: unknown } | null | undefined;
      const testDice = finite(attrs.testDice) ?? finite(test && typeof test === 'object' ? test.dice : undefined);
      return JSON.stringify({
        number: t.number,
        ...(t.seq !== undefined ? { seq: t.seq } : {}),
        state: t.state,
        params: t.params ?? {},
        value: t.value !== null && Number.isFinite(t.value) ? t.value : null,
        ...(testDice !== null ? { testDice } : {}),
        attrs,
      });
    })
    .map((l) => `${l}\n`)
    .join('');
}

/**
 * A tuned checkpoint given either as its file or as a run folder (its best checkpoint, or its
 * last with `which: 'last'`): what every command that takes a checkpoint accepts. Errors name
 * the path and what was looked for.
 */
export function checkpointOf(target: string, which: 'best' | 'last' = 'best'): string {
  let st;
  try {
    st = statSync(target);
  } catch {
    throw new Error(`${target}: no such checkpoint file or run folder`);
  }
  if (!st.isDirectory()) return path.resolve(target);
  const file = runFiles(path.resolve(target))[which];
  if (existsSync(file)) return file;
  const isRun = existsSync(path.join(target, RUN_FILES.config));
  throw new Error(
    `${target}: ${isRun ? `a run folder without a ${which} checkpoint yet` : 'a folder, but not a run folder'} (looked for ${file}); ` +
      'give a run folder of `tunevlseg train` or a .safetensors checkpoint',
  );
}
