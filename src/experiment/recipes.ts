/**
 * `--recipe`: the overrides of the original's run scripts (naamiinepal/tunevlseg @ 7956bcd,
 * `scripts/schedule_*.sh`), so that `sweep` and `bench` can run what the authors ran.
 *
 * Each learner's registry entry lists the scripts' active (uncommented) commands that train it, as
 * of that commit (`originalRunScripts`); this module reads them from there. What they
 * override, and what it becomes here:
 * - `trainer.precision=16-mixed` in every one, and `torch.set_float32_matmul_precision("medium")`
 *   that `src/models/__init__.py` runs on import (TF32 for float32 matmuls on CUDA):
 *   `precision: 16-mixed`, `tf32: on` for runs on CUDA (16-mixed needs CUDA here, and on CPU
 *   "medium" changes nothing the original's GPUs ran: CPU runs stay float32, with a note);
 * - `data.batch_size` and `+trainer.accumulate_grad_batches` where passed (some scripts define
 *   `accumulate_grad_batches=2` without passing it: schedule_maple.sh trains MaPLe in batches of
 *   16, one per step): `batchSize`, `effectiveBatchSize`. On CRIS with `quirks: reference` the
 *   frozen BatchNorms then normalise each 16-sample pass on its own, as they did in the original
 *   (the trainer says so);
 * - `model.net.use_new_last_layer=false` (Table 5's setup, no learnable upsampler) and
 *   `model.net.context_learner.context_initializer=null` (Table 4's Gaussian initialisation), as
 *   the script has them: `model.useNewLastLayer`, `model.contextInitializer`;
 * - `+trainer.val_check_interval=0.5` in the Cityscapes scripts: validation twice per epoch
 *   (early-stopping patience and the best checkpoint in half-epochs): `valCheckInterval: 0.5`,
 *   on the datasets the script ran (it is there for Cityscapes' size, not for the learner).
 * `+trainer.benchmark=true` (cuDNN autotuning: kernels chosen by timing) is not applied.
 *
 * `original-scripts` picks, for each model x learner x dataset, the script that ran it (where two
 * did, the one whose upsampler setting matches the cell's); a cell no script ran gets the
 * training setup of its learner and model family's script, without that script's model overrides.
 * A script's name (`schedule_vpt`) applies that script, whatever the cell.
 */
import { LEARNERS, LEARNER_NAMES, type OriginalRunScript } from '../learners/registry.js';
import type { BaseFamily, LearnerName } from '../learners/types.js';
import type { TrainConfigInput } from '../train/index.js';

/** The datasets of the scripts' `ds_name`s (the keys the entries' `originalRunScripts` use), told apart by their folder names. */
const DATASETS: readonly { key: string; ds: string; pattern: RegExp }[] = [
  { key: 'bkai', ds: 'bkai_polyp', pattern: /bkai/ },
  { key: 'clinicdb', ds: 'clinicdb_polyp', pattern: /clinic/ },
  { key: 'kvasir', ds: 'kvasir_polyp', pattern: /kvasir/ },
  { key: 'busi', ds: 'busi', pattern: /busi/ },
  { key: 'chexlocalize', ds: 'chexlocalize', pattern: /chex/ },
  { key: 'dfu', ds: 'dfu', pattern: /dfu/ },
  { key: 'isic', ds: 'isic', pattern: /isic/ },
  { key: 'camus', ds: 'camus', pattern: /camus/ },
  { key: 'cityscapes', ds: 'cityscapes_binarized', pattern: /cityscapes/ },
  { key: 'voc', ds: 'VOC2012_binarized', pattern: /voc|pascal/ },
];

interface RunScript extends OriginalRunScript {
  readonly learner: LearnerName;
}

/** The run scripts' active commands (schedule_e2e_* and schedule_zss.sh train no learner). */
/** The run scripts' active commands, each in the registry entry of the learner it trains (schedule_e2e_* and schedule_zss.sh train no learner). */
export const RUN_SCRIPTS: readonly RunScript[] = LEARNER_NAMES.flatMap((learner) =>
  (LEARNERS[learner].originalRunScripts ?? []).map((script) => ({ ...script, learner })),
);

export const RECIPE_NAMES: readonly string[] = ['original-scripts', ...new Set(RUN_SCRIPTS.map((s) => scriptName(s.file)))];

function scriptName(file: string): string {
  return file.replace(/^scripts\//, '').replace(/\.sh$/, '');
}

export interface RecipeCell {
  readonly learner: LearnerName;
  readonly family: BaseFamily;
  /** The dataset's name (bench's name=folder, else the folder's name). */
  readonly dataset: string;
  /** The cell's model section (its `useNewLastLayer` picks between two scripts of one cell). */
  readonly model: Readonly<Record<string, unknown>>;
  /** Whether the trials run on CUDA. */
  readonly cuda: boolean;
}

export interface RecipeResult {
  /** Top-level training-config keys to set. */
  readonly train: Record<string, unknown>;
  /** Keys of the `model` section to set. */
  readonly model: Record<string, unknown>;
  /** The script followed, or null. */
  readonly script: string | null;
  /** What the recipe did not or could not apply, and why; one line each. */
  readonly notes: string[];
}

/** Which of the scripts' datasets a dataset name is, or null. */
export function scriptDataset(name: string): string | null {
  const n = name.toLowerCase();
  return DATASETS.find((d) => d.pattern.test(n))?.key ?? null;
}

/** The overrides recipe `name` gives a cell; throws for an unknown recipe name. */
export function recipeFor(name: string, cell: RecipeCell): RecipeResult {
  const wanted = name.replace(/\.sh$/, '');
  if (!RECIPE_NAMES.includes(wanted)) throw new Error(`unknown recipe "${name}" (expected ${RECIPE_NAMES.join(', ')})`);
  const ds = scriptDataset(cell.dataset);
  const notes: string[] = [];
  let script: RunScript | undefined;
  let modelOverrides = true;
  if (wanted === 'original-scripts') {
    const ran = RUN_SCRIPTS.filter((s) => s.learner === cell.learner && s.family === cell.family && ds !== null && s.datasets.includes(ds));
    const noUpsampler = cell.model.useNewLastLayer === false;
    script = ran.find((s) => (s.noUpsampler === true) === noUpsampler) ?? ran[0];
    if (!script) {
      script = RUN_SCRIPTS.find((s) => s.learner === cell.learner && s.family === cell.family);
      modelOverrides = false;
      if (script)
        notes.push(
          `no run script ran ${cell.family} x ${cell.learner} on ${ds ?? `"${cell.dataset}"`}: using the training setup of ${script.file} (same learner and model), without its model overrides`,
        );
      else notes.push(`no run script trains ${cell.learner} on ${cell.family}: only the scripts' precision settings apply`);
    }
  } else {
    script =
      RUN_SCRIPTS.find((s) => scriptName(s.file) === wanted && s.learner === cell.learner && s.family === cell.family) ??
      RUN_SCRIPTS.find((s) => scriptName(s.file) === wanted);
    if (script && (script.learner !== cell.learner || script.family !== cell.family)) {
      notes.push(
        `${script.file} trains ${script.family} x ${script.learner}, this run is ${cell.family} x ${cell.learner}: its training setup applies, not its model overrides`,
      );
      modelOverrides = false;
    }
  }
  const train: Record<string, unknown> = {};
  const model: Record<string, unknown> = {};
  if (cell.cuda) {
    train.precision = '16-mixed';
    train.tf32 = 'on';
  } else {
    notes.push('the scripts train in 16-mixed precision with TF32 matmuls, which are CUDA settings: on CPU the trials run in float32');
  }
  if (script) {
    train.batchSize = script.batchSize;
    train.effectiveBatchSize = script.batchSize * script.accumulate;
    if (modelOverrides && script.noUpsampler) model.useNewLastLayer = false;
    if (modelOverrides && script.gaussianInit) model.contextInitializer = null;
    if (modelOverrides && script.noUpsampler && cell.model.useNewLastLayer !== false) {
      notes.push(`${script.file} runs without the learnable upsampler (use_new_last_layer=false: Table 5's setup)`);
    }
    if (script.valCheckInterval !== undefined) {
      if (ds !== null && script.datasets.includes(ds)) train.valCheckInterval = script.valCheckInterval;
      else
        notes.push(
          `${script.file} validates every ${script.valCheckInterval} epoch on ${script.datasets.join(', ')} (val_check_interval); not applied to ${ds ?? `"${cell.dataset}"`}`,
        );
    }
  }
  return { train, model, script: script?.file ?? null, notes };
}

/** Whether trials train on CUDA: the devices given, else the config's device (auto: CUDA when libtorch sees one). */
export async function trialsOnCuda(devices: readonly (string | null)[] | null, configDevice: unknown): Promise<boolean> {
  if (devices !== null && devices.every((d) => d !== null)) return devices.every((d) => (d as string).startsWith('cuda'));
  if (typeof configDevice === 'string' && configDevice !== 'auto') return configDevice.startsWith('cuda');
  const { runtimeInfo } = await import('../torch/index.js');
  return runtimeInfo().cudaDeviceCount > 0;
}

/**
 * A base training config with a recipe's overrides (recipes.ts) applied; each note goes to
 * `log`. The file's (or the caller's) keys stay where the recipe sets nothing.
 */
export function withRecipe(
  base: TrainConfigInput,
  recipe: string,
  cell: Omit<RecipeCell, 'model'>,
  log: (line: string) => void,
): TrainConfigInput {
  const model = (base.model ?? {}) as Record<string, unknown>;
  const r = recipeFor(recipe, { ...cell, model });
  const set = Object.entries({ ...r.train, ...Object.fromEntries(Object.entries(r.model).map(([k, v]) => [`model.${k}`, v])) }).map(
    ([k, v]) => `${k}=${JSON.stringify(v)}`,
  );
  log(`recipe ${recipe}: ${r.script ?? 'no script'}${set.length ? `: ${set.join(', ')}` : ''}`);
  for (const n of r.notes) log(`recipe ${recipe}: ${n}`);
  return { ...base, ...r.train, model: { ...model, ...r.model } } as TrainConfigInput;
}
